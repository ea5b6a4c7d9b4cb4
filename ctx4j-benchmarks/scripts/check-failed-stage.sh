#!/usr/bin/env bash
# Checks that a failed servlet stage of the full run is recorded and does not end the run early:
# run-benchmarks.sh in full mode with only the servlet stage, whose FilterLoad is made to fail (bad
# arguments), must still go to its end, name the failure in meta.txt and on stderr, and exit 1. (With
# JMH stages too, the report is then made from them, as in the full run of 2026-12-01.)
# Needs target/benchmarks.jar (run-benchmarks.sh --quick builds it). About 15 seconds.
#
#   scripts/check-failed-stage.sh [JDK_HOME]     default: $JAVA_HOME, else the java on PATH
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(dirname "$HERE")"
# shellcheck source=../../scripts/jdks.sh
. "$(dirname "$BENCH")/scripts/jdks.sh"
home="${1:-${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
fail() { echo "check-failed-stage: $*" >&2; exit 1; }

set +e
STAGES=servlet FILTER_LOAD_ARGS="--connections 0" "$BENCH/run-benchmarks.sh" \
  --jdk "$home" --no-go --skip-build --out "$out/run" > "$out/stdout" 2> "$out/stderr"
rc=$?
set -e
feature="$(jdk_feature "$home")"
meta="$out/run/raw/jdk$feature/meta.txt"
[ "$rc" = 1 ] || { cat "$out/stdout" "$out/stderr"; fail "exit status $rc, expected 1"; }
grep -q "^Servlet stage: FAILED" "$meta" || fail "meta.txt does not record the failure: $(cat "$meta")"
grep -q "^Duration: " "$meta" || fail "meta.txt has no duration: the run stopped at the failure"
grep -q "FAILED stages: servlet on jdk$feature" "$out/stderr" || fail "stderr does not name the stage: $(cat "$out/stderr")"
grep -q "connections" "$out/run/raw/jdk$feature/servlet.log" || fail "servlet.log lacks FilterLoad's error"
grep -q "^no JMH stage ran (STAGES=servlet): no report" "$out/stdout" || fail "no word on the report: $(cat "$out/stdout")"
echo "check-failed-stage: ok (exit 1, the failure in meta.txt and on stderr, the run went to its end)"
