#!/usr/bin/env bash
# Release dry run: builds the release exactly as it would go to Maven Central and deploys it to a
# local file repository (target/release-repo), then checks that everything Central requires is
# there for every published module: jar, -sources.jar, -javadoc.jar (javadoc with doclint on), a
# flattened POM with name, description, url, licenses, scm and developers, checksums, and .asc
# signatures when a GPG secret key is present (without a key, signing is configured but skipped).
# Nothing goes to ~/.m2 (install is skipped) or to a remote repository.
#   scripts/release-dry-run.sh [VERSION]      default: the version in .mvn/maven.config
#                                             (-Drevision=...) without -SNAPSHOT
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/jdks.sh
ensure_tools

# The one place the version is set (the parent POM has no <revision> property: see pom.xml).
pom_version=$(sed -n 's/^-Drevision=\([^[:space:]]*\).*/\1/p' .mvn/maven.config | head -n 1)
[ -n "$pom_version" ] || { echo "error: no -Drevision=... line in .mvn/maven.config" >&2; exit 1; }
version=${1:-${pom_version%-SNAPSHOT}}
repo="$PWD/target/release-repo"
rm -rf "$repo"
published=(ctx4j-core ctx4j-concurrent ctx4j-taskgroup ctx4j-signal ctx4j-jdbc ctx4j-http ctx4j-grpc
  ctx4j-servlet ctx4j-okhttp ctx4j-httpclient5
  ctx4j-spring-boot)
not_published=(ctx4j-parent ctx4j-benchmarks ctx4j-jcstress ctx4j-stress ctx4j-test-support ctx4j-demo ctx4j-docs)

sign=(-Dgpg.skip=true)
if command -v gpg >/dev/null && [ -n "$(gpg --list-secret-keys 2>/dev/null)" ]; then
  sign=()
  echo "== a GPG secret key is present: artifacts are signed"
else
  echo "== no GPG secret key: signing skipped (a real release needs one)"
fi

echo "== deploying $version to $repo"
# Published modules only (-pl), with what they need (-am). Tests are not what this checks.
# Two modules at a time, as scripts/test.sh builds (CTX4J_MVN_THREADS=1: one at a time): javadoc
# and compilation of one module overlap another's; the artifacts are the same either way (the
# reproducible check compares them byte for byte).
pl=$(printf '%s,' "${published[@]}" ctx4j-bom); pl=${pl%,}
JAVA_HOME=$JDK17_HOME mvn -B -ntp -q -Dstyle.color=never "${CTX4J_TOOLCHAINS[@]}" ${CTX4J_MVN_ARGS:-} \
  -T "${CTX4J_MVN_THREADS:-2}" \
  -P release -Drevision="$version" -DskipTests -Dmaven.install.skip=true "${sign[@]}" \
  -DaltDeploymentRepository="dry-run::file://$repo" \
  -pl "$pl" -am clean deploy

problems=0
fail() { echo "FAIL $*" >&2; problems=$((problems + 1)); }
need() { [ -s "$1" ] || fail "missing $1"; [ -s "$1.sha1" ] || fail "missing $1.sha1"
         if [ ${#sign[@]} = 0 ]; then [ -s "$1.asc" ] || fail "missing $1.asc"; fi; }
check_pom() {
  local pom=$1 tag
  need "$pom"
  [ -s "$pom" ] || return 0
  for tag in name description url licenses scm developers issueManagement; do
    grep -q "<$tag[ >]" "$pom" || fail "$pom has no <$tag>"
  done
  grep -q '<parent>' "$pom" && fail "$pom refers to a parent POM (not flattened)"
  grep -q '\${' "$pom" && fail "$pom has an unresolved \${...}"
  grep -q "<version>$version</version>" "$pom" || fail "$pom is not version $version"
}
for a in "${published[@]}"; do
  d="$repo/io/ctx4j/$a/$version"
  for suffix in .jar -sources.jar -javadoc.jar; do need "$d/$a-$version$suffix"; done
  check_pom "$d/$a-$version.pom"
  # The javadoc jar documents the exported packages only.
  if [ -s "$d/$a-$version-javadoc.jar" ] && unzip -l "$d/$a-$version-javadoc.jar" | grep -q '/internal/'; then
    fail "$a-$version-javadoc.jar documents an internal package"
  fi
done
check_pom "$repo/io/ctx4j/ctx4j-bom/$version/ctx4j-bom-$version.pom"
for a in "${published[@]}"; do
  grep -q "<artifactId>$a</artifactId>" "$repo/io/ctx4j/ctx4j-bom/$version/ctx4j-bom-$version.pom" 2>/dev/null \
    || fail "the BOM does not manage $a"
done
for a in "${not_published[@]}"; do
  [ ! -e "$repo/io/ctx4j/$a" ] || fail "$a was deployed; it must not be published"
done
# The jars themselves: module descriptors and every multi-release layer.
JAVA_HOME=$JDK17_HOME "$JDK17_HOME/bin/java" scripts/CheckJars.java >/dev/null || fail "scripts/CheckJars.java"

if [ $problems -gt 0 ]; then
  echo "release dry run: $problems problem(s)" >&2
  exit 1
fi
echo "release dry run ok: ${#published[@]} modules + BOM, version $version, in $repo:"
(cd "$repo" && find . -type f ! -name '*.md5' ! -name '*.sha1' ! -name 'maven-metadata*' | sort | sed 's/^/  /')
