#!/usr/bin/env bash
# Cluster-mode benchmarks (issue 19) on loopback: a 3-server NATS JetStream cluster
# (Debian's nats-server) and bottleneckd nodes started here, synthetic 32-d float codes
# (bench_service_load setup-synth: PCA-32 of a Gaussian mixture, so codes are the vectors).
#
#   bench/run_cluster.sh [--items N] [--seconds S] [--build-dir DIR] [--only 3x2|capacity|trim]
#                        [--shards "1 2 4"]
#   (default 200000 items, 5 s; --only 3x2 runs the last part alone: writes, fan-out, catch-up;
#   --only capacity the first alone, over the --shards counts; --only trim the log trimmer alone,
#   with --items single-item writes)
#
# Prints "RESULT ..." lines (bench_service_load's, plus its own with what=rss|catchup|...):
#   capacity   S = 1, 2, 4 shards on S nodes (one replica each): VmRSS of every node when idle
#              and after N items are applied.
#   latency    search by code, k=10, ef 64, 1 and 16 clients: a single node (no NATS) vs a
#              3-node cluster with 3 shards x 2 replicas (fan-out through node a).
#   writes     stream upserts acknowledged per second: single node with --sync-writes vs the
#              cluster (JetStream R=3) — the setup's ingest figure.
#   catch-up   in the 3-node cluster: node c killed, N/4 new items written, c restarted: items
#              replayed from the log per second; then c killed and wiped: seconds until it
#              serves all its shards again (snapshot + log).
# Run as `nice -n 10 bench/run_cluster.sh` on a shared machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"
items=200000
seconds=5
only=""
capacity_shards="1 2 4"
while [ $# -gt 0 ]; do
  case "$1" in
    --items) items="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --build-dir) build="$2"; shift ;;
    --only) only="$2"; shift ;;
    --shards) capacity_shards="$2"; shift ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
  shift
done
bnd="$build/server/bottleneckd"
cli="$build/client/bottleneck"
load="$build/bench/bench_service_load"
work="$(mktemp -d /tmp/bn-cluster-bench.XXXXXX)"
declare -A node_pid node_port node_flags
nats_pids=()

stop_all() {
  for id in "${!node_pid[@]}"; do kill -9 "${node_pid[$id]}" 2>/dev/null || true; done
  for p in "${nats_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  node_pid=(); nats_pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

urls="nats://127.0.0.1:14301,nats://127.0.0.1:14302,nats://127.0.0.1:14303"
start_nats() {
  local dir="$work/nats"
  rm -rf "$dir"; mkdir -p "$dir"
  for i in 1 2 3; do
    cat > "$dir/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:1430$i
http: 127.0.0.1:1830$i
max_payload: 8MB
jetstream { store_dir: "$dir/n$i" }
cluster { name: bench, listen: 127.0.0.1:1630$i, routes: [nats-route://127.0.0.1:16301, nats-route://127.0.0.1:16302, nats-route://127.0.0.1:16303] }
CONF
    nats-server -c "$dir/n$i.conf" > "$dir/n$i.log" 2>&1 &
    nats_pids+=($!)
  done
  for i in 1 2 3; do
    for _ in $(seq 300); do
      curl -sf "http://127.0.0.1:1830$i/healthz" > /dev/null && break
      sleep 0.2
    done
  done
}

# start_node ID PORT [flags...]: a cluster node (or, with ID "single", a single node).
start_node() {
  local id="$1" port="$2"; shift 2
  mkdir -p "$work/$id"
  local mode=(--cluster "$urls" --node-id "$id" --heartbeat-ms 500 --node-lease-ms 4000)
  [ "$id" = single ] && mode=()
  node_flags[$id]="$*"
  "$bnd" "${mode[@]}" --listen "127.0.0.1:$port" --data-dir "$work/$id" "$@" \
    >> "$work/$id.log" 2>&1 &
  node_pid[$id]=$!
  node_port[$id]=$port
  for _ in $(seq 600); do
    "$cli" --server "127.0.0.1:$port" --timeout 2 health > /dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "node $id did not start:" >&2; tail -20 "$work/$id.log" >&2; exit 1
}

# kill_node ID SIGNAL: stops the node and waits until the cluster no longer counts it live
# (the lease, 4 s) when it was killed.
kill_node() {
  kill "-$2" "${node_pid[$1]}"
  wait "${node_pid[$1]}" 2>/dev/null || true
  unset "node_pid[$1]"
  sleep 5
}

# shards_of PORT COLLECTION NODE: how many shards have a replica on NODE.
shards_of() {
  "$cli" --server "127.0.0.1:$1" --json collections get "$2" | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin).get("cluster", {})
print(sum(1 for s in c.get("shard_status", c.get("shardStatus", [])) if any(r.get("node") == sys.argv[1] for r in s.get("replicas", []))))' "$3"
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# wait_applied PORT COLLECTION N [REPLICAS]: until every shard has REPLICAS ready replicas
# (default: all placed ones) holding N items in total; prints the seconds waited.
wait_applied() {
  local port="$1" collection="$2" n="$3" want="${4:-0}" t0
  t0=$(date +%s.%N)
  for _ in $(seq 36000); do
    if "$cli" --server "127.0.0.1:$port" --json collections get "$collection" 2>/dev/null |
        /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin).get("cluster", {})
n, want = int(sys.argv[1]), int(sys.argv[2])
total = 0
for shard in c.get("shardStatus", c.get("shard_status", [])):
    ready = [r for r in shard.get("replicas", []) if r.get("live") and r.get("state") == "ready"]
    if len(ready) < max(want, 1) or len({int(r.get("itemCount", r.get("item_count", 0))) for r in ready}) != 1:
        sys.exit(1)
    total += int(ready[0].get("itemCount", ready[0].get("item_count", 0)))
sys.exit(0 if total == n else 1)' "$n" "$want"; then
      echo "$(date +%s.%N) - $t0" | bc
      return 0
    fi
    sleep 0.2
  done
  echo "timeout waiting for $n items" >&2; exit 1
}

synth=(--dim 32 --seed 7)

echo "# run_cluster: items=$items seconds=$seconds $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- log trimming (--only trim): one item per log message, trimming off vs on ---
# One node, 1 shard, snapshots every 5 s; --items single-item upserts after 1,000 set-up items.
# Reports the acknowledged writes/s, the log's messages left (GetCollection) and the trimmer's
# deletes per second (from its "trimmed below" log lines).
log_messages() {
  "$cli" --server "127.0.0.1:$1" --json collections get "$2" | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin).get("cluster", {})
print(c.get("logMessages", c.get("log_messages", 0)), c.get("lastSequence", c.get("last_sequence", 0)))'
}
if [ "$only" = trim ]; then
  for trim in false true; do
    start_nats
    start_node a 15400 --default-shards 1 --replicas-per-shard 1 --stream-replicas 3 \
      --shard-snapshot-interval-seconds 5 "--log-trim=$trim"
    "$load" setup-synth --server 127.0.0.1:15400 --collection synth --items 1000 "${synth[@]}" \
      --tag "trim-$trim-setup"
    "$load" ingest-synth --server 127.0.0.1:15400 --collection synth --first 1000 \
      --items "$items" --batch 1 "${synth[@]}" --tag "trim-$trim"
    sleep 15
    read -r left last < <(log_messages 15400 synth)
    deletes=$({ grep -h "trimmed below" "$work/a.log" || true; } | /usr/bin/python3 -c '
import re, sys
n = t = 0.0
for line in sys.stdin:
    m = re.search(r"\((\d+) messages deleted in ([0-9.e-]+) s", line)
    if m: n += int(m.group(1)); t += float(m.group(2))
print("deleted=%d delete_seconds=%.2f deletes_per_s=%.0f" % (n, t, n / t if t else 0))')
    echo "RESULT what=trim tag=trim-$trim log_messages_left=$left log_last_sequence=$last $deletes"
    stop_all
    rm -rf "$work/a" "$work/a.log"
  done
  exit 0
fi

# --- capacity: RSS per node over 1, 2, 4 shards ---
[ "$only" = 3x2 ] && capacity_shards=""
for shards in $capacity_shards; do
  start_nats
  ids=()
  for ((i = 0; i < shards; i++)); do
    id="n$i"; ids+=("$id")
    start_node "$id" $((15100 + i)) --default-shards "$shards" --replicas-per-shard 1 \
      --stream-replicas 3
  done
  sleep 2
  for id in "${ids[@]}"; do
    echo "RESULT what=rss tag=idle shards=$shards node=$id rss_kb=$(rss_kb "${node_pid[$id]}")"
  done
  "$load" setup-synth --server 127.0.0.1:15100 --collection synth --items "$items" "${synth[@]}" \
    --tag "cluster-s$shards"
  waited=$(wait_applied 15100 synth "$items" 1)
  echo "RESULT what=applied tag=cluster-s$shards seconds_after_ack=$waited"
  sleep 3
  for id in "${ids[@]}"; do
    echo "RESULT what=rss tag=loaded shards=$shards node=$id items=$items shards_on_node=$(shards_of 15100 synth "$id") rss_kb=$(rss_kb "${node_pid[$id]}")"
  done
  # After a restart (no training workspace or ingest buffers left: the shards' data alone).
  for ((i = 0; i < shards; i++)); do kill -TERM "${node_pid[n$i]}"; done
  for ((i = 0; i < shards; i++)); do wait "${node_pid[n$i]}" 2>/dev/null || true; done
  sleep 5
  for ((i = 0; i < shards; i++)); do
    id="n$i"; start_node "$id" $((15100 + i)) ${node_flags[$id]}
  done
  waited=$(wait_applied 15100 synth "$items" 1)
  sleep 3
  for id in "${ids[@]}"; do
    echo "RESULT what=rss tag=restarted shards=$shards node=$id items=$items shards_on_node=$(shards_of 15100 synth "$id") rss_kb=$(rss_kb "${node_pid[$id]}")"
  done
  stop_all
done

# --- single node: writes without and with --sync-writes, search latency ---
if [ -z "$only" ]; then
start_node single 15200
"$load" setup-synth --server 127.0.0.1:15200 --collection synth --items "$items" "${synth[@]}" \
  --tag single-nosync
stop_all
rm -rf "$work/single"
start_node single 15200 --sync-writes
echo "RESULT what=rss tag=idle shards=0 node=single rss_kb=$(rss_kb "${node_pid[single]}")"
"$load" setup-synth --server 127.0.0.1:15200 --collection synth --items "$items" "${synth[@]}" \
  --tag single-sync
echo "RESULT what=rss tag=loaded shards=0 node=single items=$items rss_kb=$(rss_kb "${node_pid[single]}")"
"$load" load --server 127.0.0.1:15200 --data synth --collection synth --items "$items" \
  "${synth[@]}" --what code --clients 1,16 --seconds "$seconds" --ef 64 --tag single
stop_all
fi

# --- 3 nodes, 3 shards x 2 replicas: writes, fan-out latency, catch-up ---
[ "$only" = capacity ] && exit 0
start_nats
for id in a b c; do
  case $id in a) p=15300 ;; b) p=15301 ;; c) p=15302 ;; esac
  start_node "$id" "$p" --default-shards 3 --replicas-per-shard 2 --stream-replicas 3 \
    --shard-snapshot-interval-seconds 20
done
"$load" setup-synth --server 127.0.0.1:15300 --collection synth --items "$items" "${synth[@]}" \
  --tag cluster-3x2
waited=$(wait_applied 15300 synth "$items" 2)
echo "RESULT what=applied tag=cluster-3x2 seconds_after_ack=$waited"
"$load" load --server 127.0.0.1:15300 --data synth --collection synth --items "$items" \
  "${synth[@]}" --what code --clients 1,16 --seconds "$seconds" --ef 64 --tag fanout-3x2

# Catch-up from the log: c down while N/4 new items are written.
more=$((items / 4))
kill_node c 9
"$load" ingest-synth --server 127.0.0.1:15300 --collection synth --first "$items" \
  --items "$more" "${synth[@]}" --tag cluster-3x2-c-down
t0=$(date +%s.%N)
start_node c 15302 --default-shards 3 --replicas-per-shard 2 --stream-replicas 3 \
  --shard-snapshot-interval-seconds 20
waited=$(wait_applied 15300 synth $((items + more)) 2)
total=$(echo "$(date +%s.%N) - $t0" | bc)
echo "RESULT what=catchup tag=log-replay items_written_while_down=$more shards_on_c=$(shards_of 15300 synth c) of=3 seconds_from_start=$total"

# Wiped: c killed, its disk removed, restarted (snapshot + log). Wait for snapshots first.
sleep 25
kill_node c 9
rm -rf "$work/c"
t0=$(date +%s.%N)
start_node c 15302 --default-shards 3 --replicas-per-shard 2 --stream-replicas 3 \
  --shard-snapshot-interval-seconds 20
waited=$(wait_applied 15300 synth $((items + more)) 2)
total=$(echo "$(date +%s.%N) - $t0" | bc)
restored=$(grep -c "restoring the snapshot at log position" "$work/c.log" || true)
echo "RESULT what=catchup tag=wiped collection_items=$((items + more)) seconds_to_ready=$total snapshots_restored=$restored"
echo "RESULT what=rss tag=wiped-rebuilt node=c rss_kb=$(rss_kb "${node_pid[c]}")"
grep -h "restoring the snapshot\|replayed\|caught up" "$work/c.log" | head -10 || true
