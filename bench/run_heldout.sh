#!/usr/bin/env bash
# Generalisation to unseen classes through the API (issue 21): for Fashion-MNIST and MNIST and
# three held-out pairs of classes each, trains on the other eight classes with the service's
# default recipe (or --spec), then measures the error on the held-out classes next to PCA fitted
# on the same eight (bench_service_heldout). One fresh server per run; RESULT lines to stdout.
#
#   bench/run_heldout.sh [--datasets "fashion mnist"] [--splits "0,1 4,5 8,9"]
#                        [--spec 'TEXT PROTO'] [--server-flags "..."]
# Duration: about 10-15 minutes per run on 2 cores (48k training images, early stopping).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
datasets="fashion mnist"
splits="0,1 4,5 8,9"
spec=""
server_flags="--training-threads 2 --training-nice 0"
while [ $# -gt 0 ]; do
  case "$1" in
    --datasets) datasets="$2"; shift 2 ;;
    --splits) splits="$2"; shift 2 ;;
    --spec) spec="$2"; shift 2 ;;
    --server-flags) server_flags="$2"; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
for dataset in $datasets; do
  for split in $splits; do
    data="$(mktemp -d)"
    # shellcheck disable=SC2086
    "$build/server/bottleneckd" --listen 127.0.0.1:0 --data-dir "$data" $server_flags \
      > "$data.out" 2> "$data.log" &
    pid=$!
    for _ in $(seq 100); do grep -q "listening on" "$data.out" 2>/dev/null && break; sleep 0.1; done
    address="$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$data.out")"
    "$build/bench/bench_service_heldout" --server "$address" --dataset "$dataset" \
      --holdout "$split" --spec "$spec" || echo "RESULT heldout dataset=$dataset holdout=$split FAILED"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$data" "$data.out" "$data.log"
  done
done
