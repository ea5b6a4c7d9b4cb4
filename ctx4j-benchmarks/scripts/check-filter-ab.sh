#!/usr/bin/env bash
# Checks scripts/filter-ab.sh, the A/B of two builds under FilterLoad: two pairs of very short runs
# of one jar on both sides must alternate in ABBA order (a b, then b a), write each run's
# results.md and rounds.tsv under a/fork-K and b/fork-K, and report on each side; bad arguments
# (no pairs, a jar that does not exist) must be refused with exit status 2 and a message, before any
# run. Needs target/benchmarks.jar (run-benchmarks.sh --quick builds it). About 30 seconds.
#
#   scripts/check-filter-ab.sh [JDK_HOME]     default: $JAVA_HOME, else the java on PATH
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(dirname "$HERE")"
home="${1:-${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}}"
jar="$BENCH/target/benchmarks.jar"
[ -f "$jar" ] || { echo "check-filter-ab: no $jar (build it first)" >&2; exit 1; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
fail() { echo "check-filter-ab: $*" >&2; exit 1; }

refused() { # EXPECTED_MESSAGE ARGS...: filter-ab.sh must exit 2 with the message, running nothing
  local want=$1 rc
  shift
  set +e
  JAVA="$home/bin/java" "$HERE/filter-ab.sh" "$@" > "$out/refused.out" 2> "$out/refused.err"
  rc=$?
  set -e
  [ "$rc" = 2 ] || fail "filter-ab.sh $* exited $rc, expected 2: $(cat "$out/refused.out" "$out/refused.err")"
  grep -qF "$want" "$out/refused.err" || fail "filter-ab.sh $*: no \"$want\" in: $(cat "$out/refused.err")"
  [ ! -e "$out/bad/a/fork-1" ] || fail "filter-ab.sh $* ran a fork before refusing"
}
refused 'PAIRS must be a positive integer, got "0"' "$out/bad" "$jar" "$jar" 0
refused "no such jar: $out/missing.jar" "$out/bad" "$jar" "$out/missing.jar" 1

JAVA="$home/bin/java" JVM_OPTS="-Xms256m -Xmx256m" "$HERE/filter-ab.sh" "$out/ab" "$jar" "$jar" 2 \
  --client raw --rounds 2 --phase-ms 200 --warmup-ms 300 > "$out/ab.log" 2>&1 \
  || fail "filter-ab.sh failed: $(cat "$out/ab.log")"
order="$(grep -oE '(a|b) fork [0-9]+$' "$out/ab.log" | tr '\n' ' ')"
[ "$order" = "a fork 1 b fork 1 b fork 2 a fork 2 " ] || fail "runs not in ABBA order: $order"
for side in a b; do
  for k in 1 2; do
    for f in results.md rounds.tsv; do
      [ -s "$out/ab/$side/fork-$k/$f" ] || fail "missing $side/fork-$k/$f"
    done
  done
  grep -q "^## Cost of the filter per fork" "$out/ab/$side/results.md" \
    || fail "$side/results.md has no per-fork cost table: $(head -20 "$out/ab/$side/results.md")"
  grep -q "^| 2 | " "$out/ab/$side/results.md" || fail "$side/results.md does not list the second fork"
done
echo "check-filter-ab: ok (bad arguments refused, two pairs in ABBA order, a report per side)"
