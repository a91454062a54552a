#!/usr/bin/env bash
# Starts bottleneckd on a fresh data directory and runs the Node.js example against it (CTest
# NodeClient.Example). The packages come from NODE_MODULES_DIR, which scripts/install-deps.sh
# fills with `npm ci` of client/node/package-lock.json (nothing is fetched here).
#   client/node/run_example.sh BUILD_DIR NODE_MODULES_DIR [NODE]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$1"
modules="$2"
node="${3:-node}"
if [ ! -d "$modules/@grpc/grpc-js" ]; then
  echo "run_example.sh: no @grpc/grpc-js in $modules: run scripts/install-deps.sh" >&2
  exit 1
fi
echo "node $("$node" --version), packages from $modules"
data="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
"$build/server/bottleneckd" --listen 127.0.0.1:0 --data-dir "$data/db" --training-nice 0 \
  --ingest-nice 0 --background-nice 0 >"$data/out" 2>"$data/err" &
pid=$!
for _ in $(seq 600); do grep -q "listening on" "$data/out" 2>/dev/null && break; sleep 0.1; done
address="$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$data/out")"
[ -n "$address" ] || { echo "bottleneckd did not start:" >&2; cat "$data/err" >&2; exit 1; }
# A copy outside the source tree, so that require() finds only NODE_PATH's packages (not a
# client/node/node_modules of your own npm ci).
cp "$here/example.js" "$data/example.js"
NODE_PATH="$modules" "$node" "$data/example.js" --server "$address" \
  --proto-dir "$here/../../proto"
