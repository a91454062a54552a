#!/usr/bin/env bash
# Starts bottleneckd on a fresh data directory and runs the Python example client against it.
#   client/python/run_example.sh BUILD_DIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$1"
data="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data" "$data.out"' EXIT
"$build/server/bottleneckd" --listen 127.0.0.1:0 --data-dir "$data" > "$data.out" 2> /dev/null &
pid=$!
for _ in $(seq 200); do grep -q "listening on" "$data.out" 2>/dev/null && break; sleep 0.05; done
address="$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$data.out")"
PYTHONPATH="$build/python" /usr/bin/python3 "$here/example.py" --server "$address"
