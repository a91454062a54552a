#!/usr/bin/env bash
# A backup under an upsert stream, restored by a second server (issue 24):
#   bench/run_service_backup.sh [--items N]
# Starts bottleneckd on a fresh data directory, loads N items and takes a backup while upserts
# run (bench_service_backup), restores it with `bottleneckd --restore` into another fresh
# directory (timed until the restored server listens), verifies the restored items and searches,
# and prints the disk usage of the store and the backup (du counts hard-linked files once per
# invocation: the last figure is what the backup adds to the store by then).
#   PRIMARY_FLAGS="--ingest-nice 0" bench/run_service_backup.sh ...   extra flags for the primary
#   LOG_DIR=DIR bench/run_service_backup.sh ...   keep the servers' logs (primary.log with the
#                                                 snapshot timings, restored.log) in DIR
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
work="$(mktemp -d)"
# The servers are started inside $(...) subshells: their pids go to files for the cleanup.
cleanup() {
  for f in "$work"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  sleep 2
  if [ -n "${LOG_DIR:-}" ]; then mkdir -p "$LOG_DIR" && cp "$work"/*.log "$LOG_DIR"/ 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
start() {  # start DATA_DIR [flags]: prints the address
  local dir="$1"; shift
  "$build/server/bottleneckd" --listen 127.0.0.1:0 --data-dir "$dir" "$@" > "$dir.out" 2> "$dir.log" &
  echo $! > "$dir.pid"
  for _ in $(seq 600); do grep -q "listening on" "$dir.out" 2>/dev/null && break; sleep 0.1; done
  sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$dir.out"
}
primary="$(start "$work/primary" ${PRIMARY_FLAGS:-})"
"$build/bench/bench_service_backup" --server "$primary" --state "$work/state" "$@"
backup="$(head -1 "$work/state")"
t0=$(date +%s.%N)
restored="$(start "$work/restored" --restore "$backup")"
t1=$(date +%s.%N)
echo "restore + start until listening: $(echo "$t1 - $t0" | bc) s ($(grep -c "from snapshot" "$work/restored.log" || true) index(es) from snapshot)"
"$build/bench/bench_service_backup" --server "$primary" --restored "$restored" --state "$work/state"
echo "disk usage at the end (du -s, MB; the store has compacted since): store $(du -sm "$work/primary/db" | cut -f1), backup $(du -sm "$backup" | cut -f1), backup beyond the store's files $(du -sm "$work/primary/db" "$backup" | tail -1 | cut -f1)"
