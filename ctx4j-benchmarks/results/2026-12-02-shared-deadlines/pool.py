#!/usr/bin/env python3
"""Pools the per-round rows of FilterLoad results.md files: median of per-round ratios against
`none` and a 95% percentile bootstrap interval (10,000 resamples, fixed seed), as FilterLoad does.
usage: pool.py results.md [results.md ...]"""
import random, re, statistics, sys
rows = []
for f in sys.argv[1:]:
    inrounds = False
    for line in open(f):
        if line.startswith('## Rounds'):
            inrounds = True
            continue
        if inrounds and re.match(r'^\| \d+ \|', line):
            c = [x.strip() for x in line.strip().strip('|').split('|')]
            # round, none rps, none p50/p99, filter rps, filter p50/p99, deadline rps, deadline p50/p99
            def p99(x): return float(x.split('/')[1])
            rows.append((float(c[1]), p99(c[2]), float(c[3]), p99(c[4]), float(c[5]), p99(c[6])))
def boot(vals, seed):
    rnd = random.Random(seed); n = len(vals)
    meds = sorted(statistics.median(rnd.choices(vals, k=n)) for _ in range(10000))
    return statistics.median(vals), meds[249], meds[9749]
print(f'{len(rows)} rounds from {len(sys.argv) - 1} file(s)')
for name, ri, pi in (('filter', 2, 3), ('filter+deadline', 4, 5)):
    t = [1 - r[ri] / r[0] for r in rows]
    q = [r[pi] / r[1] - 1 for r in rows]
    m, lo, hi = boot(t, 1); pm, plo, phi = boot(q, 2)
    print(f'{name:16s} throughput cost {100*m:+.1f}% [{100*lo:+.1f}, {100*hi:+.1f}]   p99 cost {100*pm:+.1f}% [{100*plo:+.1f}, {100*phi:+.1f}]')
