#!/usr/bin/env bash
# A/B of the servlet filter's cost between two builds of ctx4j-benchmarks: single-JVM FilterLoad
# runs of the two jars alternate in ABBA order (A B, B A, A B, ...), so that a drift of the machine
# falls on both alike, then each jar's runs get one report, as --forks gives (FilterLoad
# --report-forks, of REPORT_JAR, default JAR_B: a jar from before 2026-12-02 cannot report).
#   ctx4j-benchmarks/scripts/filter-ab.sh OUT_DIR JAR_A JAR_B PAIRS [FilterLoad options]
# Writes OUT_DIR/a/fork-K and OUT_DIR/b/fork-K (each run's results.md, rounds.tsv and, from jars
# of 2026-12-02 on, pooled-p99.tsv; its output in fork-K.log), then OUT_DIR/a/results.md and
# OUT_DIR/b/results.md. JAVA picks the java (default: the one on the PATH); JVM_OPTS its options
# (default: -Xms1g -Xmx1g -XX:+AlwaysPreTouch). Example, 6 pairs of quick runs:
#   ctx4j-benchmarks/scripts/filter-ab.sh /tmp/ab /tmp/old.jar /tmp/new.jar 6 --client raw --rounds 36
# A run interrupted (Ctrl-C, SIGTERM) stops the JVM it waits for; one killed with SIGKILL leaves
# that JVM to finish its run.
set -euo pipefail
out=${1:?usage: filter-ab.sh OUT_DIR JAR_A JAR_B PAIRS [FilterLoad options]}
jar_a=${2:?JAR_A missing}
jar_b=${3:?JAR_B missing}
pairs=${4:?PAIRS missing}
shift 4
opts=("$@") # FilterLoad's options, the same for every run and for the reports
[[ $pairs =~ ^[1-9][0-9]*$ ]] || { echo "PAIRS must be a positive integer, got \"$pairs\"" >&2; exit 2; }
for jar in "$jar_a" "$jar_b"; do
  [ -f "$jar" ] || { echo "no such jar: $jar" >&2; exit 2; }
done
java=${JAVA:-java}
read -r -a jvm_opts <<< "${JVM_OPTS:--Xms1g -Xmx1g -XX:+AlwaysPreTouch}"
report_jar=${REPORT_JAR:-$jar_b}
mkdir -p "$out/a" "$out/b"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null' EXIT INT TERM

one() { # side fork
  local jar=$jar_a
  [ "$1" = b ] && jar=$jar_b
  echo "$(date -u +%T) $1 fork $2"
  "$java" "${jvm_opts[@]}" -cp "$jar" io.ctx4j.bench.servlet.FilterLoad "${opts[@]}" --out "$out/$1/fork-$2" \
    > "$out/$1/fork-$2.log" 2>&1 &
  pid=$!
  wait "$pid" || { echo "the run of $1 fork $2 failed; see $out/$1/fork-$2.log" >&2; exit 1; }
  pid=
}

for k in $(seq 1 "$pairs"); do
  if (( k % 2 == 1 )); then first=a; second=b; else first=b; second=a; fi
  one "$first" "$k"
  one "$second" "$k"
done
for side in a b; do
  "$java" -cp "$report_jar" io.ctx4j.bench.servlet.FilterLoad "${opts[@]}" --report-forks "$out/$side" \
    --out "$out/$side" > "$out/$side/report.log"
  echo "$side: $out/$side/results.md"
done
