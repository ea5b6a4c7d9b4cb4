#!/usr/bin/env bash
# The project's test command: builds every module and runs every unit test on JDK 17 and on
# JDK 25, then the quick jcstress run on both JDKs and the quick benchmark run (proving it still
# works).
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --unit     unit tests only, both JDKs
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/jdks.sh
ensure_tools

unit_only=false
[ "${1:-}" = "--unit" ] && unit_only=true

MVN=(mvn -B -ntp -e)
start=$(date +%s)

echo "== JDK 17: $JDK17_HOME"
JAVA_HOME=$JDK17_HOME "${MVN[@]}" clean install

if [ -n "$JDK25_HOME" ]; then
  echo "== JDK 25: $JDK25_HOME"
  # Second build into the same local repository: same modules, same tests, plus the layers and
  # modules that only build on 21+.
  JAVA_HOME=$JDK25_HOME "${MVN[@]}" clean install
else
  echo "!! no JDK 25 found under /usr/lib/jvm: the JDK 25 test run was NOT done" >&2
  exit 1
fi

if ! $unit_only; then
  if [ -x ctx4j-jcstress/run-jcstress.sh ]; then
    # Both JDKs: the memory model is the same, but each compiles the racing code its own way.
    echo "== jcstress (quick, JDK 17)"
    JAVA_HOME=$JDK17_HOME ctx4j-jcstress/run-jcstress.sh --quick
    echo "== jcstress (quick, JDK 25)"
    JAVA_HOME=$JDK25_HOME ctx4j-jcstress/run-jcstress.sh --quick
  fi
  if [ -x ctx4j-benchmarks/run-benchmarks.sh ]; then
    echo "== benchmarks (quick, JDK 25)"
    JAVA_HOME=$JDK25_HOME ctx4j-benchmarks/run-benchmarks.sh --quick
  fi
fi
echo "== all done in $(( $(date +%s) - start )) s"
