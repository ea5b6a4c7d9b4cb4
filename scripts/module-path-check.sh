#!/usr/bin/env bash
# Starts every published module from the module path, on JDK 17 and on JDK 25 (when present): a
# tiny named module per ctx4j module (scripts/module-path/<module>/) that requires it, compiled
# with --release 17 and run with `java --module-path <ctx4j jars + dependencies> --module ...`.
# It proves the descriptors: exports, requires (jdk.unsupported for signal, java.sql, java.net.http,
# jdk.httpserver, grpc-java's automatic modules, jakarta.servlet with ctx4j-servlet's optional Jetty
# modules absent, OkHttp's okhttp3 module, HttpClient 5's automatic modules, Spring's automatic
# modules for ctx4j-spring-boot), the core's qualified export of io.ctx4j.internal (CoreInternals)
# to the integrations that use it, and
# that the multi-release layers load from the module path.
#   scripts/module-path-check.sh      (builds the jars with -DskipTests, in the same Maven run that
#                                      lists the dependencies)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/jdks.sh
ensure_tools
MVN=(mvn -B -ntp -q -Dstyle.color=never "${CTX4J_TOOLCHAINS[@]}" ${CTX4J_MVN_ARGS:-})
mods=(core concurrent taskgroup signal jdbc http grpc servlet okhttp httpclient5 spring-boot)
# Modules whose library is `provided` (the application brings it): its jars join the module path.
provided=(okhttp httpclient5)
pl=$(printf 'ctx4j-%s,' "${mods[@]}"); pl=${pl%,}
work=target/module-path-check
rm -rf "$work" && mkdir -p "$work"

# The jars, and the dependencies outside ctx4j (grpc-java and its own) for the module path.
JAVA_HOME=$JDK17_HOME "${MVN[@]}" package dependency:build-classpath -DskipTests -pl "$pl" -am \
  -DincludeScope=runtime \
  -DexcludeGroupIds=io.ctx4j -Dmdep.outputFile="$PWD/$work/deps-\${project.artifactId}.txt"
# The provided libraries, as the application that brings them has them: OkHttp and its okio and
# kotlin-stdlib, HttpClient 5 and HttpCore 5 and slf4j-api; and the Servlet API, which a container
# provides to ctx4j-servlet. Jetty, optional there (requires static), stays off the path: the
# filter must resolve and run without it. One Maven run for the three (package, a no-op by now, so
# that the reactor hands over the jars of the ctx4j modules they depend on, ctx4j-test-support among
# them, instead of looking for them in a repository).
ppl=$(printf 'ctx4j-%s,' "${provided[@]}" servlet); ppl=${ppl%,}
JAVA_HOME=$JDK17_HOME "${MVN[@]}" package dependency:build-classpath -DskipTests -pl "$ppl" -am \
  -DincludeScope=provided \
  -DexcludeGroupIds=io.ctx4j -Dmdep.outputFile="$PWD/$work/provided-\${project.artifactId}.txt"
servlet_api=$(tr ':' '\n' < "$work/provided-ctx4j-servlet.txt" | grep -E '/jakarta\.servlet-api-[^/]*\.jar$' || true)
printf '%s' "$servlet_api" > "$work/provided-ctx4j-servlet.txt"

# Every ctx4j jar and every dependency on one module path, as an application using them all has.
mp=""
for d in "${mods[@]}"; do
  jar=$(ls ctx4j-$d/target/ctx4j-$d-*.jar | grep -v -e '-sources.jar$' -e '-javadoc.jar$' | head -n 1)
  mp="$mp${mp:+:}$jar"
done
for d in "${mods[@]}"; do
  deps=$(cat "$work/deps-ctx4j-$d.txt" "$work/provided-ctx4j-$d.txt" 2>/dev/null | paste -sd: || true)
  [ -z "$deps" ] || mp="$mp:$deps"
done
# (the Servlet API joined the path in the loop above, from provided-ctx4j-servlet.txt)
[ -s "$work/provided-ctx4j-servlet.txt" ] \
  || { echo "FAIL: no jakarta.servlet-api jar found for ctx4j-servlet" >&2; exit 1; }

failed=0
for jdk in "$JDK17_HOME" "$JDK25_HOME"; do
  [ -n "$jdk" ] || continue
  v=$(jdk_feature "$jdk")
  # Resolves every module of the path at once: split packages, missing requires, bad descriptors.
  if ! out=$("$jdk/bin/java" --module-path "$mp" --add-modules ALL-MODULE-PATH --validate-modules 2>&1); then
    echo "FAIL JDK $v --validate-modules:" >&2; echo "$out" >&2; failed=1
  fi
done
# Every smoke module in one javac run (one run per module took 11 JVM starts, about 15 s of CI).
smoke_of() { echo "io.ctx4j.smoke.${1//-/.}"; }   # spring-boot: io.ctx4j.smoke.spring.boot
msp=()
for m in "${mods[@]}"; do msp+=(--module-source-path "$(smoke_of "$m")=scripts/module-path/$m"); done
"$JDK17_HOME/bin/javac" --release 17 -Xlint:all -Werror -d "$work/out" --module-path "$mp" \
  "${msp[@]}" $(find scripts/module-path -name '*.java')
for m in "${mods[@]}"; do
  smoke=$(smoke_of "$m")
  out="$work/out/$smoke"
  for jdk in "$JDK17_HOME" "$JDK25_HOME"; do
    [ -n "$jdk" ] || continue
    v=$(jdk_feature "$jdk")
    # Only the smoke module and what it requires are resolved: a missing `requires` fails here.
    if line=$("$jdk/bin/java" --module-path "$out:$mp" --module "$smoke/$smoke.Main" 2>&1); then
      echo "JDK $v module path: $line"
    else
      echo "FAIL JDK $v module path, ctx4j-$m:" >&2; echo "$line" >&2; failed=1
    fi
  done
done
# ctx4j-spring-boot once more without its optional modules (requires static: the RestClient and
# WebClient pieces, spring.web, spring.webflux, Reactor, Jetty's client, and what only they bring):
# it must resolve and run with Spring Boot's core alone, as in an application without web clients.
core_mp=$(tr ':' '\n' <<<"$mp" | grep -v -E '/(spring-web|spring-webflux|spring-boot-restclient|spring-boot-webclient|spring-boot-http-[a-z]+|reactor-[a-z-]+|reactive-streams|netty-[a-z0-9-]+|jetty-client)-[0-9][^/]*\.jar$' | paste -sd: -)
for jdk in "$JDK17_HOME" "$JDK25_HOME"; do
  [ -n "$jdk" ] || continue
  v=$(jdk_feature "$jdk")
  if line=$("$jdk/bin/java" --module-path "$work/out/io.ctx4j.smoke.spring.boot:$core_mp" \
      --module io.ctx4j.smoke.spring.boot/io.ctx4j.smoke.spring.boot.Main 2>&1) \
      && ! "$jdk/bin/java" --module-path "$core_mp" --list-modules 2>/dev/null | grep -q -E '^(spring\.web|spring\.webflux|reactor\.core|org\.eclipse\.jetty\.client)[@ ]'; then
    echo "JDK $v module path, Spring web modules absent: $line"
  else
    echo "FAIL JDK $v module path, ctx4j-spring-boot without its optional modules:" >&2; echo "$line" >&2; failed=1
  fi
done
[ -n "$JDK25_HOME" ] || echo "!! no JDK 25: the module path was checked on JDK 17 only" >&2
[ $failed = 0 ] && echo "module path ok: ${#mods[@]} modules"
exit $failed
