#!/usr/bin/env python3
"""Reads async-profiler's collapsed stacks of a FilterLoad run and splits the CPU samples taken in
ContextServletFilter.doFilter (outside the rest of the chain) by what they were doing.
usage: filter-frames.py FILE.collapsed (the full profile, or filter-stacks.collapsed: its
stacks from doFilter up, the chain below the filter and everything else folded into one line each)"""
import collections, sys

def classify(rest):
    j = ' '.join(rest)
    if 'IncomingDeadline' in j or 'deadlineCause' in j:
        return 'deadline only: read the timeout header'
    if 'withTimeoutCause' in j:
        if 'Instant.now' in j or 'javaTimeNanos' in j or 'System.nanoTime' in j:
            return 'deadline only: withTimeout, clock reads'
        if 'TimerWheel' in j or 'TimerThread' in j or 'scheduleAfter' in j or 'DeadlineContext.start' in j:
            return 'deadline only: withTimeout, timer scheduled'
        if 'ensureRegistered' in j or 'registerWith' in j:
            return 'deadline only: withTimeout, registration with the root'
        return 'deadline only: withTimeout, the rest (objects, settings, checks)'
    if 'afterDone' in j or 'Timer.stop' in j:
        return 'deadline only: timer stopped at the end'
    if 'RequestScope.end' in j and 'detach' in j:
        return 'deadline only: registration removed at the end'
    if 'Context.withCancel' in j:
        return 'filter only: withCancel'
    if 'RequestScope.end' in j:
        return 'both: the context cancelled at the end'
    if 'setAttribute' in j or 'getAttribute' in j:
        return 'both: request attribute'
    if 'ContainerHooks.attach' in j:
        return "both: Jetty's failure listener"
    if 'CurrentContext.call' in j or 'ContextServletFilter.invoke' in j:
        return 'both: the current context bound'
    return 'both: other'

total = 0
chain = 0
rows = collections.Counter()
for line in open(sys.argv[1]):
    stack, n = line.rstrip().rsplit(' ', 1)
    n = int(n)
    total += n
    frames = stack.split(';')
    at = [i for i, f in enumerate(frames) if 'ContextServletFilter.doFilter' in f]
    if not at:
        continue
    rest = frames[at[0] + 1:]
    if any('HttpServlet.service' in f or f == '(the chain below the filter)' for f in rest):
        chain += n
        continue
    rows[classify(rest)] += n
print(f'samples: {total} in all; {chain} in the chain below the filter')
print('| what | samples | share of one configuration\'s CPU |')
print('|---|---:|---:|')
# The run rotates three configurations in equal phases, so each had about a third of the CPU;
# `filter` and `filter+deadline` both run the rows marked "both".
third = total / 3
for k, v in sorted(rows.items()):
    share = v / (2 * third) if k.startswith('both') else v / third
    print(f'| {k} | {v} | {100 * share:.2f}% |')
for part in ('filter only', 'deadline only'):
    own = sum(v for k, v in rows.items() if k.startswith(part))
    print(f'{part}: {own} samples, {100 * own / third:.2f}% of its configuration')
both = sum(v for k, v in rows.items() if k.startswith('both'))
print(f'both: {both} samples, {100 * both / (2 * third):.2f}% of each configuration')
