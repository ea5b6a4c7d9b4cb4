# Sourced by the scripts: finds the two JDKs the project is tested on, or says why not.
# JDK17_HOME / JDK25_HOME may be set by the caller to override the search.

find_jdk() { # $1 = feature version
  local v=$1 d
  for d in /usr/lib/jvm/java-$v-openjdk-amd64 /usr/lib/jvm/java-$v-openjdk* /usr/lib/jvm/temurin-$v-jdk* /usr/lib/jvm/*-$v-* /usr/lib/jvm/jdk-$v*; do
    if [ -x "$d/bin/javac" ] && "$d/bin/java" -version 2>&1 | grep -q "version \"$v[.\"]"; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

JDK17_HOME=${JDK17_HOME:-$(find_jdk 17 || true)}
JDK25_HOME=${JDK25_HOME:-$(find_jdk 25 || true)}

ensure_tools() {
  if [ -z "$JDK17_HOME" ] && command -v apt-get >/dev/null; then
    echo ">> installing OpenJDK 17" >&2
    apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless >/dev/null
    JDK17_HOME=$(find_jdk 17 || true)
  fi
  if ! command -v mvn >/dev/null && command -v apt-get >/dev/null; then
    echo ">> installing Maven" >&2
    apt-get update -qq && apt-get install -y -qq maven >/dev/null
  fi
  [ -n "$JDK17_HOME" ] || { echo "error: no JDK 17 found under /usr/lib/jvm" >&2; return 1; }
  command -v mvn >/dev/null || { echo "error: mvn not found" >&2; return 1; }
}
