#!/usr/bin/env bash
# Profiles ContextServletFilter under FilterLoad with JFR and attributes the samples (FilterProfile):
# the method of results/2026-12-01-servlet-filter/profile.md, re-runnable.
#   ctx4j-benchmarks/scripts/filter-profile.sh OUT_DIR [JAR]
# JAR defaults to ctx4j-benchmarks/target/benchmarks.jar (mvn -B -ntp -q -pl ctx4j-benchmarks -am
# package -DskipTests). Uses the java on the PATH (the profiles in results/ used JDK 17).
# Writes OUT_DIR/fl.jfr, OUT_DIR/results.md (FilterLoad's own, not a valid A/B under load),
# OUT_DIR/run.log (with the process's user and sys time) and OUT_DIR/profile.md.
# FILTER_LOAD_ARGS: extra FilterLoad arguments, e.g. "--client raw". Not --forks: the recording
# below would stay with the parent (FilterLoad keeps file-naming JVM options from its forks).
set -euo pipefail
out=${1:?usage: filter-profile.sh OUT_DIR [JAR]}
jar=${2:-ctx4j-benchmarks/target/benchmarks.jar}
mkdir -p "$out"
java_home=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
# The JDK's profile settings with Java execution samples every 1 ms instead of 10 ms.
sed 's|<setting name="period" control="method-sampling-java-interval">10 ms</setting>|<setting name="period" control="method-sampling-java-interval">1 ms</setting>|' \
  "$java_home/lib/jfr/profile.jfc" > "$out/fast.jfc"
grep -q 'method-sampling-java-interval">1 ms' "$out/fast.jfc" || { echo "could not set the 1 ms period" >&2; exit 1; }
{ time java -Xms1g -Xmx1g -XX:StartFlightRecording=filename="$out/fl.jfr",settings="$out/fast.jfc" \
    -cp "$jar" io.ctx4j.bench.servlet.FilterLoad --rounds 8 --phase-ms 1500 --warmup-ms 15000 \
    ${FILTER_LOAD_ARGS:-} --out "$out"; } > "$out/run.log" 2>&1
java -cp "$jar" io.ctx4j.bench.servlet.FilterProfile "$out/fl.jfr" > "$out/profile.md"
cat "$out/profile.md"
