#!/usr/bin/env bash
# API compatibility: compares the public API of every published module with the baseline, the
# source tree at the commit named in api-baseline.txt (0.1.0's API; 0.1.0 is not on Maven Central,
# so the baseline jars are built here from that commit). japicmp fails the build on any binary- or
# source-incompatible change of an exported package unless it is declared in the api-check profile
# of pom.xml. Additions are fine. A published module that did not exist at the baseline commit
# (no API to compare with yet) is skipped, and the output names it.
#
# After a release, or after a deliberate break the lead has accepted, move the baseline on with
# one line:   git rev-parse HEAD > api-baseline.txt
# (When 0.1.0 is on Central, the profile can compare with io.ctx4j:<module>:0.1.0 instead.)
#   scripts/api-check.sh        about 1 minute (the baseline build is cached in target/api-baseline)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/jdks.sh
ensure_tools
MVN=(mvn -B -ntp -q -Dstyle.color=never ${CTX4J_MVN_ARGS:-})
published=(ctx4j-core ctx4j-concurrent ctx4j-taskgroup ctx4j-signal ctx4j-jdbc ctx4j-http ctx4j-grpc
  ctx4j-servlet ctx4j-okhttp ctx4j-httpclient5
  ctx4j-spring-boot)
commit=$(grep -v '^#' api-baseline.txt | head -n 1 | tr -d '[:space:]')
base="$PWD/target/api-baseline"

if ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
  echo "error: the API baseline commit $commit (api-baseline.txt) is not in this clone; fetch the full history (git fetch --unshallow)" >&2
  exit 1
fi
if [ "$(cat "$base/jars/.commit" 2>/dev/null)" != "$commit" ]; then
  echo "== building the API baseline from $commit"
  rm -rf "$base" && mkdir -p "$base/src" "$base/jars"
  git archive "$commit" | tar -x -C "$base/src"
  # Only what the API needs: the base classes (Java 17) of the published modules.
  base_pl=""
  for m in "${published[@]}"; do [ -d "$base/src/$m" ] && base_pl="$base_pl${base_pl:+,}$m"; done
  (cd "$base/src" && JAVA_HOME=$JDK17_HOME "${MVN[@]}" -DskipTests -Dmaven.install.skip=true -pl "$base_pl" -am package)
  for m in "${published[@]}"; do
    jar=$(ls "$base/src/$m/target/$m-"*.jar 2>/dev/null | grep -v -e '-sources.jar$' -e '-javadoc.jar$' | head -n 1 || true)
    [ -z "$jar" ] || cp "$jar" "$base/jars/$m.jar"
  done
  echo "$commit" > "$base/jars/.commit"
fi
# A module that did not exist at the baseline commit has no API to stay compatible with: it is
# left out of the comparison (and named), until the baseline moves past it. A module that did exist
# must have its baseline jar.
compared=()
new=()
for m in "${published[@]}"; do
  if ! git cat-file -e "$commit:$m/pom.xml" 2>/dev/null; then
    new+=("$m")
  elif [ -f "$base/jars/$m.jar" ]; then
    compared+=("$m")
  else
    echo "error: no baseline jar for $m although it exists at $commit; delete $base and rerun" >&2
    exit 1
  fi
done
if [ ${#new[@]} -gt 0 ]; then
  echo "== skipped, new since the baseline $commit (no API to compare with): ${new[*]}"
fi
pl=$(printf '%s,' "${compared[@]}"); pl=${pl%,}
echo "== japicmp against $commit"
JAVA_HOME=$JDK17_HOME "${MVN[@]}" "${CTX4J_TOOLCHAINS[@]}" -P api-check -DskipTests \
  -Dctx4j.apiBaseline="$base/jars" -pl "$pl" -am verify
echo "API compatible with $commit: ${#compared[@]} modules compared${new:+, ${#new[@]} new without a baseline skipped (${new[*]})}"
