#!/usr/bin/env bash
# Reproducible build check: builds the published modules from a copy of the source tree in another
# directory (so no absolute path may leak into an artifact), with -DskipTests, and fails unless
# every jar (main and -sources) and every flattened POM is byte for byte the same as another
# build's. project.build.outputTimestamp pins the entry times; the toolchains pin the compilers; every
# build runs Maven on JDK 17, as the release does (the jar tool of the JDK running Maven rewrites
# module-info.class: with Maven on JDK 25 the jars differ there, and the release profile refuses it).
#   scripts/reproducible-check.sh        two builds, from two copies, side by side (about 1.5 min)
#   scripts/reproducible-check.sh --against-release-repo
#                                        one build, from one copy, compared with what
#                                        scripts/release-dry-run.sh just deployed to
#                                        target/release-repo from this tree (the same release
#                                        profile and version; CI runs it so, after the dry run:
#                                        about half the time)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/jdks.sh
ensure_tools
work="$PWD/target/reproducible"
published=(ctx4j-core ctx4j-concurrent ctx4j-taskgroup ctx4j-signal ctx4j-jdbc ctx4j-http ctx4j-grpc
  ctx4j-servlet ctx4j-okhttp ctx4j-httpclient5 ctx4j-spring-boot ctx4j-bom)
pl=$(printf '%s,' "${published[@]}"); pl=${pl%,}

against=false
case "${1:-}" in
  "") ;;
  --against-release-repo) against=true ;;
  *) echo "usage: scripts/reproducible-check.sh [--against-release-repo]" >&2; exit 2 ;;
esac

# Copies the working tree as it is (committed or not, without build output) to $work/COPY and
# builds it there, its log in $work/build-COPY.log. Extra arguments go to Maven.
build() {
  local copy=$1
  shift
  mkdir -p "$work/$copy"
  tar --exclude=./target --exclude='./*/target' --exclude=./.git -cf - . | tar -C "$work/$copy" -xf -
  (cd "$work/$copy" && JAVA_HOME=$JDK17_HOME mvn -B -ntp -q -Dstyle.color=never \
     "${CTX4J_TOOLCHAINS[@]}" ${CTX4J_MVN_ARGS:-} -T "${CTX4J_MVN_THREADS:-2}" -P release -Dmaven.javadoc.skip=true -Dgpg.skip=true \
     -DskipTests -pl "$pl" -am "$@" package) >"$work/build-$copy.log" 2>&1
}
failed_build() {
  echo "FAIL: the build of copy $1 failed:" >&2
  cat "$work/build-$1.log" >&2
}

rm -rf "$work" && mkdir -p "$work"
if $against; then
  repo="$PWD/target/release-repo"
  versions=("$repo"/io/ctx4j/ctx4j-core/*/)
  if [ ! -d "${versions[0]}" ] || [ ${#versions[@]} != 1 ]; then
    echo "FAIL: $repo holds no single version of ctx4j-core: run scripts/release-dry-run.sh first" >&2
    exit 1
  fi
  version=$(basename "${versions[0]}")
  # As the dry run builds (release profile, its version), without javadoc and signatures, which do
  # not change the jars, the sources jars or the POM.
  build b -Drevision="$version" || { failed_build b; exit 1; }
  # The counterpart of an artifact of copy b: the file the dry run deployed.
  counterpart() {
    local m=$1 name
    name=$(basename "$2")
    [ "$name" = flattened-pom.xml ] && name="$m-$version.pom"
    echo "$repo/io/ctx4j/$m/$version/$name"
  }
  what="a second build and the release dry run ($version)"
else
  # The two builds run side by side: each is mostly one javac at a time, so on two cores the pair
  # takes little more than one (serial, they were 90 to 101 s of CI's 20 minutes).
  build a & pa=$!
  build b & pb=$!
  ok=true
  wait $pa || { failed_build a; ok=false; }
  wait $pb || { failed_build b; ok=false; }
  $ok || exit 1
  counterpart() { echo "$work/a/${2#"$work/b/"}"; }
  what="two builds"
fi

checked=0 differ=0
for m in "${published[@]}"; do
  for f in "$work/b/$m/target/"*.jar "$work/b/$m/target/flattened-pom.xml"; do
    [ -f "$f" ] || continue
    other=$(counterpart "$m" "$f")
    checked=$((checked + 1))
    if ! cmp -s "$f" "$other"; then
      echo "DIFFERS (or missing): ${f#"$work/"} and $other" >&2
      differ=$((differ + 1))
    fi
  done
done
[ $checked -ge 15 ] || { echo "FAIL: only $checked artifacts built" >&2; exit 1; }
if [ $differ -gt 0 ]; then
  echo "FAIL: $differ of $checked artifacts differ between $what (unpack both and diff)" >&2
  exit 1
fi
echo "reproducible: $checked artifacts (jars, -sources jars, POMs) byte for byte identical in $what"
