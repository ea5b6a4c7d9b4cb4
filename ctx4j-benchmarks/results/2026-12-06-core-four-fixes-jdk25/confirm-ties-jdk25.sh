#!/usr/bin/env bash
# JDK 25: the three rows won before that the full run (jdk25/) read as ties after, with wide
# intervals: CancelTree at depth 10 under OpenCanceler, CheckCanceled/Err, FanOut at 1,000,000
# children. 8 forks each: the before jar's ctx4j rows, the after jar's ctx4j and peer rows, the
# options of before-after.sh. Usage: confirm-ties-jdk25.sh BEFORE.jar AFTER.jar
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BEFORE="$1"; AFTER="$2"
. "$(cd "$HERE/../../.." && pwd)/scripts/jdks.sh"
H="-Xms2g -Xmx2g -XX:+AlwaysPreTouch"
M="-f 8 -wi 2 -w 500ms -i 3 -r 500ms"
S="-f 8 -wi 1 -i 2 -p children=1000000"
out="$HERE/confirm-ties-jdk25"
mkdir -p "$out/before" "$out/after"
runtime="$("$JDK25_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = //p')"
printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$BEFORE" > "$out/before/meta.txt"
printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$AFTER" > "$out/after/meta.txt"
run() { # jar name regex options...
  local jar=$1 name=$2 re=$3; shift 3
  "$JDK25_HOME/bin/java" -jar "$jar" "$re" "$@" -jvmArgsPrepend "$H" -foe true -rf json -rff "$name.json" > "$name.log" 2>&1
}
run "$BEFORE" "$out/before/jmh-mirrored" 'io\.ctx4j\.bench\.(CancelTree\.ctx4j|CheckCanceled\.err_ctx4j)$' -p depth=10 -p root=OpenCanceler $M
run "$AFTER" "$out/after/jmh-mirrored" 'io\.ctx4j\.bench\.(CancelTree\.(ctx4j|grpc)|CheckCanceled\.err_\w+)$' -p depth=10 -p root=OpenCanceler $M
run "$BEFORE" "$out/before/jmh-scale" 'io\.ctx4j\.bench\.FanOut\.ctx4j$' $S
run "$AFTER" "$out/after/jmh-scale" 'io\.ctx4j\.bench\.FanOut\.(ctx4j|grpc)$' $S
"$JDK25_HOME/bin/java" -cp "$AFTER" io.ctx4j.bench.report.BeforeAfter --before "$out/before" \
  --after "$out/after" --out "$out/before-after.md" --title "Ties of jdk25/ re-measured, JDK 25 ($runtime), 8 forks"
