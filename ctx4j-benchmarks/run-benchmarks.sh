#!/usr/bin/env bash
# Runs the ctx4j benchmarks against Go's context package, grpc-java's Context and kotlinx.coroutines'
# Job, and writes results/<date>/results.md + ratios.png (copied to results/latest/).
#
#   ./run-benchmarks.sh --quick     every benchmark once at its smallest size (about 1-2 minutes);
#                                   proves the suite still runs; exits non-zero if one fails.
#   ./run-benchmarks.sh             the full run, by hand on a quiet machine (about 90 minutes):
#                                   installs Go if missing (Debian's golang-go, as root), runs
#                                   `go test -bench . -benchmem context`, the JMH suite, the report.
#
# Options: --jdk DIR (default: $JAVA_HOME, else the java on PATH), --no-go (skip Go), --skip-build,
#          --out DIR (default: results/<date>; only the default also refreshes results/latest/ and the
#          README table), --jmh-args "..." (extra JMH arguments, full mode,
#          e.g. "-p depth=1000"; they must not repeat the options below).
# Environment (full mode): MIRRORED_OPTS (default "-f 2 -wi 3 -w 1s -i 5 -r 1s"), SCALE_OPTS
#          (default "-f 1 -wi 2 -i 5"), GO_BENCH (default "."), GO_COUNT (default 5),
#          HEAP_OPTS (default "-Xms4g -Xmx4g -XX:+AlwaysPreTouch", given to every fork).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
MODE=full
RUN_GO=1
BUILD=1
OUT=""
EXTRA_JMH=""
JDK="${JAVA_HOME:-}"
MIRRORED_OPTS="${MIRRORED_OPTS:--f 2 -wi 3 -w 1s -i 5 -r 1s}"
SCALE_OPTS="${SCALE_OPTS:--f 1 -wi 2 -i 5}"
GO_BENCH="${GO_BENCH:-.}"
GO_COUNT="${GO_COUNT:-5}"
# A fixed, pre-touched heap for every fork of the full run: on this kind of VM the first touch of
# each page of a growing heap costs far more than the allocation itself, and showed up as 10-100x
# outliers in allocation-heavy rows. -jvmArgsPrepend keeps the benchmarks' own @Fork arguments.
HEAP_OPTS="${HEAP_OPTS:--Xms4g -Xmx4g -XX:+AlwaysPreTouch}"

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MODE=quick ;;
    --no-go) RUN_GO=0 ;;
    --skip-build) BUILD=0 ;;
    --jdk) JDK="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --jmh-args) EXTRA_JMH="$2"; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ -n "$JDK" ]; then
  JAVA="$JDK/bin/java"
  export JAVA_HOME="$JDK"
else
  JAVA="$(command -v java)"
fi
[ -x "$JAVA" ] || { echo "no java at $JAVA" >&2; exit 2; }
JAR="$HERE/target/benchmarks.jar"

# ------------------------------------------------------------------------------------------ build
if [ "$BUILD" = 1 ]; then
  echo "== building (core under the shared lock, then the benchmarks jar)"
  # -f on the module poms: the reactor would parse every module, including ones being edited.
  # The lock only matters when several runs share one local repository; flock is Linux-only.
  if command -v flock >/dev/null; then
    flock /tmp/ctx4j-core.lock mvn -q -f "$ROOT/ctx4j-core/pom.xml" install -DskipTests
  else
    mvn -q -f "$ROOT/ctx4j-core/pom.xml" install -DskipTests
  fi
  mvn -q -f "$HERE/pom.xml" package -DskipTests
fi
[ -f "$JAR" ] || { echo "missing $JAR (build first)" >&2; exit 2; }

pomprop() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$ROOT/pom.xml" | head -1; }
JDK_VERSION="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = //p')"
JDK_VENDOR="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.vendor = //p')"
JDK_MAJOR="${JDK_VERSION%%[.+-]*}"
THREADS=platform
[ "$JDK_MAJOR" -ge 21 ] && THREADS=virtual

# ------------------------------------------------------------------------------------------ quick
if [ "$MODE" = quick ]; then
  OUTDIR="${OUT:-$HERE/target/quick-results}"
  mkdir -p "$OUTDIR"
  echo "== quick run: every benchmark once at its smallest size (JDK $JDK_VERSION)"
  # -foe true: a failing benchmark fails the run. Smallest sizes of every @Param.
  "$JAVA" -jar "$JAR" -foe true -f 1 -wi 0 -i 1 -r 100ms -prof gc \
    -p concurrency=40 -p depth=10 -p children=1000 -p count=1000 -p waiters=100 \
    -rf json -rff "$OUTDIR/jmh.json" > "$OUTDIR/jmh.log" 2>&1 \
    || { tail -50 "$OUTDIR/jmh.log"; echo "quick run FAILED (log: $OUTDIR/jmh.log)" >&2; exit 1; }
  "$JAVA" -cp "$JAR" io.ctx4j.bench.servlet.FilterLoad --quick --out "$OUTDIR/servlet" > "$OUTDIR/servlet.log" 2>&1 || { cat "$OUTDIR/servlet.log"; echo "servlet filter load (quick) FAILED" >&2; exit 1; }
  printf 'Mode: quick (sizes reduced; numbers are not meaningful)\nJDK: %s (%s)\n' \
    "$JDK_VERSION" "$JDK_VENDOR" > "$OUTDIR/meta.txt"
  "$JAVA" -cp "$JAR" io.ctx4j.bench.report.Report --out "$OUTDIR" --meta "$OUTDIR/meta.txt" \
    --jmh "$OUTDIR/jmh.json"
  echo "quick run OK: $OUTDIR/results.md"
  exit 0
fi

# ------------------------------------------------------------------------------------------- full
DATE="$(date -u +%Y-%m-%d)"
OUTDIR="${OUT:-$HERE/results/$DATE}"
RAW="$OUTDIR/raw"
mkdir -p "$RAW"
START=$(date +%s)

GO_VERSION="not run"
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
fi

# Go-mirrored and goal rows: 2 forks x 5 one-second iterations after 3 warm-ups, with -prof gc for
# bytes per operation. About 60 minutes.
echo "== JMH, mirrored and goal benchmarks (about 60 minutes)"
# shellcheck disable=SC2086
"$JAVA" -jar "$JAR" 'io\.ctx4j\.bench\.(CommonParentCancel|WithTimeout|CancelTree|CheckCanceled|ContextCancelDone|DeepValueSameGoRoutine|WithValue|SharedParentChild|Footprint)\.' \
  $MIRRORED_OPTS -jvmArgsPrepend "$HEAP_OPTS" -prof gc -rf json -rff "$RAW/jmh-mirrored.json" $EXTRA_JMH \
  | tee "$RAW/jmh-mirrored.log"

# Go runs BenchmarkDeepValueNewGoRoutine's loop on a goroutine, so the goroutine it starts is handed
# over inside Go's scheduler. The faithful mirror runs JMH's benchmark thread as a virtual thread too
# (JMH's own jmh.executor switch, JDK 21+), so the spawned virtual thread is handed over inside the
# virtual-thread scheduler rather than woken from a parked platform thread. Same for every library.
SPAWN_EXECUTOR=()
[ "$JDK_MAJOR" -ge 21 ] && SPAWN_EXECUTOR=(-jvmArgsAppend -Djmh.executor=VIRTUAL)
echo "== JMH, DeepValueNewGoRoutine (benchmark threads: $THREADS)"
# shellcheck disable=SC2086
"$JAVA" -jar "$JAR" 'io\.ctx4j\.bench\.DeepValueNewGoRoutine\.' \
  $MIRRORED_OPTS -jvmArgsPrepend "$HEAP_OPTS" "${SPAWN_EXECUTOR[@]}" -prof gc \
  -rf json -rff "$RAW/jmh-spawn.json" $EXTRA_JMH \
  | tee "$RAW/jmh-spawn.log"

# Scale rows: single shots of whole builds/cancels, 1 fork, 2 warm-up and 5 measured shots.
# About 15 minutes.
echo "== JMH, scale benchmarks (about 15 minutes)"
# shellcheck disable=SC2086
"$JAVA" -jar "$JAR" 'io\.ctx4j\.bench\.(FanOut|Chain|KotlinChain|Timeouts|Waiters)\.' \
  $SCALE_OPTS -jvmArgsPrepend "$HEAP_OPTS" -rf json -rff "$RAW/jmh-scale.json" $EXTRA_JMH \
  | tee "$RAW/jmh-scale.log"

{
  echo "Date: $DATE"
  echo "Mode: full (Go-mirrored rows: JMH $MIRRORED_OPTS -prof gc; scale rows: JMH $SCALE_OPTS; Go: -count $GO_COUNT)"
  echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "nproc: $(nproc)"
  echo "Memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "OS: $(uname -sr)"
  echo "JDK: $JDK_VERSION ($JDK_VENDOR)"
  echo "JVM options of every fork: $HEAP_OPTS"
  echo "Threads for DeepValueNewGoRoutine and Waiters: $THREADS"
  [ "$THREADS" = virtual ] && echo "DeepValueNewGoRoutine's benchmark threads: virtual (-Djmh.executor=VIRTUAL), as Go's loop runs on a goroutine"
  echo "Go: $GO_VERSION"
  echo "JMH: $(pomprop jmh.version)"
  echo "grpc-java (io.grpc:grpc-api): $(pomprop grpc.version)"
  echo "kotlinx.coroutines (kotlinx-coroutines-core-jvm): $(pomprop kotlinx.coroutines.version)"
  echo "ctx4j commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "Duration: $(( ($(date +%s) - START) / 60 )) minutes"
} > "$RAW/meta.txt"

GO_ARGS=()
if [ -f "$RAW/go-context.txt" ]; then
  GO_ARGS=(--go "$RAW/go-context.txt" --go "$RAW/go-baseline.txt")
fi
README_ARGS=()
if [ -z "$OUT" ]; then
  # Only a run into the default folder is "the" result: it refreshes latest/ and the README table.
  README_ARGS=(--readme "$HERE/README.md")
fi
"$JAVA" -cp "$JAR" io.ctx4j.bench.report.Report --out "$OUTDIR" --meta "$RAW/meta.txt" \
  --jmh "$RAW/jmh-mirrored.json" --jmh "$RAW/jmh-spawn.json" --jmh "$RAW/jmh-scale.json" "${GO_ARGS[@]}" "${README_ARGS[@]}"
if [ -z "$OUT" ]; then
  mkdir -p "$HERE/results/latest"
  cp "$OUTDIR/results.md" "$OUTDIR/ratios.png" "$HERE/results/latest/"
  echo "results: $OUTDIR/results.md and $OUTDIR/ratios.png (also in $HERE/results/latest/ and README.md)"
else
  echo "results: $OUTDIR/results.md and $OUTDIR/ratios.png"
fi
