import sys,re,glob,statistics
base=sys.argv[1]
for side in 'ab':
    rows={'filter':[], 'filter+deadline':[]}
    for f in sorted(glob.glob(f'{base}/{side}/fork-*/results.md')):
        t={}
        for line in open(f):
            m=re.match(r'\| `([a-z+]+)` \| (\d+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| (\d+) \| ([\d.]+) \|',line)
            if m: t[m.group(1)]=(int(m.group(6)),float(m.group(7)))
        for c in rows:
            rows[c].append((t[c][0]-t['none'][0], t[c][1]-t['none'][1]))
    for c,v in rows.items():
        al=[x[0] for x in v]; cp=[x[1] for x in v]
        print(side,c,'alloc',al,'median',statistics.median(al),'| cpu',[round(x,2) for x in cp],'median',round(statistics.median(cp),2))
    r=f'{base}/{side}/results.md'
    try:
        sec=None
        for line in open(r):
            if line.startswith('## Cost of the filter per fork'): sec='fork'
            elif line.startswith('## Cost of the filter: median of per-round'): sec='round'
            elif line.startswith('## '): sec=None
            if sec and line.startswith('| `filter') and '%' in line:
                cells=[x.strip() for x in line.split('|')]
                if sec=='round': print('   round',cells[1],'thr',cells[5],'p99',cells[6],'cpu',cells[8])
                else: print('   fork ',cells[1],'thr',cells[2],'p99',cells[3],'cpu',cells[4])
    except FileNotFoundError: pass
