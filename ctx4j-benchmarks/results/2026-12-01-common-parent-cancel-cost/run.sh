#!/usr/bin/env bash
# CommonParentCancelCost on JDK $1 into $2
set -euo pipefail
J=$1; OUT=$2; JAR="$(cd "$(dirname "$0")/../.." && pwd)/target/benchmarks.jar"
mkdir -p "$OUT"
H="-Xms2g -Xmx2g -XX:+AlwaysPreTouch"
$J/bin/java -jar $JAR 'io\.ctx4j\.bench\.CommonParentCancelCost\.(baseline|baselineCas|ctx4j|ctx4jPublished|grpc|grpcPublished)$' -f 5 -wi 2 -w 1s -i 3 -r 1s -jvmArgsPrepend "$H" -rf json -rff "$OUT/cost.json" > "$OUT/cost.log" 2>&1
$J/bin/java -jar $JAR 'io\.ctx4j\.bench\.CommonParentCancelCost\.(grpc|grpcPublished|baselineCas)$' -f 5 -wi 2 -w 1s -i 3 -r 1s -jvmArgsPrepend "$H" -jvmArgsAppend "-XX:-EliminateLocks" -rf json -rff "$OUT/cost-noelim.json" > "$OUT/cost-noelim.log" 2>&1
