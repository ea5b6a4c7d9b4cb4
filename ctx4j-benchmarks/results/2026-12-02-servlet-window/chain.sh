#!/bin/bash
J17=java
J25=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
JAR=/tmp/fl-window.jar
echo "$(date -u +%T) start profile" >> /tmp/forks2/chain.log
$J17 -Xms1g -Xmx1g -XX:+AlwaysPreTouch -agentpath:/tmp/ap/x/linux-x64/libasyncProfiler.so=start,event=cpu,interval=1000000,file=/tmp/prof2/raw17.collapsed,collapsed -cp $JAR io.ctx4j.bench.servlet.FilterLoad --client raw --rounds 20 --warmup-ms 20000 --out /tmp/prof2/raw17 > /tmp/prof2/raw17.log 2>&1
for combo in "raw 17" "raw 25" "jetty 25"; do
  set -- $combo
  client=$1; jdk=$2
  if [ "$jdk" = 25 ]; then JAVA=$J25; else JAVA=$J17; fi
  d="/tmp/forks2/out/$client-client-jdk$jdk"
  mkdir -p "$d"
  echo "$(date -u +%T) start $client $jdk" >> /tmp/forks2/chain.log
  "$JAVA" -Xms1g -Xmx1g -XX:+AlwaysPreTouch -cp "$JAR" io.ctx4j.bench.servlet.FilterLoad \
    --client "$client" --forks 6 --rounds 20 --warmup-ms 20000 --out "$d" > "$d/parent.txt" 2>&1
  echo "$(date -u +%T) end $client $jdk rc=$?" >> /tmp/forks2/chain.log
done
echo done >> /tmp/forks2/chain.log
