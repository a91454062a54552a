#!/usr/bin/env bash
# One command for each of the README's quick-start paths, on a fresh Debian 12 machine:
#   scripts/quickstart.sh run  [bottleneckd flags]  install, build (Release), start the server
#   scripts/quickstart.sh test [ctest args]         install, build, run every test
# Environment: BUILD_DIR (default ./build), JOBS (default nproc).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mode="${1:-}"
shift || true
build="${BUILD_DIR:-$root/build}"
jobs="${JOBS:-$(nproc)}"

case "$mode" in
  run|test|build) ;;
  *) echo "usage: scripts/quickstart.sh run|test|build [args]" >&2; exit 2 ;;
esac

bash "$root/scripts/install-deps.sh"
# Let ccache reuse objects across checkouts in different directories (CI clones afresh).
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$jobs"

case "$mode" in
  run)
    exec "$build/server/bottleneckd" --listen 127.0.0.1:50051 --data-dir "$root/data" "$@"
    ;;
  test)
    cd "$build"
    exec ctest --output-on-failure -j "$jobs" "$@"
    ;;
esac
