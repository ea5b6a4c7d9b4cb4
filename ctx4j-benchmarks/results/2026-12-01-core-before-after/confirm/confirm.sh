#!/usr/bin/env bash
# The re-measure of the rows won before and tied after (see ../README.md). Writes c*.json here;
# they were then moved to jdk25/, jdk17/ and jdk25-fanout-12-forks/ as jmh-*.json and read by
# io.ctx4j.bench.report.Report (results-*.md).
set -uo pipefail
JAR="$(cd "$(dirname "$0")/../../.." && pwd)/target/benchmarks.jar"
H="-Xms2g -Xmx2g -XX:+AlwaysPreTouch"
M="-f 8 -wi 2 -w 500ms -i 3 -r 500ms"
S="-f 8 -wi 1 -i 2"
run() { local j=$1 name=$2; shift 2; echo "== $name $(date +%T)"; $j/bin/java -jar $JAR "$@" -jvmArgsPrepend "$H" -foe true -rf json -rff "$(dirname "$0")/$name.json" > "$(dirname "$0")/$name.log" 2>&1 || echo "FAILED $name"; }
# shellcheck source=../../../../scripts/jdks.sh
. "$(cd "$(dirname "$0")/../../../.." && pwd)/scripts/jdks.sh"
J25="$JDK25_HOME"; J17="$JDK17_HOME"
run $J25 c25-tree 'io\.ctx4j\.bench\.CancelTree\.(ctx4j|grpc)$' -p depth=100 -p root=OpenCanceler $M
run $J25 c25-value 'io\.ctx4j\.bench\.DeepValueSameGoRoutine\.(ctx4j|grpc)$' -p depth=50 $M
run $J25 c25-scale 'io\.ctx4j\.bench\.(FanOut|Timeouts)\.(ctx4j|grpc)$' -p children=100000 -p count=100000 $S
run $J17 c17-tree 'io\.ctx4j\.bench\.CancelTree\.(ctx4j|grpc)$' -p depth=100,1000 -p root=Background,OpenCanceler $M
run $J17 c17-scale 'io\.ctx4j\.bench\.(FanOut|Timeouts|Chain)\.(ctx4j|grpc)$' -p children=100000 -p count=100000 -p depth=100000 $S
# FanOut at 100,000 on JDK 25 was still a tie with 8 forks (its single shots vary 1-10 ms): 12 forks.
run $J25 c25-fanout 'io\.ctx4j\.bench\.FanOut\.(ctx4j|grpc)$' -p children=100000 -f 12 -wi 1 -i 2
echo "== all done $(date +%T)"
