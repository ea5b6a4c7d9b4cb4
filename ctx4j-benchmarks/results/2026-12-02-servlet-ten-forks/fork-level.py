#!/usr/bin/env python3
"""Per-fork figures over all of a fork's requests (its own results.md), and a bootstrap over forks.

For each fork: throughput = requests / (sum of phase times) per configuration (from rounds.tsv),
p99 = the fork's pooled p99 over every request (results.md), server CPU per request (rounds.tsv).
Cost per fork = figure vs `none` in the same fork; median over forks and a 95% percentile bootstrap
interval of that median (10,000 resamples of the forks, fixed seed)."""
import glob, random, re, statistics as st, sys

def fork_figures(d):
    rows = [l.split('\t') for l in open(d + '/rounds.tsv').read().splitlines()[2:]]
    req = [0] * 3; el = [0] * 3; cpu = [0] * 3
    for r in rows:
        c = int(r[1]); req[c] += int(r[2]); el[c] += int(r[3])
        cpu[c] += int(r[7]) if len(r) > 7 else 0
    p99 = [None] * 3
    for line in open(d + '/results.md'):
        m = re.match(r'\| `([a-z+]+)` \| \d+ \| \d+ \| [\d.]+ \| ([\d.]+) \|', line)
        if m:
            p99[['none', 'filter', 'filter+deadline'].index(m.group(1))] = float(m.group(2))
    thr = [req[c] / el[c] for c in range(3)]
    return thr, p99, [cpu[c] / req[c] for c in range(3)]

def boot(values, seed=1):
    rnd = random.Random(seed); meds = []
    for _ in range(10000):
        meds.append(st.median(rnd.choice(values) for _ in values))
    meds.sort()
    return st.median(values), meds[249], meds[9749]

for run in sys.argv[1:]:
    forks = sorted(glob.glob(run + '/fork-*'), key=lambda p: int(p.rsplit('-', 1)[1]))
    figs = [fork_figures(f) for f in forks]
    print(f'## {run}: {len(forks)} forks')
    for c, name in ((1, 'filter'), (2, 'filter+deadline')):
        t = [100 * (1 - f[0][c] / f[0][0]) for f in figs]
        q = [100 * (f[1][c] / f[1][0] - 1) for f in figs]
        u = [100 * (f[2][c] / f[2][0] - 1) if f[2][0] else float("nan") for f in figs]
        fmt = lambda b: '%+.1f%% [%+.1f, %+.1f]' % b
        print(f'{name}: throughput {fmt(boot(t))}  p99 {fmt(boot(q, 2))}  server CPU {fmt(boot(u, 3))}')
        print('   per fork thr ' + ' '.join('%+.1f' % x for x in t))
        print('   per fork p99 ' + ' '.join('%+.1f' % x for x in q))
        print('   per fork cpu ' + ' '.join('%+.1f' % x for x in u))
