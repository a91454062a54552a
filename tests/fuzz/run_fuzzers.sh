#!/usr/bin/env bash
# Builds a libFuzzer target with clang (ASan + UBSan), compiling only the engine sources it
# needs, and runs it briefly on seeds from tests/data. Used by the CTest tests fuzz_image and
# fuzz_text (tests/CMakeLists.txt); the main build stays on g++.
#
#   tests/fuzz/run_fuzzers.sh image|text [SECONDS=20] [WORKDIR=/tmp/bottleneck-fuzz]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${1:?usage: run_fuzzers.sh image|text [seconds] [workdir]}"
seconds="${2:-20}"
work="${3:-/tmp/bottleneck-fuzz}"
cxx="${CLANGXX:-clang++}"

case "$target" in
  image) srcs=(engine/input/image_codec.cc engine/input/image_ops.cc) ;;
  text) srcs=(engine/input/text.cc engine/input/vocabulary.cc engine/data/json.cc engine/util/utf8.cc
              engine/util/bytes.cc) ;;
  *) echo "unknown fuzz target $target" >&2; exit 2 ;;
esac

mkdir -p "$work/$target-corpus" "$work/$target-seeds"
bin="$work/${target}_fuzzer"
# shellcheck disable=SC2046
"$cxx" -std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I"$root" -I/usr/include/stb \
  "$root/tests/fuzz/${target}_fuzzer.cc" "${srcs[@]/#/$root/}" \
  -o "$bin" -lpng -ljpeg -lz $(pkg-config --libs absl_statusor absl_status absl_strings)

seeds="$work/$target-seeds"
if [ "$target" = image ]; then
  cp "$root"/tests/data/images/*.png "$root"/tests/data/images/*.jpg "$seeds/"
else
  printf 'Oil prices rose sharply; crude output fell.' >"$seeds/plain.txt"
  printf '\xc3\xa9t\xc3\xa9 caf\xc3\xa9 \xd0\x9c\xd0\x9e\xd0\xa1' >"$seeds/utf8.txt"
  printf '[{"id": "1", "topics": ["oil"], "body": "a\\u00e9"}]' >"$seeds/doc.json"
  printf '\x01\x00\x02\x00\x03\x00\x01\x00' >"$seeds/ids.bin"
fi
echo "fuzz: running $target for ${seconds}s"
"$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
  -print_final_stats=1 "$work/$target-corpus" "$seeds"
