#!/usr/bin/env bash
# Soak test of ctx4j: mixed random load on all cores for a set time, then a verdict.
#
#   run-soak.sh [--minutes N | --seconds N] [--threads N] [--plant lost|leak]   (default: 30 s)
#
# --plant plants a fault (a node cut off from cancellation, or dead contexts kept forever) to show
# that the verdict catches it: such a run must end with RESULT: FAIL and exit 1.
#
# Reports operations done, cancellations observed, max heap, retained heap and live threads;
# exits non-zero on any lost cancellation, callback miscount, or growth in retained memory.
# Runs on $JAVA_HOME/bin/java if JAVA_HOME is set, else java on the PATH, with -Xmx256m (override
# with SOAK_HEAP=512m). Builds the module first; ctx4j-core must be installed in the local Maven
# repository (flock /tmp/ctx4j-core.lock mvn -q -o install -pl ctx4j-core -DskipTests).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,13p' "$0"
  exit 0
fi
(cd "$here" && mvn -q -o -f pom.xml compile)
core="${CORE_JAR:-${M2_REPO:-$HOME/.m2/repository}/io/ctx4j/ctx4j-core/0.1.0-SNAPSHOT/ctx4j-core-0.1.0-SNAPSHOT.jar}"
if [[ ! -f "$core" ]]; then
  echo "ctx4j-core jar not found at $core; install it first (see the header of this script)" >&2
  exit 2
fi
exec "$java" "-Xmx${SOAK_HEAP:-256m}" -cp "$here/target/classes:$core" io.ctx4j.stress.Soak "$@"
