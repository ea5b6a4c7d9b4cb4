#!/bin/bash
# usage: timer-thread-switches.sh JAR JAVA [FilterLoad options...]
# Runs FilterLoad (its report goes to fl.out) and prints the ctx4j-timer thread's context switch
# counts and CPU ticks as last read before the JVM exited.
jar=$1; java=$2; shift 2
$java -Xms1g -Xmx1g -cp $jar io.ctx4j.bench.servlet.FilterLoad "$@" > fl.out 2>&1 &
pid=$!
last=""
while kill -0 $pid 2>/dev/null; do
  for t in /proc/$pid/task/*; do
    if [ "$(cat $t/comm 2>/dev/null)" = "ctx4j-timer" ]; then
      last="$(grep ctxt_switches $t/status | tr '\n' ' ') $(awk '{print "utime="$14" stime="$15}' $t/stat)"
    fi
  done
  sleep 0.5
done
echo "timer thread: $last"
