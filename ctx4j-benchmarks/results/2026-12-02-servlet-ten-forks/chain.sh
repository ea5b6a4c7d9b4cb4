#!/bin/bash
# Raw client on JDK 17 then JDK 25: 10 forks x 36 rounds each, code of 0d69c90.
J17=java
J25=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
JAR=${JAR:-/tmp/fl-0d69c90.jar}  # mvn -B -ntp -q -pl ctx4j-benchmarks -am package -DskipTests, copied
OUT=${OUT:-/tmp/long/out}
for jdk in 17 25; do
  if [ "$jdk" = 25 ]; then JAVA=$J25; else JAVA=$J17; fi
  d="$OUT/raw-client-jdk$jdk"
  mkdir -p "$d"
  echo "$(date -u +%T) start raw $jdk" >> "$OUT/chain.log"
  "$JAVA" -Xms1g -Xmx1g -XX:+AlwaysPreTouch -cp "$JAR" io.ctx4j.bench.servlet.FilterLoad \
    --client raw --forks 10 --rounds 36 --warmup-ms 20000 --out "$d" > "$d/parent.txt" 2>&1
  echo "$(date -u +%T) end raw $jdk rc=$?" >> "$OUT/chain.log"
done
echo done >> "$OUT/chain.log"
