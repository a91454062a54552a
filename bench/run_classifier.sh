#!/usr/bin/env bash
# The seed's "pre-training a DNN" through the API (issue 21): a fresh server, then
# bench_service_classifier on MNIST (60k training images with labels, the service's default
# auto-encoder recipe, classifiers fine-tuned from its encoder and from random weights, test
# error through Classify, kNN votes through Search). RESULT lines to stdout; the server's log is
# kept next to the data directory (mktemp -d: under $TMPDIR) when the run fails.
#
#   bench/run_classifier.sh [--dataset mnist|fashion] [--training 'TEXT PROTO']
#                           [--augmentation 'TEXT PROTO'] [--variants pretrained+aug,random,...]
#                           [--ae-spec 'TEXT PROTO'] [--server-flags "..."]
#                           [-- more bench_service_classifier flags]
# Duration (bench/RESULTS-classifier.md, one training thread, load average 10-15 on 2 cores):
# about 12 min for the auto-encoder (10 epochs) and 6-11 min per classifier (10 epochs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
dataset=mnist
training=""
augmentation=""
variants="pretrained,random"
ae_spec=""
server_flags="--training-threads 2 --training-nice 0"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dataset) dataset="$2"; shift 2 ;;
    --training) training="$2"; shift 2 ;;
    --augmentation) augmentation="$2"; shift 2 ;;
    --variants) variants="$2"; shift 2 ;;
    --ae-spec) ae_spec="$2"; shift 2 ;;
    --server-flags) server_flags="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
data="$(mktemp -d)"
# shellcheck disable=SC2086
"$build/server/bottleneckd" --listen 127.0.0.1:0 --data-dir "$data" $server_flags \
  > "$data.out" 2> "$data.log" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$data.out" 2>/dev/null && break; sleep 0.1; done
address="$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$data.out")"
status=0
"$build/bench/bench_service_classifier" --server "$address" --dataset "$dataset" \
  --training "$training" --augmentation "$augmentation" --variants "$variants" --ae-spec "$ae_spec" "${extra[@]}" || status=$?
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
if [ "$status" -ne 0 ]; then
  echo "RESULT classifier dataset=$dataset FAILED (server log: $data.log)"
  rm -rf "$data" "$data.out"
  exit "$status"
fi
rm -rf "$data" "$data.out" "$data.log"
