// The interface every trained model serves through: PCA, LSA, the dense auto-encoder, the
// convolutional auto-encoder and the classifier (whose "codes" are class probabilities and which
// has no decoder). The service holds models only through this interface, so it stores and loads
// any of them without special cases.
//
// Inputs and outputs are row-major float matrices: n rows of input_size() values (pixels in
// [0, 1], HWC order for images; the document representation for documents), n rows of
// code_size() values for codes. For binary-code models, Encode returns the logistic code unit
// activations in [0, 1]; engine/model/codes.h packs them into bits (threshold 0.5).
//
// Thread safety: a Model is immutable after construction or Load; Encode and Decode may be called
// from many threads at once (each call uses its own scratch memory or serialises internally).
#ifndef BOTTLENECK_ENGINE_MODEL_MODEL_H_
#define BOTTLENECK_ENGINE_MODEL_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bn {

enum class ModelKind : uint32_t {
  kPca = 1,
  kDenseAutoencoder = 2,
  kConvAutoencoder = 3,
  kClassifier = 4,  // engine/model/classifier.h; LSA models are stored as kPca
};

enum class CodeType : uint32_t { kFloat = 1, kBinary = 2 };

class Model {
 public:
  virtual ~Model() = default;

  virtual ModelKind kind() const = 0;
  virtual int64_t input_size() const = 0;
  virtual int64_t code_size() const = 0;
  virtual CodeType code_type() const = 0;
  virtual int64_t parameter_count() const = 0;

  // x: n * input_size() floats; codes: n * code_size() floats (written). n >= 0.
  // InvalidArgument for n < 0; Internal if the backend fails (no exception escapes).
  [[nodiscard]] virtual absl::Status Encode(const float* x, int64_t n, float* codes) const = 0;
  // codes: n * code_size(); x: n * input_size() (written): the reconstruction / generation.
  // Unimplemented for a model without a decoder (a classifier).
  [[nodiscard]] virtual absl::Status Decode(const float* codes, int64_t n, float* x) const = 0;

  // Appends the model's payload (architecture, weights, preprocessing) to `out`. The envelope
  // (magic, format version, kind, checksum) is added by SerializeModel in model_file.h.
  [[nodiscard]] virtual absl::Status SavePayload(std::string* out) const = 0;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_MODEL_H_
