#!/usr/bin/env bash
# Runs the concurrency tests (scripts/sanitizers/tsan_tests.txt, or the ctest -R regex in
# TSAN_TESTS) of a ThreadSanitizer build directory, and fails if any process reported a race.
#
#   scripts/sanitizers/run_tsan_tests.sh BUILD_DIR [JOBS] [ctest args]
#
# Reports of every process, the test binaries and the bottleneckd servers the integration tests
# start, are written to BUILD_DIR/tsan-reports/ (TSAN_OPTIONS log_path) and printed at the end:
# the servers' stderr is otherwise discarded with their data directories. Races inside the
# uninstrumented system libraries (gRPC, absl, protobuf, OpenMP) are suppressed by
# scripts/sanitizers/tsan.supp; never our own code. OMP_NUM_THREADS=1 keeps OpenMP (whose
# libgomp synchronisation TSan cannot see) from running parallel regions; std::thread code is
# unaffected.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:?usage: run_tsan_tests.sh BUILD_DIR [JOBS] [ctest args]}"
jobs="${2:-$(nproc)}"
shift 2 || shift $#
if [ -z "${TSAN_TESTS:-}" ]; then
  TSAN_TESTS="$(grep -v '^#' "$here/tsan_tests.txt" | grep -v '^$' | paste -sd '|')"
fi
reports="$build/tsan-reports"
rm -rf "$reports"
mkdir -p "$reports"
export TSAN_OPTIONS="suppressions=$here/tsan.supp second_deadlock_stack=1 history_size=4 \
log_path=$reports/tsan ${TSAN_OPTIONS:-}"
export OMP_NUM_THREADS=1
cd "$build"
start=$(date +%s)
status=0
ctest --output-on-failure -j "$jobs" -R "$TSAN_TESTS" "$@" || status=$?
echo "tsan: ctest finished in $(( $(date +%s) - start )) s (exit $status)"
shopt -s nullglob
files=("$reports"/tsan*)
if [ ${#files[@]} -gt 0 ]; then
  echo "tsan: ${#files[@]} process(es) reported problems:"
  for f in "${files[@]}"; do
    echo "==== $f"
    cat "$f"
  done
  exit 1
fi
echo "tsan: no reports"
exit "$status"
