# Sourced by the scripts: finds the two JDKs the project is tested on (17 and 25), writes the Maven
# toolchains file that lets any JDK running Maven compile the multi-release layers, or says why not.
#
# Where a JDK N is looked for, first match wins:
#   1. JDK<N>_HOME (JDK17_HOME, JDK25_HOME), if set by the caller
#   2. JAVA_HOME, if it is a JDK N
#   3. the jdkHome entries of ~/.m2/toolchains.xml
#   4. the usual install locations: /usr/lib/jvm/* (Linux), /Library/Java/JavaVirtualMachines/*/
#      Contents/Home (macOS), ~/.sdkman/candidates/java/* (SDKMAN), /opt/java/*, ~/.jdks/*
# After sourcing: JDK17_HOME, JDK25_HOME (empty when not found), and after write_toolchains (which
# ensure_tools calls last):
#   CTX4J_TOOLCHAINS=(-t <root>/.mvn/toolchains.xml -Dctx4j.toolchains)  to pass to every mvn call
#   (without -Dctx4j.toolchains when there is no JDK 25: the layers cannot be built), and
#   CTX4J_LAYERS=true|false.
# No bash 4 features and no GNU-only tools: runs on macOS's bash 3.2 too.

CTX4J_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

jdk_feature() { # $1 = a JDK home; prints its feature version (17, 25, ...) or nothing
  local d=$1 v
  [ -x "$d/bin/javac" ] && [ -x "$d/bin/java" ] || return 1
  if [ -f "$d/release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$d/release" | head -n 1)
  fi
  if [ -z "$v" ]; then
    v=$("$d/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
  fi
  [ -n "$v" ] && echo "$v"
}

jdk_candidates() {
  [ -n "${JAVA_HOME:-}" ] && echo "$JAVA_HOME"
  if [ -f "$HOME/.m2/toolchains.xml" ]; then
    sed -n 's:.*<jdkHome>\(.*\)</jdkHome>.*:\1:p' "$HOME/.m2/toolchains.xml"
  fi
  local d
  for d in /usr/lib/jvm/* /Library/Java/JavaVirtualMachines/*/Contents/Home \
           "$HOME"/.sdkman/candidates/java/* /opt/java/* "$HOME"/.jdks/*; do
    [ -d "$d" ] && [ ! -L "$d" ] && echo "$d"
  done
  # Symbolic links last: /usr/lib/jvm/default-java and friends point at one of the above.
  for d in /usr/lib/jvm/*; do [ -L "$d" ] && echo "$d"; done
  return 0
}

find_jdk() { # $1 = feature version
  local v=$1 d
  while IFS= read -r d; do
    if [ "$(jdk_feature "$d" 2>/dev/null)" = "$v" ]; then
      echo "$d"
      return 0
    fi
  done <<EOF
$(jdk_candidates)
EOF
  return 1
}

JDK17_HOME=${JDK17_HOME:-$(find_jdk 17 || true)}
JDK25_HOME=${JDK25_HOME:-$(find_jdk 25 || true)}
# JDK25_HOME=none: behave as on a machine without JDK 25 (to see what is skipped then).
[ "$JDK25_HOME" != none ] || JDK25_HOME=""

# Writes <root>/.mvn/toolchains.xml (not committed: it holds this machine's paths) with every JDK
# found, and sets CTX4J_TOOLCHAINS. The compiler's layer executions ask for [21,) and [25,).
write_toolchains() {
  local f="$CTX4J_ROOT/.mvn/toolchains.xml" d v
  mkdir -p "$CTX4J_ROOT/.mvn"
  {
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<!-- Written by scripts/jdks.sh; do not edit, do not commit. -->'
    echo '<toolchains>'
    for d in "$JDK25_HOME" "$JDK17_HOME"; do
      [ -n "$d" ] || continue
      v=$(jdk_feature "$d")
      echo "  <toolchain><type>jdk</type><provides><version>$v</version></provides>"
      echo "    <configuration><jdkHome>$d</jdkHome></configuration></toolchain>"
    done
    echo '</toolchains>'
  } > "$f"
  if [ -n "$JDK25_HOME" ]; then
    CTX4J_TOOLCHAINS=(-t "$f" -Dctx4j.toolchains)
    CTX4J_LAYERS=true
  else
    # No JDK that has the layers' API: Maven on 17 skips them (with a warning), and says so.
    CTX4J_TOOLCHAINS=(-t "$f")
    CTX4J_LAYERS=false
  fi
}

# CI (CI=true): both JDKs are required; a missing one is installed with apt-get where a package
# exists, else the run fails saying so. Elsewhere a missing JDK 25 is reported and skipped.
ensure_tools() {
  if [ -z "$JDK17_HOME" ] && command -v apt-get >/dev/null; then
    echo ">> installing OpenJDK 17 (apt-get)" >&2
    apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless >/dev/null
    JDK17_HOME=$(find_jdk 17 || true)
  fi
  if [ -z "$JDK25_HOME" ] && [ "${CI:-}" = true ] && command -v apt-get >/dev/null; then
    apt-get update -qq || true
    if apt-cache policy openjdk-25-jdk-headless 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      echo ">> installing OpenJDK 25 (apt-get)" >&2
      apt-get install -y -qq openjdk-25-jdk-headless >/dev/null
      JDK25_HOME=$(find_jdk 25 || true)
    fi
  fi
  if ! command -v mvn >/dev/null && command -v apt-get >/dev/null; then
    echo ">> installing Maven (apt-get)" >&2
    apt-get update -qq && apt-get install -y -qq maven >/dev/null
  fi
  [ -n "$JDK17_HOME" ] || { echo "error: no JDK 17 found (set JDK17_HOME; searched JAVA_HOME, ~/.m2/toolchains.xml, /usr/lib/jvm, /Library/Java/JavaVirtualMachines, ~/.sdkman)" >&2; return 1; }
  command -v mvn >/dev/null || { echo "error: mvn not found (Maven 3.8+ is needed)" >&2; return 1; }
  if [ -z "$JDK25_HOME" ] && [ "${CI:-}" = true ]; then
    echo "error: CI needs JDK 25 and none was found or installable (no openjdk-25-jdk-headless package in this machine's apt sources). Install a JDK 25 (e.g. Temurin) under /usr/lib/jvm or set JDK25_HOME." >&2
    return 1
  fi
  write_toolchains
}
