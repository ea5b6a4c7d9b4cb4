#!/usr/bin/env bash
# Runs the ctx4j jcstress tests from the shaded jar.
#
#   run-jcstress.sh [--quick|--full|--canary] [extra jcstress options, e.g. -t CancelVsCancel]
#
#   --quick   (default) every test once, in one JVM configuration: C2 with its code-motion
#             randomizers on (-XX:+StressLCM -XX:+StressGCM -XX:+StressIGVN -XX:+StressCCP), jcstress
#             "quick" timing (5 iterations of 200 ms, one fork per test), no heap pre-touch. On a JDK
#             with biased locking (17 and older) jcstress runs every test twice, with and without it;
#             each run then gets iterations of 100 ms, so that a test samples 1 s on every JDK. About
#             1 to 1.5 minutes on a 2-core machine, depending on load and JDK. For CI.
#   --full    every test in jcstress "default" mode across all JVM configurations it detects
#             (split per-actor compilation, interpreter/C1/C2, C2 stress). Long: budget about
#             3 minutes per test on 2 cores on JDK 25, more on JDK 17.
#   --canary  runs only the planted-bug canaries, which MUST fail; exits 0 when jcstress caught
#             them, non-zero when it did not (the harness has lost its teeth).
#
# ASSERTS=1 adds -ea to the tested JVMs (--quick and --canary; --full passes it to every
# configuration), so that the invariants the code checks with assert are checked under the races
# too. Off by default: an assert's extra reads can order memory accesses that the code alone does
# not, and the point of the default run is the code as shipped.
#
# The JVM is $JAVA_HOME/bin/java if JAVA_HOME is set, else java on the PATH. The jar is built if
# missing (set REBUILD=1 to force). Reports go to ctx4j-jcstress/target/jcstress-results/<mode>*.
# Exit status: 0 when every test passed, non-zero on any failure or error.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
mode=quick
case "${1:-}" in
  --quick) mode=quick; shift ;;
  --full) mode=full; shift ;;
  --canary) mode=canary; shift ;;
  -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
esac

java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
jar="$here/target/jcstress.jar"
if [[ ! -f "$jar" || "${REBUILD:-0}" == 1 ]]; then
  # clean: an incremental compile regenerates META-INF/TestList without the unchanged tests.
  mvn -q -f "$here/pom.xml" clean package
fi
out="$here/target/jcstress-results"
mkdir -p "$out"
# Only the real tests (classes directly in io.ctx4j.jcstress), never the canaries, unless the caller
# chose tests with its own -t.
selection=(-t '^io\.ctx4j\.jcstress\.[A-Z][A-Za-z0-9]*$')
for arg in "$@"; do
  if [[ "$arg" == -t ]]; then
    selection=()
  fi
done

# Runs jcstress once; fails unless the summary line shows every planned test passed.
run() {
  local name="$1"; shift
  local log="$out/$name.log"
  echo "== jcstress $name: $*" >&2
  local rc=0
  # The working directory takes jcstress's result blob.
  (cd "$out" && "$java" -jar "$jar" -v -r "$out/$name" "$@") >"$log" 2>&1 || rc=$?
  local summary
  summary="$(grep -E '^\(Results: ' "$log" | tail -1 || true)"
  # Per test, the outcomes seen across configurations and how often: the figures to report.
  awk '/^\.+ \[[A-Z]+\] io\.ctx4j/ { test = $NF }
       /Results across all configurations:/ { on = 1; print test; next }
       on && /(Acceptable|Forbidden|Interesting)/ { print "    " $0; rows = 1; next }
       on && rows { on = 0; rows = 0 }' "$log" | tee "$out/$name-outcomes.txt" >&2
  echo "   $name: ${summary:-no summary line} (exit $rc; log $log)" >&2
  if [[ $rc -ne 0 ]] || ! grep -Eq '^\(Results: ([0-9]+) planned; \1 passed, 0 failed, 0 soft errs, 0 hard errs\)' <<<"$summary"; then
    grep -E '\[(FAILED|ERROR)\]' "$log" >&2 || true
    return 1
  fi
}

# One JVM mode instead of jcstress's matrix: the matrix costs ~14 forks per test on JDK 25.
# -pth false (quick and canary): pre-touching each fork's 256 MB heap cost 0.9 s per fork on JDK 17
# and 2.5 s on JDK 25, more than the 1 s of sampling (2026-12-06, 4 tests: 32 -> 25 s on JDK 17, 25
# -> 15 s on JDK 25); it steadies throughput, which a correctness run does not need.
quick_jvm="-XX:+UseParallelGC -XX:+UnlockDiagnosticVMOptions -XX:+StressLCM -XX:+StressGCM -XX:+StressIGVN -XX:+StressCCP"
full_extra=()
if [[ "${ASSERTS:-0}" == 1 ]]; then
  quick_jvm="$quick_jvm -ea"
  full_extra=(-jvmArgsPrepend -ea)
fi
# jcstress adds -XX:+UseBiasedLocking and -XX:-UseBiasedLocking to the configuration wherever the
# JVM still has the flag (JDK 17 and older; removed in 18), so every test forks twice there. Half
# the iteration time keeps the sampling per test at 1 s and saved about 0.5 s per fork (2026-12-07,
# JDK 17, 8 forks: 29 -> 25 s); the fork's start, not the sampling, is most of a fork's time.
quick_timing=()
spec="$("$java" -XshowSettings:properties -version 2>&1 | awk '/java.specification.version =/ {print $3}')"
if [[ "$spec" =~ ^(1\.[0-9]+|[0-9]|1[0-7])$ ]]; then
  quick_timing=(-time 100)
fi
start=$SECONDS
case "$mode" in
  quick)
    status=0
    run quick -m quick ${quick_timing[@]+"${quick_timing[@]}"} -sc false -pth false -jvmArgs "$quick_jvm" \
      "${selection[@]}" "$@" || status=1
    echo "quick mode: $((SECONDS - start)) s, status $status" >&2
    exit $status
    ;;
  full)
    run full -m default ${full_extra[@]+"${full_extra[@]}"} "${selection[@]}" "$@"
    echo "full mode: $((SECONDS - start)) s" >&2
    ;;
  canary)
    if run canary -m quick -sc false -pth false -jvmArgs "$quick_jvm" -t 'canary' "$@"; then
      echo "canary NOT caught: jcstress passed a planted bug" >&2
      exit 1
    fi
    echo "canary caught (as it must be): $((SECONDS - start)) s" >&2
    ;;
esac
