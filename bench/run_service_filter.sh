#!/usr/bin/env bash
# Runs bench_service_filter twice, each time against a bottleneckd on a fresh data directory:
# with the default filtered-search crossover, then with BN_FILTER_EXACT_BELOW=0 (always the
# filtered graph walk), to measure where the exact scan of matching items becomes faster.
#   bench/run_service_filter.sh [bench_service_filter flags, e.g. --queries 200]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
run() {
  local data pid address
  data="$(mktemp -d)"
  "$build/server/bottleneckd" --listen 127.0.0.1:0 --data-dir "$data" > "$data.out" 2> "$data.log" &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$data.out" 2>/dev/null && break; sleep 0.1; done
  address="$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$data.out")"
  "$build/bench/bench_service_filter" --server "$address" "$@" || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$data" "$data.out" "$data.log"
}
echo "== default crossover"
run "$@"
echo "== BN_FILTER_EXACT_BELOW=0 (always the graph walk)"
BN_FILTER_EXACT_BELOW=0 run "$@"
