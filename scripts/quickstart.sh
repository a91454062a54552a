#!/usr/bin/env bash
# One command for each of the README's quick-start paths, on a fresh Debian 12 machine:
#   scripts/quickstart.sh run  [bottleneckd flags]  install, build (Release), start the server
#   scripts/quickstart.sh test [ctest args]         install, build, run every test
#   scripts/quickstart.sh asan [ctest args]         the unit and integration tests under
#                                                   AddressSanitizer+UBSan (build-asan; slower)
#   scripts/quickstart.sh tsan [ctest args]         the concurrency tests under ThreadSanitizer
#                                                   (build-tsan; scripts/sanitizers/)
#   scripts/quickstart.sh image                     build the container image with buildah
#                                                   (scripts/build-image.sh) and test it: the
#                                                   server from the image, the Python client
#                                                   against it (as root; 15 min the first time)
# Environment: BUILD_DIR (default ./build), JOBS (default nproc); for tsan, TSAN_TESTS (a ctest
# -R regex, default scripts/sanitizers/tsan_tests.txt) and TSAN_OPTIONS (appended).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mode="${1:-}"
shift || true
build="${BUILD_DIR:-$root/build}"
jobs="${JOBS:-$(nproc)}"

case "$mode" in
  run|test|build|image) ;;
  asan) build="${BUILD_DIR:-$root/build-asan}"; sanitize="address;undefined" ;;
  tsan) build="${BUILD_DIR:-$root/build-tsan}"; sanitize="thread" ;;
  *) echo "usage: scripts/quickstart.sh run|test|build|asan|tsan|image [args]" >&2; exit 2 ;;
esac

bash "$root/scripts/install-deps.sh"
# Let ccache reuse objects across checkouts in different directories (CI clones afresh).
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
if [ -n "${sanitize:-}" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBN_SANITIZE="$sanitize"
  cmake --build "$build" -j "$jobs" --target engine_tests core_tests server_tests client_tests integration_tests \
    bottleneckd bottleneck
  cd "$build"
  if [ "$mode" = tsan ]; then
    exec bash "$root/scripts/sanitizers/run_tsan_tests.sh" "$build" "$jobs" "$@"
  fi
  # UBSan stops at its first report (a report would otherwise only be printed and the test pass);
  # LeakSanitizer skips fontconfig's process-lifetime caches (scripts/sanitizers/lsan.supp).
  # Servers started by the integration tests inherit these.
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  export LSAN_OPTIONS="suppressions=$root/scripts/sanitizers/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
  # Fuzzers, deployment checks and the Python and Node.js clients do not run under the
  # sanitizer build.
  exec ctest --output-on-failure -j "$jobs" -E '^(fuzz_|Deploy\.|PythonClient\.|NodeClient\.)' "$@"
fi
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
  image)
    # The Node.js example with Debian's own nodejs/npm needs the image's debian:12 base.
    bash "$root/scripts/build-image.sh" --jobs "$jobs" --test "$build" "$@"
    exec bash "$root/tests/deploy/node_debian_test.sh" "$root" "$build"
    ;;
esac
