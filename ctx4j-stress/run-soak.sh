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
# with SOAK_HEAP=512m). Builds ctx4j-core, ctx4j-test-support and this module from this tree first
# (-DskipTests; nothing is installed, and no ctx4j module is taken from ~/.m2), with the
# toolchains of scripts/jdks.sh so that the core has its JDK 21 layer; the classpath, and so the
# version, comes from Maven (.mvn/maven.config's -Drevision).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,15p' "$0"
  exit 0
fi
cpfile="$here/target/soak-classpath.txt"
log="$here/target/soak-build.log"
mkdir -p "$here/target"
# In a subshell: jdks.sh sets JDK17_HOME and friends, which must not change the soak's own JVM.
if ! (cd "$here/.." && . scripts/jdks.sh && ensure_tools \
    && mvn -q -B -ntp -Dstyle.color=never "${CTX4J_TOOLCHAINS[@]}" -pl ctx4j-stress -am \
       package dependency:build-classpath -DskipTests -DincludeScope=runtime \
       -Dmdep.outputFile="$cpfile") >"$log" 2>&1; then
  cat "$log" >&2
  echo "soak build failed (log: $log)" >&2
  exit 2
fi
exec "$java" "-Xmx${SOAK_HEAP:-256m}" -cp "$here/target/classes:$(cat "$cpfile")" io.ctx4j.stress.Soak "$@"
