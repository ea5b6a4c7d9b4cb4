#!/usr/bin/env bash
# Reproducible build check: builds the published modules twice, from two copies of the source tree
# in different directories (so no absolute path may leak into an artifact), with -DskipTests, and
# fails unless every jar (main and -sources) and every flattened POM is byte for byte the same.
# project.build.outputTimestamp pins the entry times; the toolchains pin the compilers.
#   scripts/reproducible-check.sh        about 1 minute (the two builds run side by side)
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

case "${1:-}" in
  "") ;;
  --against-release-repo)
    repo="$PWD/target/release-repo"
    versions=("$repo"/io/ctx4j/ctx4j-core/*/)
    if [ ! -d "${versions[0]}" ] || [ ${#versions[@]} != 1 ]; then
      echo "FAIL: $repo holds no single version of ctx4j-core: run scripts/release-dry-run.sh first" >&2
      exit 1
    fi
    version=$(basename "${versions[0]}")
    rm -rf "$work" && mkdir -p "$work/b"
    tar --exclude=./target --exclude='./*/target' --exclude=./.git -cf - . | tar -C "$work/b" -xf -
    # As the dry run builds (release profile, its version), without javadoc and signatures, which
    # do not change the jars, the sources jars or the POM.
    if ! (cd "$work/b" && JAVA_HOME=$JDK17_HOME mvn -B -ntp -q -Dstyle.color=never \
        "${CTX4J_TOOLCHAINS[@]}" ${CTX4J_MVN_ARGS:-} -P release -Drevision="$version" \
        -Dmaven.javadoc.skip=true -Dgpg.skip=true -DskipTests -pl "$pl" -am package) \
        >"$work/build-b.log" 2>&1; then
      echo "FAIL: the build of the copy failed:" >&2
      cat "$work/build-b.log" >&2
      exit 1
    fi
    checked=0 differ=0
    for m in "${published[@]}"; do
      for f in "$work/b/$m/target/"*.jar "$work/b/$m/target/flattened-pom.xml"; do
        [ -f "$f" ] || continue
        name=$(basename "$f")
        [ "$name" = flattened-pom.xml ] && name="$m-$version.pom"
        deployed="$repo/io/ctx4j/$m/$version/$name"
        checked=$((checked + 1))
        if [ ! -f "$deployed" ]; then
          echo "MISSING from the dry run's repository: $deployed" >&2
          differ=$((differ + 1))
        elif ! cmp -s "$f" "$deployed"; then
          echo "DIFFERS: $m/target/$(basename "$f") and $deployed" >&2
          differ=$((differ + 1))
        fi
      done
    done
    [ $checked -ge 15 ] || { echo "FAIL: only $checked artifacts built" >&2; exit 1; }
    if [ $differ -gt 0 ]; then
      echo "FAIL: $differ of $checked artifacts differ from the dry run's (unpack both and diff)" >&2
      exit 1
    fi
    echo "reproducible: $checked artifacts (jars, -sources jars, POMs) of a second build byte for byte" \
      "identical to those the release dry run deployed ($version)"
    exit 0
    ;;
  *) echo "usage: scripts/reproducible-check.sh [--against-release-repo]" >&2; exit 2 ;;
esac
rm -rf "$work" && mkdir -p "$work"

# The two builds run side by side: each is mostly one javac at a time, so on two cores the pair
# takes little more than one (serial, they were 90 to 101 s of CI's 20 minutes).
pids=()
for copy in a b; do
  mkdir -p "$work/$copy"
  # The working tree as it is (committed or not), without build output.
  tar --exclude=./target --exclude='./*/target' --exclude=./.git -cf - . | tar -C "$work/$copy" -xf -
  (cd "$work/$copy" && JAVA_HOME=$JDK17_HOME mvn -B -ntp -q -Dstyle.color=never \
     "${CTX4J_TOOLCHAINS[@]}" ${CTX4J_MVN_ARGS:-} -P release -Dmaven.javadoc.skip=true -Dgpg.skip=true \
     -DskipTests -pl "$pl" -am package) >"$work/build-$copy.log" 2>&1 &
  pids+=($!)
done
built=0
for i in 0 1; do
  copy=$([ $i = 0 ] && echo a || echo b)
  if wait "${pids[$i]}"; then
    built=$((built + 1))
  else
    echo "FAIL: the build of copy $copy failed:" >&2
    cat "$work/build-$copy.log" >&2
  fi
done
[ $built = 2 ] || exit 1

checked=0 differ=0
for m in "${published[@]}"; do
  for f in "$work/a/$m/target/"*.jar "$work/a/$m/target/flattened-pom.xml"; do
    [ -f "$f" ] || continue
    other="$work/b/${f#"$work/a/"}"
    checked=$((checked + 1))
    if ! cmp -s "$f" "$other"; then
      echo "DIFFERS: ${f#"$work/a/"}" >&2
      differ=$((differ + 1))
    fi
  done
done
[ $checked -ge 15 ] || { echo "FAIL: only $checked artifacts built" >&2; exit 1; }
if [ $differ -gt 0 ]; then
  echo "FAIL: $differ of $checked artifacts differ between two builds (unpack both under $work and diff)" >&2
  exit 1
fi
echo "reproducible: $checked artifacts (jars, -sources jars, POMs) byte for byte identical in two builds"
