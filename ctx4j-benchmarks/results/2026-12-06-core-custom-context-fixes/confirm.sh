#!/usr/bin/env bash
# The re-measure of the JDK 17 rows that moved in the first run (see README.md): CancelTree at
# depth 1 (Background), won before and tied after, and at depth 1000 (Background, OpenCanceler),
# slower after by the first run's reading. The before jar's ctx4j rows and the after jar's ctx4j
# and grpc-java rows, 8 forks each, the options of before-after.sh. Usage:
#   confirm.sh BEFORE.jar AFTER.jar
# Writes confirm/jdk17/{before,after}/jmh-tree.json here, for io.ctx4j.bench.report.BeforeAfter.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BEFORE="$1"; AFTER="$2"
. "$(cd "$HERE/../../.." && pwd)/scripts/jdks.sh"
H="-Xms2g -Xmx2g -XX:+AlwaysPreTouch"
M="-f 8 -wi 2 -w 500ms -i 3 -r 500ms"
ROWS=(-p depth=1,1000 -p root=Background,OpenCanceler)
out="$HERE/confirm/jdk17"
mkdir -p "$out/before" "$out/after"
runtime="$("$JDK17_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = //p')"
printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$BEFORE" > "$out/before/meta.txt"
printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$AFTER" > "$out/after/meta.txt"
"$JDK17_HOME/bin/java" -jar "$BEFORE" 'io\.ctx4j\.bench\.CancelTree\.ctx4j$' "${ROWS[@]}" $M \
  -jvmArgsPrepend "$H" -foe true -rf json -rff "$out/before/jmh-tree.json" > "$out/before/jmh-tree.log" 2>&1
"$JDK17_HOME/bin/java" -jar "$AFTER" 'io\.ctx4j\.bench\.CancelTree\.(ctx4j|grpc)$' "${ROWS[@]}" $M \
  -jvmArgsPrepend "$H" -foe true -rf json -rff "$out/after/jmh-tree.json" > "$out/after/jmh-tree.log" 2>&1
"$JDK17_HOME/bin/java" -cp "$AFTER" io.ctx4j.bench.report.BeforeAfter --before "$out/before" \
  --after "$out/after" --out "$out/before-after.md" --title "CancelTree re-measured, JDK 17, 8 forks"
