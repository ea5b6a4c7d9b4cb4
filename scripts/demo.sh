#!/usr/bin/env bash
# Runs the demo: with no argument, the Go tutorial's six examples in real time (about 7 s).
#   scripts/demo.sh --list        lists every scenario
#   scripts/demo.sh NAME...       runs the named scenarios in that order
# Builds the modules in this tree (nothing is installed into ~/.m2), then runs the demo with plain
# `java`: its output is the demo's own, with no Maven log lines or terminal colour codes.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/jdks.sh
ensure_tools
export JAVA_HOME=${JAVA_HOME:-$JDK17_HOME}
log=target/demo-build.log
mkdir -p target
if ! mvn -q -B -ntp -Dstyle.color=never "${CTX4J_TOOLCHAINS[@]}" -pl ctx4j-demo -am \
    package dependency:build-classpath -DskipTests -Dmdep.outputFile=target/classpath.txt >"$log" 2>&1; then
  sed 's/\x1b\[[0-9;]*m//g' "$log" >&2
  echo "demo build failed (log: $log)" >&2
  exit 1
fi
exec "$JAVA_HOME/bin/java" -cp "ctx4j-demo/target/classes:$(cat ctx4j-demo/target/classpath.txt)" \
  io.ctx4j.demo.Demo "$@"
