#!/usr/bin/env bash
# JDK 25: the rows the full run read slower after though they run no changed line (WithValue at
# depth 30, 50, 100: allocation only; DeepValueSameGoRoutine at 10 and 30: a lookup), ctx4j's rows
# only, the two jars alternated in four blocks (before, after, before, after) of 4 forks each, so
# that a drift of the machine over the run falls on both sides alike. Options of before-after.sh.
# Usage: abab-jdk25.sh BEFORE.jar AFTER.jar ; writes abab-jdk25/{before,after}/jmh-mirrored-N.json.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BEFORE="$1"; AFTER="$2"
. "$(cd "$HERE/../../.." && pwd)/scripts/jdks.sh"
H="-Xms2g -Xmx2g -XX:+AlwaysPreTouch"
M="-f 4 -wi 2 -w 500ms -i 3 -r 500ms"
out="$HERE/abab-jdk25"
mkdir -p "$out/before" "$out/after"
runtime="$("$JDK25_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.runtime.version = //p')"
printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$BEFORE" > "$out/before/meta.txt"
printf 'JDK: %s\nctx4j commit: %s\n' "$runtime" "$AFTER" > "$out/after/meta.txt"
for n in 1 2; do
  for v in before after; do
    jar="$BEFORE"; [ "$v" = after ] && jar="$AFTER"
    for spec in 'WithValue:30,50,100' 'DeepValueSameGoRoutine:10,30'; do
      cls=${spec%%:*}
      "$JDK25_HOME/bin/java" -jar "$jar" "io\.ctx4j\.bench\.$cls\.ctx4j\$" -p depth="${spec#*:}" $M \
        -jvmArgsPrepend "$H" -foe true -rf json -rff "$out/$v/jmh-$cls-$n.json" > "$out/$v/jmh-$cls-$n.log" 2>&1
    done
  done
done
python3 - "$out" <<'PY'
import json, sys, glob, statistics as st
out = sys.argv[1]
rows = {}
for v in ("before", "after"):
    for f in sorted(glob.glob(f"{out}/{v}/jmh-*.json")):
        for r in json.load(open(f)):
            key = (r["benchmark"].split(".")[-2], r["params"]["depth"])
            forks = [sum(x) / len(x) for x in r["primaryMetric"]["rawData"]]
            rows.setdefault(key, {}).setdefault(v, []).extend(forks)
with open(f"{out}/summary.md", "w") as w:
    w.write("| row | before: median of forks (min-max) | after: median (min-max) | after / before, medians |\n|---|---|---|---|\n")
    for (cls, d), s in sorted(rows.items()):
        b, a = s["before"], s["after"]
        w.write(f"| {cls}/depth={d} | {st.median(b):.3f} ns ({min(b):.3f}-{max(b):.3f}), {len(b)} forks | "
                f"{st.median(a):.3f} ns ({min(a):.3f}-{max(a):.3f}), {len(a)} forks | {st.median(a)/st.median(b):.2f} |\n")
print(open(f"{out}/summary.md").read())
PY
