import json,glob,statistics,collections
rows=collections.defaultdict(lambda: collections.defaultdict(list))
for f in sorted(glob.glob('raw/jdk*-*-*.json')):
    if not open(f).read().strip(): continue
    jdk,v,r=f[4:-5].split('-')
    for b in json.load(open(f)):
        name=b['benchmark'].split('.')[-2]+'.'+b['benchmark'].split('.')[-1]+'/'+','.join(f'{k}={x}' for k,x in b.get('params',{}).items())
        rows[(jdk,name)][v].extend(x for fork in b['primaryMetric']['rawData'] for x in fork)
        unit=b['primaryMetric']['scoreUnit']
for (jdk,name),d in sorted(rows.items()):
    b=d['before'];a=d['after']
    mb=statistics.median(b);ma=statistics.median(a)
    print(f"{jdk} {name:40s} before {mb:10.3f} (n={len(b)}, iqr {statistics.quantiles(b,n=4)[0]:.3f}-{statistics.quantiles(b,n=4)[2]:.3f})  after {ma:10.3f} (iqr {statistics.quantiles(a,n=4)[0]:.3f}-{statistics.quantiles(a,n=4)[2]:.3f})  after/before {ma/mb:.3f}")
