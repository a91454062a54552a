#!/usr/bin/env bash
# The Node.js client example with Debian 12's own nodejs (18) and npm (9), whatever Node.js this
# machine has: in a container of the debian:12 base image (scripts/build-image.sh makes it from
# Debian's archive), `apt-get install nodejs npm`, `npm ci` of client/node/package-lock.json,
# then example.js against a bottleneckd started here (the container shares this machine's
# network). Opt-in (CTest Image.NodeOnDebian with -DBN_IMAGE_TESTS=ON): about 2-3 minutes.
#   tests/deploy/node_debian_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src="$(cd "$1" && pwd)"
build="$(cd "$2" && pwd)"
base="docker.io/library/debian:12"
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
B=(as_root buildah)
if ! command -v buildah >/dev/null 2>&1 || ! "${B[@]}" inspect --type image "$base" >/dev/null 2>&1; then
  echo "node_debian_test: no $base image: run scripts/build-image.sh first" >&2
  exit 1
fi
ctr="$("${B[@]}" from --pull=never "$base")"
data="$(mktemp -d)"
cleanup() {
  if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  "${B[@]}" rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$data"
}
trap cleanup EXIT
run() { "${B[@]}" run --isolation chroot "$ctr" -- "$@"; }

# Certificate authorities this machine trusts beyond Debian's (a network that intercepts TLS),
# so that npm reaches its registry from the container as it does from here.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  "${B[@]}" copy "$ctr" /usr/local/share/ca-certificates/ /usr/local/share/ca-certificates/ \
    >/dev/null
fi
run sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  --no-install-recommends nodejs npm ca-certificates >/dev/null && update-ca-certificates >/dev/null'
echo "node_debian_test: Debian's node $(run node --version), npm $(run npm --version)"
"${B[@]}" copy "$ctr" "$src/proto" /work/proto >/dev/null
for f in package.json package-lock.json example.js; do
  "${B[@]}" copy "$ctr" "$src/client/node/$f" "/work/client/node/$f" >/dev/null
done
run sh -c 'cd /work/client/node && NPM_CONFIG_CAFILE=/etc/ssl/certs/ca-certificates.crt \
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error'

"$build/server/bottleneckd" --listen 127.0.0.1:0 --data-dir "$data/db" --training-nice 0 \
  --ingest-nice 0 --background-nice 0 >"$data/out" 2>"$data/err" &
pid=$!
for _ in $(seq 600); do grep -q "listening on" "$data/out" 2>/dev/null && break; sleep 0.1; done
address="$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$data/out")"
[ -n "$address" ] || { echo "bottleneckd did not start:" >&2; cat "$data/err" >&2; exit 1; }
run node /work/client/node/example.js --server "$address" --proto-dir /work/proto
echo "node_debian_test: OK with Debian 12's nodejs and npm"
