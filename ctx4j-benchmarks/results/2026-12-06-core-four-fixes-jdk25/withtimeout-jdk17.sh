#!/usr/bin/env bash
# JDK 17 before / after of f3b258f alone (withTimeout: a deadline saturated to Instant.MAX is
# checked against now; one comparison more on the unsaturated path): the rows that run withTimeout,
# WithTimeout (every peer, 6 forks) and Timeouts (ctx4j and grpc-java, before-after.sh's scale
# options). Before: the benchmarks jar of the core just before it (353d4a4's core); after: f3b258f's.
# Usage: withtimeout-jdk17.sh BEFORE.jar AFTER.jar
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BEFORE="$1"; AFTER="$2"
. "$(cd "$HERE/../../.." && pwd)/scripts/jdks.sh"
H="-Xms2g -Xmx2g -XX:+AlwaysPreTouch"
M="-f 6 -wi 2 -w 500ms -i 3 -r 500ms"
S="-f 3 -wi 1 -i 2"
out="$HERE/withtimeout-jdk17"
mkdir -p "$out/before" "$out/after"
runtime="$("$JDK17_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = //p')"
printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$BEFORE" > "$out/before/meta.txt"
printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$AFTER" > "$out/after/meta.txt"
run() { # jar name regex options...
  local jar=$1 name=$2 re=$3; shift 3
  "$JDK17_HOME/bin/java" -jar "$jar" "$re" "$@" -jvmArgsPrepend "$H" -foe true -rf json -rff "$name.json" > "$name.log" 2>&1
}
run "$BEFORE" "$out/before/jmh-mirrored" 'io\.ctx4j\.bench\.WithTimeout\.ctx4j$' $M -prof gc
run "$AFTER" "$out/after/jmh-mirrored" 'io\.ctx4j\.bench\.WithTimeout\.' $M -prof gc
run "$BEFORE" "$out/before/jmh-scale" 'io\.ctx4j\.bench\.Timeouts\.ctx4j$' $S
run "$AFTER" "$out/after/jmh-scale" 'io\.ctx4j\.bench\.Timeouts\.(ctx4j|grpc)$' $S
"$JDK17_HOME/bin/java" -cp "$AFTER" io.ctx4j.bench.report.BeforeAfter --before "$out/before" \
  --after "$out/after" --out "$out/before-after.md" --title "withTimeout before / after f3b258f, JDK 17 ($runtime)"
