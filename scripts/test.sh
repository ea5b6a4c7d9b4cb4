#!/usr/bin/env bash
# The project's test command (what CI runs). About 17-19 minutes on a 2-core machine:
#   1. build + every unit test on JDK 17, then on JDK 25 (README snippets included: ctx4j-docs),
#      each followed by a check that the built jars carry their multi-release layers and module
#      descriptors (scripts/CheckJars.java)
#   2. API compatibility with the baseline (japicmp)
#   3. every published module started from the module path on JDK 17 and 25
#   4. release dry run: deploy to a local file repository, check what Maven Central requires
#   5. reproducible build: a second build, from a copy of the tree elsewhere, gives artifacts byte
#      for byte identical to the release dry run's (without JDK 25: two builds from two copies)
#   6. quick jcstress on JDK 17 and 25, quick benchmark run on JDK 25 (and its failed-stage path,
#      and the A/B script filter-ab.sh)
#   scripts/test.sh            everything
#   scripts/test.sh --unit     step 1 only
# JDK 25 missing: outside CI, everything that can run on JDK 17 runs, what was skipped is listed,
# and the exit status is 0; under CI (CI=true) a missing JDK 25 is an error.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/jdks.sh
ensure_tools

unit_only=false
[ "${1:-}" = "--unit" ] && unit_only=true

MVN=(mvn -B -ntp -e -Dstyle.color=never "${CTX4J_TOOLCHAINS[@]}" ${CTX4J_MVN_ARGS:-})
# The two build + unit test steps build modules two at a time (Maven's -T): one module at a time
# left a core mostly idle (tests wait on servers, sockets and timers), and the two steps took 344 s
# and 319 s of a 20-minute CI budget, against 254 s and 239 s with -T 2 (2026-12-02, 2 cores).
# Tests must therefore hold with another module's tests running beside them (the gRPC deadline
# tests' transit allowances are sized for that). CTX4J_MVN_THREADS=1 builds one module at a time,
# e.g. to tell a load-sensitive test apart.
BUILD_THREADS=(-T "${CTX4J_MVN_THREADS:-2}")
start=$(date +%s)
timings=()
skipped=()
step() { # NAME COMMAND... : runs and times one step
  local name=$1 t0 rc
  shift
  echo "== $name"
  t0=$(date +%s)
  "$@" && rc=0 || rc=$?
  timings+=("$(printf '%5d s  %s' $(( $(date +%s) - t0 )) "$name")")
  if [ $rc -ne 0 ]; then
    echo "!! FAILED: $name (exit $rc)" >&2
    summary
    exit $rc
  fi
}
summary() {
  echo "== time per step"
  printf '%s\n' "${timings[@]}"
  if [ ${#skipped[@]} -gt 0 ]; then
    echo "== SKIPPED (no JDK 25 found; set JDK25_HOME to run them):"
    printf '   - %s\n' "${skipped[@]}"
  fi
  echo "== all done in $(( $(date +%s) - start )) s"
}
check_jars() {
  if $CTX4J_LAYERS; then
    "$JDK17_HOME/bin/java" scripts/CheckJars.java
  else
    echo "!! multi-release layers not checked: no JDK 25 to build them" >&2
  fi
}

echo "== JDK 17: $JDK17_HOME"
echo "== JDK 25: ${JDK25_HOME:-not found}"
step "JDK 17: build + unit tests" env JAVA_HOME="$JDK17_HOME" "${MVN[@]}" "${BUILD_THREADS[@]}" clean install
step "JDK 17 jars: descriptors + multi-release layers" check_jars
if [ -n "$JDK25_HOME" ]; then
  # Second build into the same local repository: same modules, same tests, run on JDK 25.
  step "JDK 25: build + unit tests" env JAVA_HOME="$JDK25_HOME" "${MVN[@]}" "${BUILD_THREADS[@]}" clean install
  step "JDK 25 jars: descriptors + multi-release layers" check_jars
else
  skipped+=("JDK 25 build and unit tests (and the tests of the JDK 21/25 layers)")
fi

if ! $unit_only; then
  # First, while the modules' classes are those of the build above: after the release dry run's and
  # the reproducible check's builds (another version), its Maven run compiled everything again, 38 s
  # against 15 s (2026-12-07).
  step "API compatibility (japicmp)" scripts/api-check.sh
  step "module path (JDK 17${JDK25_HOME:+ and 25})" scripts/module-path-check.sh
  # The release dry run first: it fetches the release profile's plugins into the local repository,
  # so that the reproducible check's two side-by-side builds never download into it at once.
  if [ -n "$JDK25_HOME" ]; then
    step "release dry run" scripts/release-dry-run.sh
  else
    skipped+=("release dry run (a release needs the JDK 21/25 layers)")
  fi
  if [ -n "$JDK25_HOME" ]; then
    # One more build, compared with the dry run's artifacts (two builds side by side took 90 to
    # 101 s of the 20 minutes; one, 45 to 55 s).
    step "reproducible build (against the release dry run)" scripts/reproducible-check.sh --against-release-repo
  else
    step "reproducible build" scripts/reproducible-check.sh
  fi
  # Both JDKs: the memory model is the same, but each compiles the racing code its own way.
  step "jcstress (quick, JDK 17)" env JAVA_HOME="$JDK17_HOME" ctx4j-jcstress/run-jcstress.sh --quick
  if [ -n "$JDK25_HOME" ]; then
    step "jcstress (quick, JDK 25)" env JAVA_HOME="$JDK25_HOME" ctx4j-jcstress/run-jcstress.sh --quick
    # --skip-build: the JDK 25 build above made target/benchmarks.jar from this tree, with the
    # layers (nothing since touched ctx4j-benchmarks/target); building it again took 20 to 35 s.
    step "benchmarks (quick, JDK 25)" env JAVA_HOME="$JDK25_HOME" ctx4j-benchmarks/run-benchmarks.sh --quick --skip-build
    step "benchmarks: a failed servlet stage is recorded, the run goes on" \
      ctx4j-benchmarks/scripts/check-failed-stage.sh "$JDK25_HOME"
    step "benchmarks: filter-ab.sh alternates ABBA and refuses bad arguments" \
      ctx4j-benchmarks/scripts/check-filter-ab.sh "$JDK25_HOME"
  else
    skipped+=("jcstress on JDK 25" "quick benchmark run (JDK 25)")
  fi
fi
summary
