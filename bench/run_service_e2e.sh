#!/usr/bin/env bash
# Starts bottleneckd on a fresh data directory and runs bench_service_e2e against it.
#   bench/run_service_e2e.sh [bench_service_e2e flags, e.g. --pretrain --epochs 20]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
data="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
"$build/server/bottleneckd" --listen 127.0.0.1:0 --data-dir "$data" > "$data.out" 2> "$data.log" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$data.out" 2>/dev/null && break; sleep 0.1; done
address="$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$data.out")"
"$build/bench/bench_service_e2e" --server "$address" "$@"
