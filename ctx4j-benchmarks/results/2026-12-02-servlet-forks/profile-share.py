#!/usr/bin/env python3
"""Shares of CPU samples in an async-profiler collapsed-stack file of a FilterLoad run.
usage: profile-share.py FILE.collapsed
Prints, for each part of the filter, the samples of stacks that contain its frame (a stack can
count for several parts), and the filter's own samples (stacks through ContextServletFilter.doFilter
that do not reach the rest of the chain), grouped by their first three frames."""
import collections, sys
parts = {
    'servlet (FilterLoad$Trivial.doGet)': 'FilterLoad$Trivial.doGet',
    'filter, chain included (ContextServletFilter.doFilter)': 'ContextServletFilter.doFilter',
    'deadline: SharedDeadlines.take': 'SharedDeadlines.take',
    '  of which creating a shared deadline (withDeadlineCause)': 'withDeadline',
    'deadline: IncomingDeadline (header read)': 'IncomingDeadline',
    'deadline: deadlineCause': 'ContextServletFilter.deadlineCause',
    'deadline: Entry.release': 'SharedDeadlines$Entry.release',
    'request attribute (setAttribute)': 'setAttribute',
    'container hooks (failure listener)': 'ContainerHooks.attach',
    'afterDispatch': 'ContextServletFilter.afterDispatch',
    'Context.withCancel': 'Context.withCancel',
}
total = 0
count = collections.Counter()
own = collections.Counter()
short = lambda f: f.split('/')[-1][:70]
for line in open(sys.argv[1]):
    stack, n = line.rsplit(' ', 1)
    n = int(n)
    total += n
    for name, frame in parts.items():
        if frame in stack:
            count[name] += n
    frames = stack.split(';')
    at = [i for i, f in enumerate(frames) if 'ContextServletFilter.doFilter' in f]
    if at:
        rest = frames[at[-1] + 1:]
        if not any('Trivial' in f or 'FilterChain' in f or 'Chain.doFilter' in f for f in rest):
            own[' > '.join(short(f) for f in rest[:3]) or '(doFilter itself)'] += n
print(f'samples in all: {total}')
for name in parts:
    print(f'{count[name]:7d} {100 * count[name] / total:6.2f}%  {name}')
print('\nthe filter\'s own samples (not in the rest of the chain), by first three frames:')
for k, v in own.most_common(25):
    print(f'{v:7d}  {k}')
