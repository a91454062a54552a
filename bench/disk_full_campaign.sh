#!/usr/bin/env bash
# Long storage-fault campaigns (issue 23), with the oracle of the CI tests:
#   - disk-full cycles (fill to refusal, check searches/health/metrics, kill -9 and restart on the
#     full disk, free space, writes resume) on a tmpfs in a private mount namespace, with the
#     flood stage (DiskFullTest.RefusesWrites...) and without a watermark (RocksDB's own ENOSPC);
#   - random injected I/O faults under the store (StoreFaultsTest.RandomFaults...).
# Prints the per-cycle lines of the tests and a summary; exits non-zero when a test failed.
#
#   bench/disk_full_campaign.sh [--build-dir DIR] [--cycles 50] [--fault-ops 5000]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
cycles=50
fault_ops=5000
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$2"; shift ;;
    --cycles) cycles="$2"; shift ;;
    --fault-ops) fault_ops="$2"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
for filter in 'DiskFullTest.RefusesWritesKeepsSearchingResumesWhenFreedAndRestartsWhenFull' \
              'DiskFullTest.WithoutAWatermarkRocksDbOutOfSpaceIsRecoveredFrom'; do
  start=$(date +%s)
  if ! BN_DISK_FULL_CYCLES="$cycles" "$build/tests/integration_tests" --gtest_filter="$filter" \
      >"$log" 2>&1; then
    status=1
    grep -E "Failure|Expected|Which|Actual" -A3 "$log" | head -40 >&2 || true
  fi
  lines=$(grep -c '^disk-full cycle' "$log" || true)
  grep '^disk-full cycle' "$log" || true
  # Summary: cycles passed, restart and resume times (min / median / max).
  summary() {  # column name
    grep '^disk-full cycle' "$log" | sed -E "s/.*$1 ([0-9.e-]+) s.*/\\1/" | sort -g |
      awk '{ v[NR] = $1 } END { if (NR) printf "%.4f/%.4f/%.4f", v[1], v[int((NR + 1) / 2)], v[NR] }'
  }
  echo "RESULT $filter cycles=$lines restart_s(min/median/max)=$(summary 'restart on the full disk')" \
       "resume_s(min/median/max)=$(summary 'writes resumed') wall_s=$(( $(date +%s) - start ))"
  tail -1 "$log" | grep -q PASSED && echo "PASSED $filter ($lines cycles)" || { echo "FAILED $filter"; status=1; }
done
if ! BN_FAULT_OPS="$fault_ops" "$build/tests/engine_tests" \
    --gtest_filter='StoreFaultsTest.RandomFaultsNeverLoseAcknowledgedWrites' >"$log" 2>&1; then
  status=1
  grep -E "Failure" -A3 "$log" | head -20 >&2 || true
fi
grep '^random faults' "$log" | sed 's/^/RESULT /' || true
exit $status
