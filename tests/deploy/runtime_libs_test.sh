#!/usr/bin/env bash
# The Dockerfile's runtime stage installs `scripts/install-deps.sh --runtime`. There is no Docker
# engine here, so this checks the same thing on the host: every shared library bottleneckd and
# bottleneck link against belongs to a package in that runtime list or to one of its (recursive)
# dependencies, and the Dockerfile really uses the script for both stages.
#   tests/deploy/runtime_libs_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src="$1"
build="$2"
runtime="$(bash "$src/scripts/install-deps.sh" --print-runtime)"
closure="$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances $runtime 2>/dev/null | grep -v '^ ' | sed 's/:amd64$//' | sort -u)"
fail=0
checked=0
for binary in "$build/server/bottleneckd" "$build/client/bottleneck"; do
  for lib in $(ldd "$binary" | awk '/=>/ {print $3}'); do
    real="$(readlink -f "$lib")"
    pkg="$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || true)"
    pkg="${pkg%%:*}"
    if [ -z "$pkg" ]; then
      echo "FAIL: $lib ($binary) belongs to no Debian package"
      fail=1
      continue
    fi
    checked=$((checked + 1))
    if ! grep -qx "$pkg" <<<"$closure"; then
      echo "FAIL: $lib comes from $pkg, which the runtime package list does not install"
      fail=1
    fi
  done
done
grep -q 'scripts/install-deps.sh --runtime' "$src/Dockerfile" || {
  echo "FAIL: the Dockerfile's runtime stage does not use install-deps.sh --runtime"; fail=1; }
grep -q 'bash scripts/install-deps.sh' "$src/Dockerfile" || {
  echo "FAIL: the Dockerfile's build stage does not use install-deps.sh"; fail=1; }
echo "checked $checked linked libraries against $(wc -w <<<"$runtime") runtime packages"
if [ "$fail" -ne 0 ]; then echo "0 passed, 1 failed"; exit 1; fi
