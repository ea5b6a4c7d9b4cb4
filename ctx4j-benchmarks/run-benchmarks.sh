#!/usr/bin/env bash
# Runs the ctx4j benchmarks against Go's context package, grpc-java's Context and kotlinx.coroutines'
# Job on JDK 17 and on JDK 25, and writes results/<date>/results.md + one ratios-jdk<N>.png per JDK
# (copied to results/latest/).
#
#   ./run-benchmarks.sh --quick     every benchmark once at its smallest size on one JDK ($JAVA_HOME,
#                                   else the java on PATH), in one JVM, plus one row in 2 forks so
#                                   that forking and the report's interval code run (about 30 s);
#                                   proves the suite still runs; exits non-zero if one fails.
#   ./run-benchmarks.sh             the full run, by hand on a quiet machine (about 2 h 30 min): Go's
#                                   `go test -bench . -benchmem -count 5 context` (installs Debian's
#                                   golang-go if missing, as root), then the JMH suite on each JDK of
#                                   --jdks, then the report.
#
# Options: --jdks "17 25" (feature versions of the full run, found by scripts/jdks.sh: JDK17_HOME,
#          JDK25_HOME, JAVA_HOME, /usr/lib/jvm, ...), --jdk DIR (one JDK only, by its home),
#          --no-go (use Go's committed reference numbers, go/reference/, instead of running Go),
#          --skip-build, --out DIR (default: results/<date>; only the default also refreshes
#          results/latest/ and the README table), --jmh-args "..." (extra JMH arguments, full mode,
#          e.g. "-p depth=1000"; they must not repeat the options below).
# Environment (full mode): MIRRORED_OPTS (default "-f 3 -wi 2 -w 1s -i 3 -r 1s"), SCALE_OPTS
#          (default "-f 3 -wi 1 -i 2"), GO_BENCH (default "."), GO_COUNT (default 5),
#          HEAP_OPTS (default "-Xms2g -Xmx2g -XX:+AlwaysPreTouch", given to every fork),
#          STAGES (default "mirrored spawn scale servlet"), MIRRORED_REGEX (default: every mirrored class),
#          FILTER_LOAD_ARGS (extra arguments of the servlet stage's FilterLoad, e.g. "--rounds 10").
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
MODE=full
RUN_GO=1
BUILD=1
OUT=""
EXTRA_JMH=""
ONE_JDK=""
JDKS="17 25"
# Forks are the independent samples of the report's intervals (see README, "Statistics"): three per
# row, each with 2 warm-up and 3 measured one-second iterations.
MIRRORED_OPTS="${MIRRORED_OPTS:--f 3 -wi 2 -w 1s -i 3 -r 1s}"
SCALE_OPTS="${SCALE_OPTS:--f 3 -wi 1 -i 2}"
GO_BENCH="${GO_BENCH:-.}"
GO_COUNT="${GO_COUNT:-5}"
GO_REFERENCE="$HERE/go/reference/go1.19-count1.txt"
STAGES="${STAGES:-mirrored spawn scale servlet}"
FILTER_LOAD_ARGS="${FILTER_LOAD_ARGS:-}"
MIRRORED_REGEX="${MIRRORED_REGEX:-io\.ctx4j\.bench\.(CommonParentCancel|WithTimeout|CancelTree|CancelTreeLeaf|CheckCanceled|ContextCancelDone|DeepValueSameGoRoutine|WithValue|SharedParentChild|Footprint)\.}"
# A fixed, pre-touched heap for every fork of the full run: on this kind of VM the first touch of
# each page of a growing heap costs far more than the allocation itself, and showed up as 10-100x
# outliers in allocation-heavy rows. 2 GiB, not 4: pre-touching costs every fork's JVM start 1.3 s
# at 2 GiB but 6.5 s at 4 GiB on this VM (`java ... -version`, 2026-12-01), about 40 minutes per JDK
# over the ~400 forks of a full run, and the largest row (Timeouts, a million pending timeouts)
# needs a few hundred MiB. -jvmArgsPrepend keeps the benchmarks' own @Fork arguments.
HEAP_OPTS="${HEAP_OPTS:--Xms2g -Xmx2g -XX:+AlwaysPreTouch}"

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MODE=quick ;;
    --no-go) RUN_GO=0 ;;
    --skip-build) BUILD=0 ;;
    --jdk) ONE_JDK="$2"; shift ;;
    --jdks) JDKS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --jmh-args) EXTRA_JMH="$2"; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

# shellcheck source=../scripts/jdks.sh
. "$ROOT/scripts/jdks.sh"

# The JDK homes to measure on.
HOMES=()
if [ -n "$ONE_JDK" ]; then
  HOMES=("$ONE_JDK")
elif [ "$MODE" = quick ]; then
  HOMES=("${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}")
else
  for v in $JDKS; do
    h="$(eval echo "\${JDK${v}_HOME:-}")"
    [ -n "$h" ] || h="$(find_jdk "$v" || true)"
    [ -n "$h" ] || { echo "no JDK $v found (set JDK${v}_HOME, or pass --jdks / --jdk)" >&2; exit 2; }
    HOMES+=("$h")
  done
fi
for h in "${HOMES[@]}"; do
  [ -x "$h/bin/java" ] || { echo "no java at $h/bin/java" >&2; exit 2; }
done
JAR="$HERE/target/benchmarks.jar"
HOST_JAVA="${HOMES[0]}/bin/java"

# ------------------------------------------------------------------------------------------ build
if [ "$BUILD" = 1 ]; then
  echo "== building the benchmarks jar (ctx4j-core from this tree, with its JDK 21/25 layers)"
  # The reactor builds the core from source (-am): no install into the shared local repository.
  # The toolchains file lets Maven on JDK 17 compile the layers too; the jar is multi-release, so
  # each JDK runs the core's classes for its version (checked below by Layers).
  write_toolchains
  [ "$CTX4J_LAYERS" = true ] || echo "warning: no JDK 25 found: the core's JDK 21/25 layers are not built" >&2
  ( cd "$ROOT" && mvn -B -ntp -q "${CTX4J_TOOLCHAINS[@]}" -pl ctx4j-benchmarks -am package -DskipTests )
fi
[ -f "$JAR" ] || { echo "missing $JAR (build first)" >&2; exit 2; }

pomprop() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$ROOT/pom.xml" | head -1; }
jdk_prop() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n "s/^ *$2 = //p"; }

# Writes $2/meta.txt for the JDK at $1; fails if the jar's ctx4j layers for that JDK do not load.
write_meta() {
  local home=$1 dir=$2 version layers
  version="$(jdk_prop "$home" java.runtime.version)"
  layers="$("$home/bin/java" -cp "$JAR" io.ctx4j.bench.report.Layers)"
  {
    echo "JDK: $version ($(jdk_prop "$home" java.vendor))"
    echo "JDK home: $home"
    echo "ctx4j multi-release layers in use: $layers"
    echo "Mode: $3"
    echo "JVM options of every fork: $HEAP_OPTS"
    echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "nproc: $(nproc)"
    echo "Memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "OS: $(uname -sr)"
    echo "JMH: $(pomprop jmh.version)"
    echo "grpc-java (io.grpc:grpc-api): $(pomprop grpc.version)"
    echo "kotlinx.coroutines (kotlinx-coroutines-core-jvm): $(pomprop kotlinx.coroutines.version)"
    echo "ctx4j commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  } > "$dir/meta.txt"
}

feature_of() { jdk_feature "$1"; }

# ------------------------------------------------------------------------------------------ quick
if [ "$MODE" = quick ]; then
  OUTDIR="${OUT:-$HERE/target/quick-results}"
  home="${HOMES[0]}"
  RUNDIR="$OUTDIR/jdk$(feature_of "$home")"
  rm -rf "$RUNDIR" && mkdir -p "$RUNDIR"
  write_meta "$home" "$RUNDIR" "quick (sizes reduced, one 100 ms iteration; numbers are not meaningful)"
  echo "== quick run: every benchmark once at its smallest size ($(sed -n 's/^JDK: //p' "$RUNDIR/meta.txt"))"
  # -foe true: a failing benchmark fails the run. Smallest sizes of every @Param. In this JVM (-f 0):
  # a fork per benchmark made this 52 s of CI's 20 minutes, against 10 s in one JVM (2026-12-06, 76
  # benchmarks, JDK 25); forking is still run below.
  # -f 0 ignores @Fork's JVM options: refuse any the line below does not give this JVM, so that a
  # benchmark needing one (a stack size, a GC, a flag) fails here instead of running without it.
  quick_jvm_options=(-Xss32m)
  src="$HERE/src/main/java"
  if [ -d "$src" ]; then
    forked="$(find "$src" -name '*.java' -exec cat {} + | tr '\n' ' ' | grep -oE '@Fork\([^)]*\)' | grep 'jvmArgs' \
      | grep -oE '"[^"]*"' | tr -d '"' | sort -u || true)"
    for option in $forked; do
      if [[ " ${quick_jvm_options[*]} " != *" $option "* ]]; then
        echo "quick run FAILED: a benchmark's @Fork asks for JVM option $option, which the quick run (one JVM, -f 0) would not give it; add it to quick_jvm_options in $0" >&2
        exit 1
      fi
    done
  fi
  "$home/bin/java" "${quick_jvm_options[@]}" -jar "$JAR" -foe true -f 0 -wi 0 -i 1 -r 100ms -prof gc \
    -p concurrency=40 -p depth=10 -p children=1000 -p count=1000 -p waiters=100 \
    -rf json -rff "$RUNDIR/jmh-1-all.json" > "$RUNDIR/jmh-1-all.log" 2>&1 \
    || { tail -50 "$RUNDIR/jmh-1-all.log"; echo "quick run FAILED (log: $RUNDIR/jmh-1-all.log)" >&2; exit 1; }
  # Two forks of one cheap row, so that forking, and the report's interval and win/tie/loss code,
  # run too.
  "$home/bin/java" -jar "$JAR" 'io\.ctx4j\.bench\.CheckCanceled\.done_' -foe true -f 2 -wi 0 -i 2 -r 100ms \
    -rf json -rff "$RUNDIR/jmh-2-forks.json" > "$RUNDIR/jmh-2-forks.log" 2>&1 \
    || { tail -50 "$RUNDIR/jmh-2-forks.log"; echo "quick run FAILED (log: $RUNDIR/jmh-2-forks.log)" >&2; exit 1; }
  "$home/bin/java" -cp "$JAR" io.ctx4j.bench.report.Report --out "$OUTDIR" --run "$RUNDIR" \
    --go "$GO_REFERENCE" --go-source "reference file go/reference/go1.19-count1.txt (one run each: a fixed reference)"
  grep -q '| CheckCanceled/Done | .*| \*\*\(win\|tie\|loss\)\*\* |$' "$OUTDIR/results.md" \
    || { echo "quick run FAILED: no win/tie/loss call on CheckCanceled/Done in $OUTDIR/results.md" >&2; exit 1; }
  "$home/bin/java" -cp "$JAR" io.ctx4j.bench.servlet.FilterLoad --quick --out "$OUTDIR/servlet" > "$OUTDIR/servlet.log" 2>&1 \
    || { cat "$OUTDIR/servlet.log"; echo "servlet filter load (quick) FAILED" >&2; exit 1; }
  echo "quick run OK: $OUTDIR/results.md"
  exit 0
fi

# ------------------------------------------------------------------------------------------- full
DATE="$(date -u +%Y-%m-%d)"
OUTDIR="${OUT:-$HERE/results/$DATE}"
RAW="$OUTDIR/raw"
mkdir -p "$RAW"
START=$(date +%s)

GO_ARGS=(--go "$GO_REFERENCE" --go-source "reference file go/reference/go1.19-count1.txt (go1.19, this machine type, one run each: a fixed reference without spread)")
if [ "$RUN_GO" = 1 ]; then
  if ! command -v go > /dev/null; then
    if [ "$(id -u)" = 0 ]; then
      echo "== installing Go from Debian's packages"
      apt-get update && apt-get install -y golang-go
    else
      echo "go is missing and we are not root: run 'sudo apt-get install -y golang-go' or pass --no-go" >&2
      exit 2
    fi
  fi
  GO_VERSION="$(go version)"
  echo "== Go: $GO_VERSION; go test -bench $GO_BENCH -benchmem -count $GO_COUNT context (about 5 minutes)"
  # Outside any module (the temp dir), with the local toolchain only: no network needed.
  ( cd "$(mktemp -d)" && GOTOOLCHAIN=local GOFLAGS= go test -run '^$' -bench "$GO_BENCH" -benchmem -count "$GO_COUNT" context ) \
    | tee "$RAW/go-context.txt"
  ( cd "$HERE/go" && GOTOOLCHAIN=local GOFLAGS= go test -run '^$' -bench . -benchmem -count "$GO_COUNT" ) \
    | tee "$RAW/go-baseline.txt"
  GO_ARGS=(--go "$RAW/go-context.txt" --go "$RAW/go-baseline.txt"
           --go-source "$GO_VERSION, go test -benchmem -count $GO_COUNT on this machine (its $GO_COUNT runs are the samples)")
fi

# One JMH invocation of the full run: $1 = run folder, $2 = JSON/log name, $3 = benchmark regex, then
# JMH options. Another suite (its own package) is one more `jmh_stage` line in run_jdk below; the
# report reads every jmh*.json of the folder. Stages not named in STAGES are skipped.
jmh_stage() {
  local dir=$1 name=$2 regex=$3
  shift 3
  case " $STAGES " in *" $name "*) ;; *) echo "== JMH $name skipped (STAGES=$STAGES)"; return 0 ;; esac
  echo "== JMH $name on $(basename "$dir")"
  # shellcheck disable=SC2086
  "$JAVA" -jar "$JAR" "$regex" "$@" -jvmArgsPrepend "$HEAP_OPTS" -foe true \
    -rf json -rff "$dir/jmh-$name.json" $EXTRA_JMH 2>&1 | tee "$dir/jmh-$name.log"
}

run_jdk() {
  local home=$1 feature dir spawn=()
  feature="$(feature_of "$home")"
  dir="$RAW/jdk$feature"
  mkdir -p "$dir"
  local t0; t0=$(date +%s)
  write_meta "$home" "$dir" "full (stages: $STAGES; mirrored and spawn rows: JMH $MIRRORED_OPTS -prof gc; scale rows: JMH $SCALE_OPTS)"
  JAVA="$home/bin/java"
  # Go-mirrored, goal and leaf rows: about 50 minutes per JDK.
  # shellcheck disable=SC2086
  jmh_stage "$dir" mirrored "$MIRRORED_REGEX" $MIRRORED_OPTS -prof gc
  # Go runs BenchmarkDeepValueNewGoRoutine's loop on a goroutine, so the goroutine it starts is
  # handed over inside Go's scheduler. The faithful mirror runs JMH's benchmark thread as a virtual
  # thread too (JMH's own jmh.executor switch, JDK 21+). Same for every library.
  [ "$feature" -ge 21 ] && spawn=(-jvmArgsAppend -Djmh.executor=VIRTUAL)
  # shellcheck disable=SC2086
  jmh_stage "$dir" spawn 'io\.ctx4j\.bench\.DeepValueNewGoRoutine\.' $MIRRORED_OPTS "${spawn[@]}" -prof gc
  echo "Threads for DeepValueNewGoRoutine and Waiters: $([ "$feature" -ge 21 ] && echo "virtual; DeepValueNewGoRoutine's benchmark threads too (-Djmh.executor=VIRTUAL), as Go's loop runs on a goroutine" || echo platform)" >> "$dir/meta.txt"
  # Scale rows: single shots of whole builds/cancels. About 15 minutes per JDK.
  # shellcheck disable=SC2086
  jmh_stage "$dir" scale 'io\.ctx4j\.bench\.(FanOut|Chain|KotlinChain|Timeouts|Waiters)\.' $SCALE_OPTS
  # The servlet filter's cost under load (not JMH: the configurations alternate within one run).
  # About 4 minutes per JDK; its own results.md in the folder.
  case " $STAGES " in
    *" servlet "*)
      echo "== servlet filter load on $(basename "$dir")"
      # A failure here (a request with no answer, say) is a finding: it must not throw away the
      # JMH stages of this JDK or the next JDK's run. It is written into meta.txt, the report is
      # still made, and the script exits non-zero at the end.
      # shellcheck disable=SC2086
      if ! "$JAVA" -Xms1g -Xmx1g -XX:+AlwaysPreTouch -cp "$JAR" io.ctx4j.bench.servlet.FilterLoad \
          --out "$dir/servlet" $FILTER_LOAD_ARGS 2>&1 | tee "$dir/servlet.log"; then
        echo "Servlet stage: FAILED (servlet.log has the error and the diagnostics)" >> "$dir/meta.txt"
        FAILED_STAGES+=("servlet on $(basename "$dir")")
      fi ;;
  esac
  echo "Duration: $(( ($(date +%s) - t0) / 60 )) minutes" >> "$dir/meta.txt"
}

RUN_ARGS=()
FAILED_STAGES=()
for home in "${HOMES[@]}"; do
  run_jdk "$home"
  # The report reads JMH's results; a folder without any (STAGES=servlet) is not a run to report.
  if compgen -G "$RAW/jdk$(feature_of "$home")/jmh*.json" > /dev/null; then
    RUN_ARGS+=(--run "$RAW/jdk$(feature_of "$home")")
  fi
done
if [ "${#RUN_ARGS[@]}" -eq 0 ]; then
  echo "no JMH stage ran (STAGES=$STAGES): no report"
else
  README_ARGS=()
  if [ -z "$OUT" ]; then
    # Only a run into the default folder is "the" result: it refreshes latest/ and the README table.
    README_ARGS=(--readme "$HERE/README.md")
  fi
  "$HOST_JAVA" -cp "$JAR" io.ctx4j.bench.report.Report --out "$OUTDIR" "${RUN_ARGS[@]}" "${GO_ARGS[@]}" "${README_ARGS[@]}"
  echo "total: $(( ($(date +%s) - START) / 60 )) minutes"
  if [ -z "$OUT" ]; then
    rm -rf "$HERE/results/latest" && mkdir -p "$HERE/results/latest"
    cp "$OUTDIR/results.md" "$OUTDIR"/ratios-jdk*.png "$HERE/results/latest/"
    echo "results: $OUTDIR/results.md (also in $HERE/results/latest/ and README.md)"
  else
    echo "results: $OUTDIR/results.md"
  fi
fi
if [ "${#FAILED_STAGES[@]}" -gt 0 ]; then
  echo "FAILED stages: ${FAILED_STAGES[*]}" >&2
  exit 1
fi
