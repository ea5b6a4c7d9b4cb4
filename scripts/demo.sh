#!/usr/bin/env bash
# Runs the demo: with no argument, the Go tutorial's six examples in real time (about 7 s).
#   scripts/demo.sh --list        lists every scenario
#   scripts/demo.sh NAME...       runs the named scenarios in that order
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/jdks.sh
ensure_tools
export JAVA_HOME=${JAVA_HOME:-$JDK17_HOME}
mvn -q -B -ntp install -DskipTests -pl ctx4j-demo -am
exec mvn -q -B -ntp -pl ctx4j-demo exec:java -Dexec.args="$*"
