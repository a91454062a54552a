// Decoding throughput of engine/input/image.h on one thread: 28x28 grey PNGs and 256x256 RGB
// JPEGs written by Pillow (bench/input_make_images.py), decode only and decode + conversion to a
// 28x28x1 model input (JPEG: full decode + area filter, and EncodedImageToInput, which decodes
// at 1/8 scale in the DCT domain first); plus EncodePng of 28x28 images.
//
//   /usr/bin/python3 bench/input_make_images.py /tmp/bn_images
//   build/bench/bench_input_decode /tmp/bn_images [seconds per case = 2]
#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/input/image.h"
#include "engine/util/atomic_file.h"

namespace {

std::vector<std::string> ReadAll(const std::string& dir) {
  std::vector<std::string> names, out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') names.push_back(dir + "/" + e->d_name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    absl::StatusOr<std::string> bytes = bn::ReadFileToString(n);
    if (bytes.ok()) out.push_back(std::move(*bytes));
  }
  return out;
}

template <typename F>
void Run(const char* name, const std::vector<std::string>& files, double seconds, F&& f) {
  size_t bytes = 0;
  for (const auto& s : files) bytes += s.size();
  int64_t done = 0;
  size_t i = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    for (int rep = 0; rep < 50; ++rep, ++done) {
      if (!f(files[i])) {
        std::fprintf(stderr, "%s failed\n", name);
        std::exit(1);
      }
      i = (i + 1) % files.size();
    }
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const double per_second = done / elapsed;
  std::printf("%-34s %10.0f images/s %8.2f us/image %8.1f MB/s (encoded, mean %zu B)\n", name,
              per_second, 1e6 / per_second, per_second * bytes / files.size() / 1e6,
              bytes / files.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s IMAGE_DIR [seconds]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  const std::vector<std::string> png = ReadAll(dir + "/png28"), jpg = ReadAll(dir + "/jpg256");
  if (png.empty() || jpg.empty()) {
    std::fprintf(stderr, "no images under %s (run bench/input_make_images.py)\n", dir.c_str());
    return 1;
  }
  std::printf("%zu PNGs (28x28 grey), %zu JPEGs (256x256 RGB), 1 thread\n", png.size(), jpg.size());
  Run("decode PNG 28x28", png, seconds,
      [](const std::string& s) { return bn::DecodeImage(s).ok(); });
  Run("decode+convert PNG 28x28 -> 28x28x1", png, seconds, [](const std::string& s) {
    return bn::EncodedImageToInput(s, {28, 28, 1}).ok();
  });
  Run("decode JPEG 256x256", jpg, seconds,
      [](const std::string& s) { return bn::DecodeImage(s).ok(); });
  Run("full decode+area JPEG 256 -> 28x28x1", jpg, seconds, [](const std::string& s) {
    absl::StatusOr<bn::Image> image = bn::DecodeImage(s);
    return image.ok() && bn::ConvertImage(*image, {28, 28, 1}).ok();
  });
  Run("EncodedImageToInput JPEG 256 -> 28x28x1", jpg, seconds, [](const std::string& s) {
    return bn::EncodedImageToInput(s, {28, 28, 1}).ok();
  });
  std::vector<bn::Image> decoded;
  for (const auto& s : png) decoded.push_back(*bn::DecodeImage(s));
  size_t k = 0;
  Run("encode PNG 28x28", png, seconds,
      [&](const std::string&) { return bn::EncodePng(decoded[k++ % decoded.size()]).ok(); });
  return 0;
}
