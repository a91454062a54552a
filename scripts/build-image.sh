#!/usr/bin/env bash
# Builds the Dockerfile into a local image without a Docker daemon, with Debian's buildah, and
# optionally tests it. Nothing is pushed anywhere.
#
#   scripts/build-image.sh [--tag IMAGE] [--jobs N] [--test BUILD_DIR] [--rebuild-base]
#   scripts/build-image.sh --test-only BUILD_DIR [--tag IMAGE]
#
#   1. Installs buildah and debootstrap (Debian packages) if they are missing: only this script
#      needs them, so install-deps.sh does not install them.
#   2. Makes the base image docker.io/library/debian:12 from Debian's own archive, once:
#      `debootstrap --variant=minbase bookworm` (what the official image is made from), with the
#      official image's apt sources (bookworm, bookworm-updates, bookworm-security), imported
#      into buildah's image store. --rebuild-base makes it again.
#   3. `buildah bud --isolation chroot` of the Dockerfile: the build stage as
#      localhost/bottleneck-build:TAG, then the runtime stage as IMAGE (default
#      localhost/bottleneck:latest), and prints both sizes.
#   4. With --test BUILD_DIR (or --test-only): starts bottleneckd from the runtime image's
#      filesystem (`buildah run`, as the image's user, with its entrypoint's binary) on a free
#      loopback port, checks health with the image's own HEALTHCHECK command, and runs the
#      Python client's tests against it (client/python/run_tests.sh BUILD_DIR: a venv under
#      BUILD_DIR). tests/CMakeLists.txt registers this as the CTest test Image.BuildAndServe
#      when configured with -DBN_IMAGE_TESTS=ON; scripts/quickstart.sh image runs it too.
# Environment: JOBS (compile jobs in the build stage, default 2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image="localhost/bottleneck:latest"
jobs="${JOBS:-2}"
test_build=""
build=1
rebuild_base=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    --tag) image="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --test) test_build="$2"; shift 2 ;;
    --test-only) test_build="$2"; build=0; shift 2 ;;
    --rebuild-base) rebuild_base=1; shift ;;
    *) echo "usage: $0 [--tag IMAGE] [--jobs N] [--test BUILD_DIR] [--rebuild-base] |" \
         "--test-only BUILD_DIR [--tag IMAGE]" >&2; exit 2 ;;
  esac
done
base="docker.io/library/debian:12"
build_image="localhost/bottleneck-build:${image##*:}"
say() { echo "build-image: $*"; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
seconds() { date +%s; }

# 1. The tools.
missing=()
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (Debian packages, for this script only)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
fi
B=(as_root buildah)

# 2. The base image, from Debian's archive.
make_base() {
  local tmp start
  start="$(seconds)"
  tmp="$(mktemp -d /var/tmp/bottleneck-debian12.XXXXXX)"
  say "debootstrap --variant=minbase bookworm (once; a minute or two)"
  as_root debootstrap --variant=minbase bookworm "$tmp/root" http://deb.debian.org/debian \
    >"$tmp/debootstrap.log" 2>&1 || { tail -20 "$tmp/debootstrap.log" >&2; exit 1; }
  # The official image's sources (deb822), and no package caches or lists.
  as_root rm -f "$tmp/root/etc/apt/sources.list"
  as_root tee "$tmp/root/etc/apt/sources.list.d/debian.sources" >/dev/null <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  as_root find "$tmp/root/var/cache/apt" "$tmp/root/var/lib/apt/lists" -type f -delete
  local ctr mnt
  ctr="$("${B[@]}" from scratch)"
  mnt="$("${B[@]}" mount "$ctr")"
  as_root tar -C "$tmp/root" -c . | as_root tar -C "$mnt" -x --numeric-owner
  "${B[@]}" umount "$ctr" >/dev/null
  "${B[@]}" config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
  "${B[@]}" commit --quiet --rm "$ctr" "$base" >/dev/null
  as_root rm -rf "$tmp"
  say "base image $base made in $(($(seconds) - start)) s"
}
if [ "$build" = 1 ]; then
  if [ "$rebuild_base" = 1 ]; then "${B[@]}" rmi -f "$base" >/dev/null 2>&1 || true; fi
  if ! "${B[@]}" inspect --type image "$base" >/dev/null 2>&1; then make_base; fi
fi

# 3. The two stages. --pull=never: FROM debian:12 is the local base, nothing is downloaded but
# Debian packages (plain http, through the host's network).
image_size() {
  "${B[@]}" images --format '{{.Size}}' "$1" 2>/dev/null | head -1
}
if [ "$build" = 1 ]; then
  # At a lower priority: the compile takes the machine's cores for a while.
  bud=(as_root nice buildah bud --isolation chroot --ulimit nofile=20000:20000 --pull=never
       --layers --build-arg "JOBS=$jobs" -f "$root/Dockerfile")
  start="$(seconds)"
  say "building the build stage as $build_image (compiles bottleneckd and bottleneck)"
  "${bud[@]}" --target build -t "$build_image" "$root"
  middle="$(seconds)"
  say "building the runtime stage as $image"
  "${bud[@]}" -t "$image" "$root"
  end="$(seconds)"
  say "build stage $((middle - start)) s, runtime stage $((end - middle)) s"
  say "sizes: build stage $(image_size "$build_image"), runtime image $(image_size "$image")," \
    "base $(image_size "$base")"
fi

# 4. The test: the server from the image's filesystem, the Python client against it.
if [ -n "$test_build" ]; then
  build_dir="$(cd "$test_build" && pwd)"
  port="$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  ctr="$("${B[@]}" from --pull=never "$image")"
  log="$(mktemp)"
  # `buildah run` does not pass signals on: stop bottleneckd itself (the deepest of the run's
  # descendants: buildah run -> buildah-chroot-exec -> bottleneckd), then wait for the run.
  descendants() {
    local child
    for child in $(ps -o pid= --ppid "$1"); do
      descendants "$child"
      echo "$child"
    done
  }
  cleanup() {
    if [ -n "${pid:-}" ]; then
      for p in $(descendants "$pid"); do as_root kill -TERM "$p" 2>/dev/null || true; done
      for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      as_root kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
    "${B[@]}" rm "$ctr" >/dev/null 2>&1 || true
    rm -f "$log"
  }
  trap cleanup EXIT
  # The entrypoint's binary with the image's data directory, on loopback (chroot isolation
  # shares the host's network); as the image's USER.
  user="$("${B[@]}" inspect --type image --format '{{.OCIv1.Config.User}}' "$image")"
  "${B[@]}" run --isolation chroot --user "$user" "$ctr" -- /usr/local/bin/bottleneckd \
    "--listen=127.0.0.1:$port" --data-dir=/var/lib/bottleneck >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    grep -q "listening on" "$log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  say "$(grep "listening on" "$log" || { cat "$log" >&2; exit 1; })"
  # The image's HEALTHCHECK command, run inside the image.
  "${B[@]}" run --isolation chroot --user "$user" "$ctr" -- /usr/local/bin/bottleneck \
    --server "127.0.0.1:$port" health
  bash "$root/client/python/run_tests.sh" "$build_dir" install
  BOTTLENECK_SERVER_ADDRESS="127.0.0.1:$port" bash "$root/client/python/run_tests.sh" \
    "$build_dir" pytest "$root/client/python/tests/test_collections.py" \
    "$root/client/python/tests/test_datasets.py" "$root/client/python/tests/test_training.py" \
    "$root/client/python/tests/test_items_and_queries.py" \
    "$root/client/python/tests/test_documents.py" \
    "$root/client/python/tests/test_docs_and_example.py"
  say "the image serves: health and the Python client's tests passed against it"
fi
