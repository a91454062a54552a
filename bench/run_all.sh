#!/usr/bin/env bash
# The performance suite: builds the benchmarks (Release), runs every figure next to its reference
# (each pair alternated 3 times; medians reported) and writes bench/RESULTS.md.
#
#   bench/run_all.sh [--quick | --full] [--build-dir DIR] [--out FILE] [--no-build]
#                    [--note TEXT] [--skip-training] [--skip-service]
#
#   (default)  the synthetic-code parts use 250k items; 5 s load runs
#   --quick    shorter runs, 50k synthetic items, smaller training sets (a smoke test)
#   --full     the issue's sizes: 1M synthetic items (ingest, in-process hnswlib build and index
#              rebuild at 1M each take minutes), 10 s load runs
#   Durations: --quick took 24 minutes on the shared development machine at load average 5-13
#   (2-thread training and the conv comparison took 18 of them); estimates for a quiet machine,
#   not yet measured: --quick 5-8, default 20-25, --full about 45 minutes.
#   --note TEXT is printed in bold above the table (e.g. "taken on a busy machine").
#   Run it as `nice -n 10 bench/run_all.sh ...` on a shared machine. Do not edit this script
#   while it runs (bash reads it as it goes).
#
# Figures (see bench/RESULTS.md for the table): training samples/s vs PyTorch and GFLOP/s vs
# oneDNN's matmul (bench_ae_speed, ae_speed_torch.py), RBM pre-training samples/s
# (bench_ae_quality), dense encode latency/throughput vs PyTorch (bench_encode_speed,
# encode_speed_torch.py), then through a real bottleneckd on loopback (bench_service_load):
# search by code (at the smallest ef whose recall@10 reaches 0.98: --ef auto) vs the gRPC health
# Check on the same server and vs in-process hnswlib, search
# by image with micro-batching on and off (--encode-batch-max 1), streaming ingest with
# --sync-writes on and off, bulk ingest of synthetic codes, restart time with and without the
# index snapshot, and RSS per million items for float and 256-bit binary codes
# (bench/startup_memory.sh).
#
# PyTorch: Debian's python3-torch (scripts/install-deps.sh --bench), 2 threads, run as
# /usr/bin/python3 without the environment's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
out="$root/bench/RESULTS.md"
mode=default
do_build=1
note=""
skip_training=0
skip_service=0
cmdline="bench/run_all.sh $*"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --build-dir) build="$2"; shift ;;
    --out) out="$2"; shift ;;
    --no-build) do_build=0 ;;
    --note) note="$2"; shift ;;
    --skip-training) skip_training=1 ;;
    --skip-service) skip_service=1 ;;
    *) echo "unknown argument $1 (see the header of bench/run_all.sh)" >&2; exit 2 ;;
  esac
  shift
done

TRIALS=3
case "$mode" in
  quick)
    AE_ROWS=3200; AE_EPOCHS=2; CONV_ROWS=1280; RBM_ROWS=2000; ENC_CALLS=500; ENC_BATCHES=10
    LOAD_S=2; WARMUP_S=0.5; FASHION_TRAIN=5000; INGEST_ITEMS=3000; SYNTH_N=50000
    CHANNELS=per-thread; REBUILD_TRIALS=1 ;;
  default)
    AE_ROWS=12800; AE_EPOCHS=3; CONV_ROWS=2560; RBM_ROWS=6000; ENC_CALLS=2000; ENC_BATCHES=40
    LOAD_S=5; WARMUP_S=1; FASHION_TRAIN=10000; INGEST_ITEMS=10000; SYNTH_N=250000
    CHANNELS=per-thread,shared; REBUILD_TRIALS=1 ;;
  full)
    AE_ROWS=12800; AE_EPOCHS=3; CONV_ROWS=5120; RBM_ROWS=10000; ENC_CALLS=5000; ENC_BATCHES=100
    LOAD_S=10; WARMUP_S=2; FASHION_TRAIN=10000; INGEST_ITEMS=10000; SYNTH_N=1000000
    CHANNELS=per-thread,shared; REBUILD_TRIALS=1 ;;
esac

work="$(mktemp -d "${TMPDIR:-/tmp}/bn-bench.XXXXXX")"
log="$work/run.log"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$work/data-"*
}
trap cleanup EXIT
say() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$log" >&2; }
run() { "$@" 2>&1 | tee -a "$log"; }  # keeps every RESULT line in the log
run_sed() { local expr="$1"; shift; "$@" 2>&1 | sed "$expr" | tee -a "$log"; }
torch_py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 "$@"; }

echo "META started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')" >> "$log"
echo "META mode=$mode" >> "$log"
echo "META command=$cmdline" >> "$log"
echo "META cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)" >> "$log"
echo "META cores=$(nproc)" >> "$log"
echo "META memory=$(free -g | awk '/^Mem:/ {print $2 " GiB"}')" >> "$log"
echo "META load_before=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$log"
echo "META commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')" >> "$log"
echo "META note=$note" >> "$log"
say "mode $mode, build $build, work dir $work, log $log"

if [ "$do_build" = 1 ]; then
  say "building (Release)"
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$root")}" CCACHE_NOHASHDIR=true
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release > "$work/cmake.log" 2>&1
  cmake --build "$build" -j2 --target bottleneckd bench_ae_speed bench_ae_quality \
    bench_encode_speed bench_service_load > "$work/build.log" 2>&1 ||
    { tail -30 "$work/build.log"; exit 1; }
fi
B="$build/bench"
LOAD="$B/bench_service_load"
have_torch=1
torch_py -c "import torch" 2>/dev/null || { have_torch=0; say "no PyTorch: install it with scripts/install-deps.sh --bench"; }

# ---------------------------------------------------------------- 1. training, 2. inference
if [ "$skip_training" = 0 ]; then
  for t in $(seq "$TRIALS"); do
    say "training speed, trial $t/$TRIALS (ours, then PyTorch)"
    run "$B/bench_ae_speed" --threads 2 --rows "$AE_ROWS" --epochs "$AE_EPOCHS" --hidden relu |
      sed -n "s/^  all GEMMs of one step: .*-> \([0-9.]*\) GFLOP\/s.*/RESULT what=matmul trial=$t gflops=\1/p;
              s/^engine training .*best epoch \([0-9]*\) samples\/s, mean \([0-9]*\) samples\/s = \([0-9.]*\) GFLOP\/s.*/RESULT what=train impl=ours trial=$t samples_per_s=\1 mean_samples_per_s=\2 gflops=\3/p" |
      tee -a "$log"
    if [ "$have_torch" = 1 ]; then
      run torch_py "$root/bench/ae_speed_torch.py" --threads 2 --rows "$AE_ROWS" \
        --epochs "$AE_EPOCHS" --hidden relu |
        awk -v t="$t" '/^torch epoch/ { v = $4 + 0; if (v > best) best = v }
                       END { printf "RESULT what=train impl=torch trial=%d samples_per_s=%.0f\n", t, best }' |
        tee -a "$log"
    fi
  done
  say "RBM pre-training speed (one run; no reference)"
  run "$B/bench_ae_quality" --variant pretrained --train-rows "$RBM_ROWS" --epochs 1 \
    --pretrain-epochs 2 --threads 2 |
    awk '/RBM layer/ { for (i = 1; i < NF; ++i) if ($i == "layer") layer = $(i + 1)
                       for (i = 1; i <= NF; ++i) if ($i ~ /^\(/) v = substr($i, 2) + 0
                       rate[layer] = v; if (!(layer in seen)) { order[++n] = layer; seen[layer] = 1 } }
         END { for (i = 1; i <= n; ++i) printf "RESULT what=rbm layer=%s samples_per_s=%.0f\n", order[i], rate[order[i]] }' |
    tee -a "$log"
  say "bf16 encode quality: a dense AE trained on 60k images for 5 epochs, f32 vs bf16 codes"
  run_sed "/what=encode-quality/!d" "$B/bench_encode_speed" --threads 2 --precision bf16 \
    --train-rows 60000 --epochs 5 --calls 200 --batches 5
  for t in $(seq "$TRIALS"); do
    for th in 2 1; do
      say "dense encode speed, $th threads, trial $t/$TRIALS (ours f32, ours bf16, then PyTorch f32 and bf16)"
      run_sed "s/^RESULT what=encode /RESULT what=encode trial=$t /" \
        "$B/bench_encode_speed" --threads "$th" --calls "$ENC_CALLS" --batches "$ENC_BATCHES"
      run_sed "s/^RESULT what=encode /RESULT what=encode trial=$t /" \
        "$B/bench_encode_speed" --threads "$th" --calls "$ENC_CALLS" --batches "$ENC_BATCHES" \
        --precision bf16
      if [ "$have_torch" = 1 ]; then
        run_sed "s/^RESULT what=encode /RESULT what=encode trial=$t /" \
          torch_py "$root/bench/encode_speed_torch.py" --threads "$th" --calls "$ENC_CALLS" \
          --batches "$ENC_BATCHES"
        run_sed "s/^RESULT what=encode /RESULT what=encode trial=$t /" \
          torch_py "$root/bench/encode_speed_torch.py" --threads "$th" --calls "$ENC_CALLS" \
          --batches "$ENC_BATCHES" --precision bf16
      fi
    done
  done
  # The conv AE: bench_conv_ae_speed alternates ours and bench/conv_ae_torch.py itself, one
  # PyTorch process per round; its "round N: ..." lines become RESULT lines here.
  if [ -f "$root/bench/conv_ae_speed.cc" ] && [ -f "$root/bench/conv_ae_torch.py" ]; then
    if cmake --build "$build" -j2 --target bench_conv_ae_speed > "$work/build-conv.log" 2>&1 &&
       [ "$have_torch" = 1 ]; then
      say "conv AE speed (ours vs PyTorch alternated by bench_conv_ae_speed, $TRIALS rounds, 2 threads)"
      run "$B/bench_conv_ae_speed" --threads 2 --rounds "$TRIALS" --rows "$CONV_ROWS" \
        --torch-script "$root/bench/conv_ae_torch.py" |
        sed -n 's/^round \([0-9]*\): train images\/s ours \([0-9.]*\) torch \([0-9.]*\) .*encode batch 1 ours \([0-9.]*\) torch \([0-9.]*\) .*batch 256 ours \([0-9.]*\) torch \([0-9.]*\) .*/RESULT what=encode impl=ours model=conv threads=2 trial=\1 train_items_per_s=\2 b1_items_per_s=\4 b256_items_per_s=\6\
RESULT what=encode impl=torch model=conv threads=2 trial=\1 train_items_per_s=\3 b1_items_per_s=\5 b256_items_per_s=\7/p' |
        tee -a "$log"
    else
      say "conv AE speed comparison skipped (bench_conv_ae_speed did not build or no PyTorch)"
    fi
  else
    say "conv AE speed comparison not available (bench/conv_ae_speed.cc, bench/conv_ae_torch.py)"
  fi
fi

# ---------------------------------------------------------------- the service
start_server() {  # start_server DATA_DIR [bottleneckd flags]; sets SERVER_PID and SERVER_ADDR
  local data="$1"; shift
  : > "$data.out"
  "$build/server/bottleneckd" --listen 127.0.0.1:0 --data-dir "$data" --log-level warning "$@" \
    > "$data.out" 2>> "$work/server.log" &
  SERVER_PID=$!
  for _ in $(seq 9000); do
    grep -q "listening on" "$data.out" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "bottleneckd exited; see $work/server.log" >&2; exit 1; }
    sleep 0.1
  done
  SERVER_ADDR="$(sed -n 's/.*listening on \([^ ,]*\).*/\1/p' "$data.out")"
}
stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
server_rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }

if [ "$skip_service" = 0 ]; then
  batch_flag=0
  server_help="$("$build/server/bottleneckd" --help 2>&1 || true)"
  [[ "$server_help" == *--encode-batch-max* ]] && batch_flag=1

  fashion="$work/data-fashion"
  say "service: Fashion-MNIST collection (train $FASHION_TRAIN images, 1 epoch; 60k items)"
  start_server "$fashion"
  run "$LOAD" setup-fashion --server "$SERVER_ADDR" --train-limit "$FASHION_TRAIN" --epochs 1 \
    --tag fashion-setup
  say "search by code vs echo vs in-process hnswlib, 60k Fashion-MNIST codes, at the smallest ef with recall@10 >= 0.98"
  run "$LOAD" load --server "$SERVER_ADDR" --data fashion --what echo,code,inproc \
    --clients 1,4,16 --channels "$CHANNELS" --seconds "$LOAD_S" --warmup "$WARMUP_S" \
    --trials "$TRIALS" --ef auto --min-recall 0.98 --tag fashion
  stop_server

  image_run() {  # $1 = trial, $2 = tag, then server flags
    local t="$1" tag="$2"
    shift 2
    start_server "$fashion" "$@"
    run "$LOAD" load --server "$SERVER_ADDR" --data fashion --what image --clients 1,4,16 \
      --seconds "$LOAD_S" --warmup "$WARMUP_S" --trials 1 --first-trial "$t" --tag "$tag"
    stop_server
  }
  for t in $(seq "$TRIALS"); do
    # The order alternates between trials so that neither setting always runs first: with a
    # fixed order the first setting's 1-client p99 was higher in 5 of 6 pairs over two quick
    # runs, and equal in the median once the order was swapped (session 5).
    if [ "$batch_flag" = 0 ]; then
      say "search by image, trial $t/$TRIALS: micro-batching on (default)"
      image_run "$t" image-batched
    elif [ $((t % 2)) = 1 ]; then
      say "search by image, trial $t/$TRIALS: micro-batching on (default), then off"
      image_run "$t" image-batched
      image_run "$t" image-batch1 --encode-batch-max 1
    else
      say "search by image, trial $t/$TRIALS: micro-batching off, then on (default)"
      image_run "$t" image-batch1 --encode-batch-max 1
      image_run "$t" image-batched
    fi
  done
  [ "$batch_flag" = 1 ] || say "bottleneckd has no --encode-batch-max: micro-batching comparison skipped"

  for t in $(seq "$TRIALS"); do
    say "streaming ingest, trial $t/$TRIALS: --sync-writes on, then off"
    start_server "$fashion"
    run "$LOAD" ingest --server "$SERVER_ADDR" --items "$INGEST_ITEMS" --batch 100 \
      --prefix "sync$t-" --trial "$t" --tag sync-on
    stop_server
    start_server "$fashion" --no-sync-writes
    run "$LOAD" ingest --server "$SERVER_ADDR" --items "$INGEST_ITEMS" --batch 100 \
      --prefix "nosync$t-" --trial "$t" --tag sync-off
    stop_server
  done
  rm -rf "$fashion"

  say "service: $SYNTH_N synthetic 32-d codes"
  synth="$work/data-synth"
  start_server "$synth" --no-sync-writes
  run "$LOAD" setup-synth --server "$SERVER_ADDR" --collection synth --items "$SYNTH_N" \
    --dim 32 --tag bulk-float32
  echo "RESULT what=rss tag=after-ingest-float32 items=$SYNTH_N rss_mb=$(server_rss_mb)" | tee -a "$log"
  run "$LOAD" load --server "$SERVER_ADDR" --data synth --collection synth --items "$SYNTH_N" \
    --dim 32 --what echo,code,inproc --clients 1,4,16 --channels per-thread \
    --seconds "$LOAD_S" --warmup "$WARMUP_S" --trials "$TRIALS" --ef auto --min-recall 0.98 \
    --tag synth
  stop_server
  say "startup and memory"
  run bash "$root/bench/startup_memory.sh" --build-dir "$build" --work "$work" \
    --items "$SYNTH_N" --float-data "$synth" --trials "$TRIALS" --rebuild-trials "$REBUILD_TRIALS"
fi

echo "META load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$log"
echo "META finished=$(date -u '+%Y-%m-%d %H:%M:%S UTC')" >> "$log"
/usr/bin/python3 "$root/bench/results_table.py" "$log" > "$out"
say "wrote $out (raw log: $log)"
