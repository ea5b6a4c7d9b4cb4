#!/usr/bin/env bash
# Builds the two diagnostic jars of this folder from a benchmarks.jar: the filter's doFilter
# replaced by a request wrapper that answers the context attribute (variant 1), or by that and a
# response wrapper with an output stream wrapper (variant 2), the structure of ContextServletFilter
# without any ctx4j work. Not a filter to use.
#   build-variants.sh BENCHMARKS_JAR OUT_DIR   -> OUT_DIR/bench-variant1.jar, bench-variant2.jar
set -euo pipefail
jar=${1:?usage: build-variants.sh BENCHMARKS_JAR OUT_DIR}
out=${2:?OUT_DIR missing}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/io/ctx4j/servlet" "$out"
cp "$repo/ctx4j-servlet/src/main/java/io/ctx4j/servlet/ContextServletFilter.java" "$work/src/io/ctx4j/servlet/"
(cd "$work/src" && patch -s -p1 io/ctx4j/servlet/ContextServletFilter.java < "$here/variants.patch")
for v in 1 2; do
  mkdir -p "$work/c$v"
  sed "s/Integer.getInteger(\"ctx4j.variant\", 0)/Integer.getInteger(\"ctx4j.variant\", $v)/" \
    "$work/src/io/ctx4j/servlet/ContextServletFilter.java" > "$work/F$v.java"
  mkdir -p "$work/s$v/io/ctx4j/servlet"
  mv "$work/F$v.java" "$work/s$v/io/ctx4j/servlet/ContextServletFilter.java"
  javac -d "$work/c$v" -cp "$jar" "$work/s$v/io/ctx4j/servlet/ContextServletFilter.java"
  cp "$jar" "$out/bench-variant$v.jar"
  (cd "$work/c$v" && jar uf "$out/bench-variant$v.jar" io/ctx4j/servlet/*.class)
done
echo "built $out/bench-variant1.jar and $out/bench-variant2.jar"
