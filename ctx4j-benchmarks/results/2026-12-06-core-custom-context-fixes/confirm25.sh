#!/usr/bin/env bash
# The re-measure of the two JDK 25 rows read slower after in jdk25-ctx4j-rows/ (see README.md):
# CheckCanceled (Err and Done) and ContextCancelDone, 8 forks each, the options of before-after.sh.
# The before jar's ctx4j rows, then the after jar's rows with their peers (grpc-java, Kotlin).
# Usage: confirm25.sh BEFORE.jar AFTER.jar
# Writes confirm/jdk25/{before,after}/jmh-mirrored.json here, for io.ctx4j.bench.report.BeforeAfter.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BEFORE="$1"; AFTER="$2"
. "$(cd "$HERE/../../.." && pwd)/scripts/jdks.sh"
H="-Xms2g -Xmx2g -XX:+AlwaysPreTouch"
M="-f 8 -wi 2 -w 500ms -i 3 -r 500ms"
out="$HERE/confirm/jdk25"
mkdir -p "$out/before" "$out/after"
runtime="$("$JDK25_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = //p')"
printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$BEFORE" > "$out/before/meta.txt"
printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$AFTER" > "$out/after/meta.txt"
"$JDK25_HOME/bin/java" -jar "$BEFORE" 'io\.ctx4j\.bench\.(CheckCanceled|ContextCancelDone)\.(\w+_)?ctx4j$' $M \
  -jvmArgsPrepend "$H" -foe true -rf json -rff "$out/before/jmh-mirrored.json" > "$out/before/jmh-mirrored.log" 2>&1
"$JDK25_HOME/bin/java" -jar "$AFTER" 'io\.ctx4j\.bench\.(CheckCanceled|ContextCancelDone)\.' $M \
  -jvmArgsPrepend "$H" -foe true -rf json -rff "$out/after/jmh-mirrored.json" > "$out/after/jmh-mirrored.log" 2>&1
"$JDK25_HOME/bin/java" -cp "$AFTER" io.ctx4j.bench.report.BeforeAfter --before "$out/before" \
  --after "$out/after" --out "$out/before-after.md" --title "CheckCanceled and ContextCancelDone re-measured, JDK 25 ($runtime), 8 forks"
