#!/usr/bin/env bash
# Before/after of a change to the core: ctx4j's rows with the benchmarks jar of an older commit
# ("before") and of this tree ("after"), the peers in the after run, on each JDK of --jdks, one
# after the other in one session; then report.BeforeAfter writes one table per JDK (after / before,
# before / peer, after / peer, each with its 95% interval and call; see that class).
# The project's rule: a change to the core must not lose a benchmark row it won before.
#
#   ./before-after.sh --before REV [--jdks "17 25"] [--out DIR] [--quick]
#
# --before REV       the commit to compare with (built in a temporary git worktree, with the same
#                    toolchains, so its jar has its multi-release layers too); or
# --before-jar JAR   a benchmarks jar built earlier.
# --patch FILE       applied with `git apply` to the --before tree before it is built, e.g.
#                    scripts/df8b84c-timeouts-teardown.patch: df8b84c's Timeouts checked for
#                    pending timers inside the measured operation, which on JDK 17 could see the
#                    callback pool's own stall-check timer and fail the run ("1 ctx4j timers left
#                    pending"); the patch moves the check into a TearDown, as this tree does.
# --after-jar JAR    default: this tree, built now.
# --quick            one fork and 100 ms iterations of a few rows: checks that the script runs.
# Rows: the Go-mirrored classes the two jars share (ctx4j's rows before; every library's after,
# except Kotlin where it is ten times slower or more and cannot be the best peer: CancelTree,
# CommonParentCancel, SharedParentChild) and the scale rows FanOut, Chain and Timeouts (ctx4j and
# grpc-java). About 30 minutes per JDK on a 2-core VM; run it on a quiet machine.
# Environment: MIRRORED_OPTS (default "-f 3 -wi 2 -w 500ms -i 3 -r 500ms"), SCALE_OPTS (default
# "-f 3 -wi 1 -i 2"), HEAP_OPTS (default "-Xms2g -Xmx2g -XX:+AlwaysPreTouch").
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
BEFORE_REV=""
BEFORE_JAR=""
PATCH=""
AFTER_JAR=""
JDKS="17 25"
OUT=""
QUICK=0
MIRRORED_OPTS="${MIRRORED_OPTS:--f 3 -wi 2 -w 500ms -i 3 -r 500ms}"
SCALE_OPTS="${SCALE_OPTS:--f 3 -wi 1 -i 2}"
HEAP_OPTS="${HEAP_OPTS:--Xms2g -Xmx2g -XX:+AlwaysPreTouch}"
MIRRORED='io\.ctx4j\.bench\.(CancelTree|CheckCanceled|CommonParentCancel|ContextCancelDone|DeepValueSameGoRoutine|Footprint|SharedParentChild|WithTimeout|WithValue)\.'
SCALE='io\.ctx4j\.bench\.(FanOut|Chain|Timeouts)\.'
CTX4J_ONLY='(\w+_)?ctx4j$'
EXCLUDE='io\.ctx4j\.bench\.(CancelTree\.kotlinJob|CommonParentCancel\.kotlinJob|SharedParentChild\.(kotlinJob|alloc\w*)|ContextCancelDone\.baseline|FanOut\.kotlinJob|Chain\.kotlinJob)$'

while [ $# -gt 0 ]; do
  case "$1" in
    --before) BEFORE_REV="$2"; shift ;;
    --before-jar) BEFORE_JAR="$2"; shift ;;
    --patch) PATCH="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift ;;
    --after-jar) AFTER_JAR="$2"; shift ;;
    --jdks) JDKS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$BEFORE_REV" ] || [ -n "$BEFORE_JAR" ] || { echo "give --before REV or --before-jar JAR" >&2; exit 2; }
if [ "$QUICK" = 1 ]; then
  MIRRORED_OPTS="-f 1 -wi 0 -i 1 -r 100ms -p depth=10 -p root=OpenCanceler"
  SCALE_OPTS="-f 1 -wi 0 -i 1 -p children=100000 -p depth=10000 -p count=100000"
  MIRRORED='io\.ctx4j\.bench\.(CancelTree|Footprint)\.'
fi

# shellcheck source=../scripts/jdks.sh
. "$ROOT/scripts/jdks.sh"
write_toolchains
OUT="${OUT:-$HERE/target/before-after}"
mkdir -p "$OUT"
WORK="$(mktemp -d)"
trap 'git -C "$ROOT" worktree remove --force "$WORK/before" > /dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

if [ -z "$AFTER_JAR" ]; then
  echo "== building the after jar (this tree)"
  ( cd "$ROOT" && mvn -B -ntp -q "${CTX4J_TOOLCHAINS[@]}" -pl ctx4j-benchmarks -am package -DskipTests )
  cp "$HERE/target/benchmarks.jar" "$WORK/after.jar"
  AFTER_JAR="$WORK/after.jar"
  AFTER_DESC="$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . || echo ' (with uncommitted changes)')"
else
  AFTER_DESC="$AFTER_JAR"
fi
if [ -z "$BEFORE_JAR" ]; then
  echo "== building the before jar ($BEFORE_REV)"
  git -C "$ROOT" worktree add -q --detach "$WORK/before" "$BEFORE_REV"
  if [ -n "$PATCH" ]; then
    git -C "$WORK/before" apply "$PATCH"
  fi
  ( cd "$WORK/before" && mvn -B -ntp -q -t "$ROOT/.mvn/toolchains.xml" -Dctx4j.toolchains \
      -pl ctx4j-benchmarks -am package -DskipTests )
  cp "$WORK/before/ctx4j-benchmarks/target/benchmarks.jar" "$WORK/before.jar"
  BEFORE_JAR="$WORK/before.jar"
  BEFORE_DESC="$(git -C "$ROOT" rev-parse --short "$BEFORE_REV")${PATCH:+ with $(basename "$PATCH")}"
else
  BEFORE_DESC="$BEFORE_JAR"
fi

# $1 java, $2 jar, $3 output name, then JMH arguments.
jmh() {
  local java=$1 jar=$2 name=$3
  shift 3
  echo "== $name"
  "$java" -jar "$jar" "$@" -jvmArgsPrepend "$HEAP_OPTS" -foe true -rf json -rff "$name.json" > "$name.log" 2>&1 \
    || { tail -30 "$name.log"; echo "FAILED: $name (log: $name.log)" >&2; exit 1; }
}

for v in $JDKS; do
  home="$(eval echo "\${JDK${v}_HOME:-}")"
  [ -n "$home" ] || home="$(find_jdk "$v" || true)"
  [ -n "$home" ] || { echo "no JDK $v found (set JDK${v}_HOME)" >&2; exit 2; }
  java="$home/bin/java"
  b="$OUT/jdk$v/before"
  a="$OUT/jdk$v/after"
  rm -rf "$b" "$a" && mkdir -p "$b" "$a"
  runtime="$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = //p')"
  printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$BEFORE_DESC" > "$b/meta.txt"
  printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$AFTER_DESC" > "$a/meta.txt"
  # Interleaved by stage, so that a drift of the machine hits both sides of a stage alike.
  # shellcheck disable=SC2086
  {
    jmh "$java" "$BEFORE_JAR" "$b/jmh-mirrored" "$MIRRORED$CTX4J_ONLY" $MIRRORED_OPTS -prof gc
    jmh "$java" "$AFTER_JAR" "$a/jmh-mirrored" "$MIRRORED" -e "$EXCLUDE" $MIRRORED_OPTS -prof gc
    jmh "$java" "$BEFORE_JAR" "$b/jmh-scale" "$SCALE$CTX4J_ONLY" $SCALE_OPTS
    jmh "$java" "$AFTER_JAR" "$a/jmh-scale" "$SCALE" -e "$EXCLUDE" $SCALE_OPTS
  }
  "$java" -cp "$AFTER_JAR" io.ctx4j.bench.report.BeforeAfter --before "$b" --after "$a" \
    --out "$OUT/jdk$v/before-after.md" --title "Before / after, JDK $v ($runtime)"
done
echo "tables: $OUT/jdk*/before-after.md"
