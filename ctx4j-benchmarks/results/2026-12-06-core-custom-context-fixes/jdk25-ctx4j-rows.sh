#!/usr/bin/env bash
# JDK 25: ctx4j's rows of the Go-mirrored classes with the before jar, then with the after jar
# (before-after.sh's mirrored stage, its options, ctx4j's rows only: the peers' code is the same in
# both jars, and the session had no time for the full run). Usage: jdk25-ctx4j-rows.sh BEFORE.jar AFTER.jar
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BEFORE="$1"; AFTER="$2"
. "$(cd "$HERE/../../.." && pwd)/scripts/jdks.sh"
H="-Xms2g -Xmx2g -XX:+AlwaysPreTouch"
M="-f 3 -wi 2 -w 500ms -i 3 -r 500ms"
ROWS='io\.ctx4j\.bench\.(CancelTree|CheckCanceled|CommonParentCancel|ContextCancelDone|DeepValueSameGoRoutine|Footprint|SharedParentChild|WithTimeout|WithValue)\.(\w+_)?ctx4j$'
out="$HERE/jdk25-ctx4j-rows"
runtime="$("$JDK25_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = //p')"
for v in before after; do
  jar="$BEFORE"; [ "$v" = after ] && jar="$AFTER"
  mkdir -p "$out/$v"
  printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$jar" > "$out/$v/meta.txt"
  "$JDK25_HOME/bin/java" -jar "$jar" "$ROWS" $M -prof gc -jvmArgsPrepend "$H" -foe true \
    -rf json -rff "$out/$v/jmh-mirrored.json" > "$out/$v/jmh-mirrored.log" 2>&1
done
"$JDK25_HOME/bin/java" -cp "$AFTER" io.ctx4j.bench.report.BeforeAfter --before "$out/before" \
  --after "$out/after" --out "$out/before-after.md" --title "ctx4j's rows before / after, JDK 25 ($runtime)"
