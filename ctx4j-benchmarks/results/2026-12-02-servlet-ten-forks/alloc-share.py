import sys, collections
tot = 0; own = collections.Counter(); filt = 0
for line in open(sys.argv[1]):
    stack, _, n = line.rstrip().rpartition(' ')
    n = int(n); tot += n
    frames = stack.split(';')
    idx = [i for i, f in enumerate(frames) if 'ContextServletFilter.doFilter' in f]
    if not idx:
        continue
    filt += n
    if any('Trivial.doGet' in f for f in frames):
        continue
    rest = frames[idx[0] + 1:]
    # skip the chain: frames through FilterChain / ServletHandler
    key = ' > '.join(f.split('/')[-1] for f in rest[:3]) + '  ::  ' + frames[-1]
    own[key] += n
print('total', tot, 'under doFilter', filt)
for k, v in own.most_common(40):
    print('%10d %5.1f%%  %s' % (v, 100.0 * v / tot, k))
