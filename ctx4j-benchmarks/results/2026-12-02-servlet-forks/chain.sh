#!/bin/bash
# The six combinations, one after the other: 6 forks x 20 rounds each.
J17=java
J25=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
JAR=/tmp/fl-c19b9d9.jar
OUT=/tmp/forks/out
for combo in "jdk 25" "jetty 25" "jdk 17" "jetty 17" "raw 17" "raw 25"; do
  set -- $combo
  client=$1; jdk=$2
  if [ "$jdk" = 25 ]; then JAVA=$J25; else JAVA=$J17; fi
  d="$OUT/$client-client-jdk$jdk"
  mkdir -p "$d"
  echo "$(date -u +%T) start $client $jdk" >> /tmp/forks/chain.log
  "$JAVA" -Xms1g -Xmx1g -XX:+AlwaysPreTouch -cp "$JAR" io.ctx4j.bench.servlet.FilterLoad \
    --client "$client" --forks 6 --rounds 20 --warmup-ms 20000 --out "$d" > "$d/parent.txt" 2>&1
  echo "$(date -u +%T) end $client $jdk rc=$?" >> /tmp/forks/chain.log
done
echo done >> /tmp/forks/chain.log
