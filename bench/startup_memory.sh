#!/usr/bin/env bash
# Startup time and memory of bottleneckd with N synthetic items (bench_service_load serve-time:
# exec to grpc.health.v1 SERVING, then VmRSS):
#   - an empty data directory (the baseline RSS);
#   - N float-32 32-d codes with the index snapshot present, then with <data_dir>/index removed
#     (the index is rebuilt from the stored codes);
#   - N 256-bit binary codes with the snapshot present.
# Creating the collections through the API (streaming upsert, --no-sync-writes) gives the bulk
# ingest figure. Every line of interest is a "RESULT ..." line (bench/results_table.py).
#
#   bench/startup_memory.sh [--build-dir DIR] [--work DIR] [--items 1000000] [--trials 3]
#                           [--rebuild-trials 1] [--float-data DIR]
#   --float-data: a data directory that already holds collection "synth" with --items items
#   (bench/run_all.sh passes the one its search benchmark used); otherwise it is created here.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
work=""
items=1000000
trials=3
rebuild_trials=1
float_data=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$2"; shift ;;
    --work) work="$2"; shift ;;
    --items) items="$2"; shift ;;
    --trials) trials="$2"; shift ;;
    --rebuild-trials) rebuild_trials="$2"; shift ;;
    --float-data) float_data="$2"; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
own_work=0
if [ -z "$work" ]; then work="$(mktemp -d "${TMPDIR:-/tmp}/bn-startup.XXXXXX")"; own_work=1; fi
LOAD="$build/bench/bench_service_load"
SERVER="$build/server/bottleneckd"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work/data-empty" "$work/data-binary" "$work/data-float-own"
  if [ "$own_work" = 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# create DATA_DIR COLLECTION TAG [setup-synth flags]: a server with relaxed durability (a bulk
# load), N items through streaming upsert, RSS after the ingest, then a clean shutdown (which
# writes the index snapshot).
create() {
  local data="$1" collection="$2" tag="$3"; shift 3
  mkdir -p "$data"
  "$SERVER" --listen 127.0.0.1:0 --data-dir "$data" --log-level warning --no-sync-writes \
    > "$data.out" 2>> "$work/startup-server.log" &
  pid=$!
  for _ in $(seq 600); do grep -q "listening on" "$data.out" 2>/dev/null && break; sleep 0.1; done
  local address
  address="$(sed -n 's/.*listening on \([^ ,]*\).*/\1/p' "$data.out")"
  "$LOAD" setup-synth --server "$address" --collection "$collection" --items "$items" --dim 32 \
    --tag "bulk-$tag" "$@"
  echo "RESULT what=rss tag=after-ingest-$tag items=$items rss_mb=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")"
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
}

serve_time() {  # serve_time DATA_DIR TAG
  "$LOAD" serve-time --server-bin "$SERVER" --data-dir "$1" --log "$work/serve-time.log" \
    --tag "$2" -- --log-level warning
}

mkdir -p "$work/data-empty"
for t in $(seq "$trials"); do serve_time "$work/data-empty" empty; done

if [ -z "$float_data" ]; then
  float_data="$work/data-float-own"
  create "$float_data" synth float32
fi
for t in $(seq "$trials"); do serve_time "$float_data" snapshot-float32; done
for t in $(seq "$rebuild_trials"); do
  rm -rf "$float_data/index"
  serve_time "$float_data" rebuild-float32  # its shutdown writes the snapshot again
done

create "$work/data-binary" synthbin binary256 --binary-bits 256
for t in $(seq "$trials"); do serve_time "$work/data-binary" snapshot-binary256; done
