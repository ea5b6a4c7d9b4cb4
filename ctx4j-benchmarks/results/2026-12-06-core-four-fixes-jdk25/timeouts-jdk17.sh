#!/usr/bin/env bash
# JDK 17: Timeouts again, 8 forks (withtimeout-jdk17/'s scale stage ran beside two reviewers'
# builds: its after forks were 34-124 ms at count=100000, against 31-72 before). Before and after
# as in withtimeout-jdk17.sh; ctx4j's row before, ctx4j and grpc-java after.
# Usage: timeouts-jdk17.sh BEFORE.jar AFTER.jar
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BEFORE="$1"; AFTER="$2"
. "$(cd "$HERE/../../.." && pwd)/scripts/jdks.sh"
H="-Xms2g -Xmx2g -XX:+AlwaysPreTouch"
S="-f 8 -wi 1 -i 2"
out="$HERE/timeouts-jdk17"
mkdir -p "$out/before" "$out/after"
runtime="$("$JDK17_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = //p')"
printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$BEFORE" > "$out/before/meta.txt"
printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$AFTER" > "$out/after/meta.txt"
"$JDK17_HOME/bin/java" -jar "$BEFORE" 'io\.ctx4j\.bench\.Timeouts\.ctx4j$' $S -jvmArgsPrepend "$H" -foe true \
  -rf json -rff "$out/before/jmh-scale.json" > "$out/before/jmh-scale.log" 2>&1
"$JDK17_HOME/bin/java" -jar "$AFTER" 'io\.ctx4j\.bench\.Timeouts\.(ctx4j|grpc)$' $S -jvmArgsPrepend "$H" -foe true \
  -rf json -rff "$out/after/jmh-scale.json" > "$out/after/jmh-scale.log" 2>&1
"$JDK17_HOME/bin/java" -cp "$AFTER" io.ctx4j.bench.report.BeforeAfter --before "$out/before" \
  --after "$out/after" --out "$out/before-after.md" --title "Timeouts re-measured, JDK 17 ($runtime), 8 forks"
