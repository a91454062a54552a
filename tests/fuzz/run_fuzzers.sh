#!/usr/bin/env bash
# Builds a libFuzzer target with clang (ASan + UBSan), compiling only the sources it needs, and
# runs it briefly on seeds. Used by the CTest tests fuzz_<target> (tests/CMakeLists.txt); the
# main build stays on g++.
#
#   tests/fuzz/run_fuzzers.sh TARGET [SECONDS=20] [WORKDIR=/tmp/bottleneck-fuzz]
#
# Targets:
#   image     PNG/JPEG decoding and pixel conversion (engine/input/image*)
#   text      tokenizer and clean-up, vocabulary, Reuters JSON (engine/input/text*,
#             engine/input/vocabulary.cc, engine/data/json)
#   model     model files: the envelope and every kind's payload loader (engine/model/*)
#   snapshot  index snapshots through OpenServingIndex, and hnswlib bodies (engine/index/*)
#   requests  v1 request messages into engine inputs and options (server/core/{specs,inputs,
#             text_pipeline}, which need engine/input/augment.cc for the augmentation checks and
#             server/core/recipes.cc for a classifier's default layers); the protobuf sources are
#             generated with protoc in WORKDIR
#   filter    item filters (server/core/item_filter: CompiledFilter::Compile, Matches,
#             ParseFiniteNumber) against a reference evaluation, and the CLI's filter expressions
#             (client/lib/filter_expr); protobuf sources generated as for requests
# model, snapshot, requests and filter write their seeds themselves (BN_FUZZ_WRITE_SEEDS: real model
# files, snapshots and requests made with the engine API). Objects are compiled through ccache
# when it is installed. Crashes are saved in WORKDIR/TARGET-artifacts/; inputs of fixed bugs are
# kept in tests/fuzz/regressions/TARGET/ and always run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${1:?usage: run_fuzzers.sh image|text|model|snapshot|requests|filter [seconds] [workdir]}"
seconds="${2:-20}"
work="${3:-/tmp/bottleneck-fuzz}"
cxx="${CLANGXX:-clang++}"
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(ccache)
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}" CCACHE_NOHASHDIR=true
fi

pc() { pkg-config "$@"; }
absl_libs=(absl_statusor absl_status absl_strings)
includes=(-I"$root" -I/usr/include/stb -I/usr/include/eigen3)
libs=()
omp=""
max_len=65536
case "$target" in
  image) srcs=(engine/input/image_codec.cc engine/input/image_ops.cc)
         libs=(-lpng -ljpeg -lz) ;;
  text) srcs=(engine/input/text.cc engine/input/text_clean.cc engine/input/vocabulary.cc
              engine/data/json.cc engine/util/utf8.cc engine/util/bytes.cc)
        libs=(-lz) ;;
  model) # Every model kind, the nets and trainers (the seeds are trained), minus LSA.
         mapfile -t srcs < <(cd "$root" && ls engine/model/*.cc engine/nn/*.cc engine/train/*.cc |
                             grep -v 'engine/model/lsa.cc')
         srcs+=(engine/util/background.cc engine/util/bytes.cc engine/util/log.cc)
         libs=(-ldnnl -fopenmp -lz)
         omp=-fopenmp
         max_len=16384 ;;
  snapshot) mapfile -t srcs < <(cd "$root" && ls engine/index/*.cc engine/store/*.cc)
            srcs+=(engine/util/atomic_file.cc engine/util/background.cc engine/util/bytes.cc
                   engine/util/log.cc)
            libs=(-lrocksdb -lz)
            absl_libs+=(absl_synchronization) ;;
  requests) srcs=(server/core/specs.cc server/core/recipes.cc server/core/inputs.cc
                  server/core/text_pipeline.cc server/core/validation.cc
                  engine/input/image_codec.cc engine/input/image_ops.cc
                  engine/input/text.cc engine/input/text_clean.cc engine/input/vocabulary.cc
                  engine/input/augment.cc engine/util/utf8.cc engine/util/bytes.cc)
            libs=(-lpng -ljpeg -lz)
            max_len=262144 ;;
  filter) srcs=(server/core/item_filter.cc client/lib/filter_expr.cc)
          max_len=16384 ;;
  *) echo "unknown fuzz target $target" >&2; exit 2 ;;
esac

mkdir -p "$work/$target-corpus" "$work/$target-seeds" "$work/$target-artifacts" "$work/obj"
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined
       -fno-sanitize-recover=undefined)
gen_srcs=()
if [ "$target" = requests ] || [ "$target" = filter ]; then
  # Generated protobuf sources, regenerated only when a .proto changed (a directory per target:
  # CTest may build both at once).
  gen="$work/gen"
  [ "$target" = requests ] || gen="$work/gen-$target"
  mkdir -p "$gen/tests/fuzz"
  stamp="$gen/.stamp"
  if [ ! -f "$stamp" ] || [ -n "$(find "$root/proto/bottleneck" "$here/${target}_fuzz.proto" \
      -name '*.proto' -newer "$stamp" 2>/dev/null)" ]; then
    "${PROTOC:-protoc}" -I"$root/proto" --cpp_out="$gen" "$root"/proto/bottleneck/v1/*.proto
    "${PROTOC:-protoc}" -I"$root/proto" -I"$root" --cpp_out="$gen" "$here/${target}_fuzz.proto"
    touch "$stamp"
  fi
  includes+=(-I"$gen")
  gen_srcs=("$gen"/bottleneck/v1/*.pb.cc "$gen/tests/fuzz/${target}_fuzz.pb.cc")
  absl_libs+=(protobuf)
fi

# Compiles one source to an object (instrumented for coverage unless it is generated code), in
# the background: at most FUZZ_JOBS (default nproc) compilers at a time.
jobs="${FUZZ_JOBS:-$(nproc)}"
objs=()
failed="$work/obj/$target.failed"
rm -f "$failed"
compile() {
  local src="$1" extra="$2" obj
  obj="$work/obj/$target-$(echo "$src" | sed "s#^$root/##; s#^$work/##; s#/#_#g").o"
  objs+=("$obj")
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  # shellcheck disable=SC2086
  # -MD: the headers each compile read (tests/deploy/fresh_machine_test.sh checks their packages).
  ("${launcher[@]}" "$cxx" "${flags[@]}" $extra "${includes[@]}" -MD -MF "$obj.d" -c "$src" \
     -o "$obj" || touch "$failed") &
}
for s in "${srcs[@]}"; do
  extra="-fsanitize=fuzzer-no-link $omp"
  # hnswlib's SSE prefetches read one link past the end of a list (harmless, but ASan reports
  # it; the CMake sanitizer build drops ASan for this file instead). Without manual
  # vectorization there is no prefetch, so the whole of hnswlib stays under ASan here.
  # hnswlib's updatePoint also memcpy()s an empty neighbour list into an empty vector's null
  # data() (getConnectionsWithLock; a 0-byte copy, reachable with any valid graph): not ours to
  # fix, so UBSan's nonnull-attribute check is off for that file only.
  case "$s" in engine/index/hnsw_*.cc) ;; *) false ;; esac &&
    extra+=" -DNO_MANUAL_VECTORIZATION -fno-sanitize=nonnull-attribute"
  compile "$root/$s" "$extra"
done
for s in "${gen_srcs[@]}"; do compile "$s" ""; done
compile "$here/${target}_fuzzer.cc" "-fsanitize=fuzzer"
wait
if [ -e "$failed" ]; then echo "fuzz: compiling $target failed" >&2; exit 1; fi
bin="$work/${target}_fuzzer"
# --trace: every file the link used, for the same check.
# shellcheck disable=SC2046
"$cxx" "${flags[@]}" -fsanitize=fuzzer "${objs[@]}" -o "$bin" "${libs[@]}" \
  $(pc --libs "${absl_libs[@]}") -Wl,--trace >"$work/obj/$target.link-inputs"

seeds="$work/$target-seeds"
case "$target" in
  image) cp "$root"/tests/data/images/*.png "$root"/tests/data/images/*.jpg "$seeds/" ;;
  text)
    printf 'Oil prices rose sharply; crude output fell.' >"$seeds/plain.txt"
    printf '\xc3\xa9t\xc3\xa9 caf\xc3\xa9 \xd0\x9c\xd0\x9e\xd0\xa1' >"$seeds/utf8.txt"
    printf '[{"id": "1", "topics": ["oil"], "body": "a\\u00e9"}]' >"$seeds/doc.json"
    printf '\x01\x00\x02\x00\x03\x00\x01\x00' >"$seeds/ids.bin"
    printf 'From: a@b.c\nSubject: Oil\nDate: today\n\n> quoted\n<p>Caf&eacute; &amp; <b>tea</b></p>\nbegin 644 x\nM!"#$\nend\n' \
      >"$seeds/mail.txt"
    printf 'oil\nWheat\nc++\nnew york\n' >"$seeds/vocab.txt"
    ;;
  *) BN_FUZZ_WRITE_SEEDS="$seeds" BN_FUZZ_IMAGES="$root/tests/data/images" \
       ASAN_OPTIONS=detect_leaks=0 "$bin" ;;
esac
# Inputs that once failed (tests/fuzz/regressions/TARGET/, named after the bug) run first.
regressions=()
[ -d "$here/regressions/$target" ] && regressions=("$here/regressions/$target")
echo "fuzz: running $target for ${seconds}s"
# allocator_may_return_null: a huge allocation that fails must be handled (bad_alloc / null ->
# ResourceExhausted), not reported; -rss_limit_mb still catches real memory blow-ups.
ASAN_OPTIONS="${ASAN_OPTIONS:-allocator_may_return_null=1}" \
  "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="$max_len" -timeout=10 \
  -print_final_stats=1 -artifact_prefix="$work/$target-artifacts/" \
  "$work/$target-corpus" "$seeds" "${regressions[@]}"
