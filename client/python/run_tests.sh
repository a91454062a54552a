#!/usr/bin/env bash
# Tests of the Python client package (CTest runs them, see tests/CMakeLists.txt):
#   client/python/run_tests.sh BUILD_DIR install         a fresh venv in BUILD_DIR/python-client
#                                                        with the package pip-installed offline
#   client/python/run_tests.sh BUILD_DIR pytest [ARGS]   pytest in that venv (default: every test)
#   client/python/run_tests.sh BUILD_DIR                 both
# The install is the README's: `python3 -m venv --system-site-packages` (Debian's grpcio,
# protobuf, numpy, pytest) and `pip install --no-build-isolation --no-deps` (Debian's
# setuptools), plus --no-index: nothing is downloaded. pip builds in place, so it builds a copy
# of client/python (the source tree stays clean); setup.py generates the stubs from proto/.
# The tests start BUILD_DIR/server/bottleneckd (or $BOTTLENECKD) on free loopback ports.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../.." && pwd)"
build="$(cd "$1" && pwd)"
mode="${2:-all}"
shift 2 || shift $#
work="$build/python-client"
venv="$work/venv"

install() {
  rm -rf "$work"
  mkdir -p "$work/src"
  cp -r "$here/pyproject.toml" "$here/setup.py" "$here/generate_stubs.py" "$here/README.md" \
    "$here/bottleneck_client" "$work/src/"
  rm -rf "$work/src/bottleneck_client/_proto"  # a developer's stubs: the build makes its own
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  BOTTLENECK_PROTO_DIR="$src/proto" "$venv/bin/pip" install --quiet --no-build-isolation \
    --no-deps --no-index --disable-pip-version-check "$work/src"
  (cd "$work" && "$venv/bin/python" -c 'import bottleneck_client; print("installed", bottleneck_client.__file__)')
}

run_pytest() {
  [ -x "$venv/bin/python" ] || { echo "run_tests.sh: run '$0 BUILD_DIR install' first" >&2; exit 1; }
  [ "$#" -gt 0 ] || set -- "$here/tests"
  cd "$work"
  BOTTLENECKD="${BOTTLENECKD:-$build/server/bottleneckd}" BN_EXPECT_INSTALLED="$venv" \
    PYTHONDONTWRITEBYTECODE=1 exec "$venv/bin/python" -m pytest -p no:cacheprovider -q \
    -o console_output_style=classic "$@"
}

case "$mode" in
  install) install ;;
  pytest) run_pytest "$@" ;;
  all) install && run_pytest "$@" ;;
  *) echo "usage: $0 BUILD_DIR [install|pytest [ARGS]]" >&2; exit 2 ;;
esac
