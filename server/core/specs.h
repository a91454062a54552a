// Validation and defaults for the specifications clients send: collections and model specs.
// Each function checks every field, fills the documented defaults in place (so the stored and
// returned spec is explicit), and returns InvalidArgument naming the first bad field.
#ifndef BOTTLENECK_SERVER_CORE_SPECS_H_
#define BOTTLENECK_SERVER_CORE_SPECS_H_

#include "absl/status/status.h"
#include "bottleneck/v1/collection.pb.h"
#include "bottleneck/v1/model.pb.h"
#include "engine/input/augment.h"

namespace bn {

// Limits (also documented in the .proto comments).
inline constexpr uint32_t kMaxImageSide = 1024;
inline constexpr uint32_t kMaxVocabularySize = 100000;
inline constexpr uint32_t kDefaultVocabularySize = 2000;
inline constexpr uint32_t kDefaultM = 16;
inline constexpr uint32_t kDefaultEfConstruction = 200;
inline constexpr uint32_t kDefaultEfSearch = 64;
inline constexpr uint32_t kMaxEf = 4096;
inline constexpr uint32_t kMaxCodeSize = 4096;
inline constexpr uint32_t kMaxLayerSize = 16384;
inline constexpr uint32_t kMaxEpochs = 10000;
inline constexpr uint32_t kDefaultPatience = 5;  // Early stopping (TrainingOptions).

[[nodiscard]] absl::Status NormalizeCollectionSpec(bottleneck::v1::CollectionSpec* spec);

// The input dimension of a collection: height * width * channels, or the vocabulary size.
int64_t InputSize(const bottleneck::v1::CollectionSpec& spec);

// Checks the model spec against its (normalized) collection: architecture allowed for the input
// kind (no conv net for documents, no text options for images), code kind agreement (binary
// collections need logistic code units), sizes and hyper-parameter ranges.
[[nodiscard]] absl::Status NormalizeModelSpec(const bottleneck::v1::CollectionSpec& collection,
                                              bottleneck::v1::ModelSpec* spec);

// The engine's augmentation for a (normalized) API augmentation.
AugmentOptions AugmentOptionsFrom(const bottleneck::v1::ImageAugmentation& augmentation);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_SPECS_H_
