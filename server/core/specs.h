// Validation and defaults for the specifications clients send: collections and model specs.
// Each function checks every field, fills the documented defaults in place (so the stored and
// returned spec is explicit), and returns InvalidArgument naming the first bad field.
#ifndef BOTTLENECK_SERVER_CORE_SPECS_H_
#define BOTTLENECK_SERVER_CORE_SPECS_H_

#include <string>

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
inline constexpr uint32_t kDefaultMaxWordLength = 30;
inline constexpr uint32_t kMaxWordLength = 1000;
// ClassifierSpec.encoder_layers: 16 hidden layers and the code layer of a dense auto-encoder.
inline constexpr uint32_t kMaxEncoderLayers = 17;

// Also checks and lower-cases a document collection's vocabulary (NormalizeVocabularyList),
// and sets vocabulary_size to its length when it is 0.
[[nodiscard]] absl::Status NormalizeCollectionSpec(bottleneck::v1::CollectionSpec* spec);

// A client-supplied vocabulary (DocumentGeometry.vocabulary_words,
// UploadDatasetRequest.vocabulary_words): exactly `size` distinct words, each valid as
// engine/input/text.h's NormalizeVocabularyWord says, replaced by its lower-case form.
// InvalidArgument naming `field`, the first bad index and its line in a one-word-per-line file
// ("vocabulary_words[17] (line 18): ..."); the list is left unchanged then.
[[nodiscard]] absl::Status NormalizeVocabularyList(
    const std::string& field, uint32_t size,
    google::protobuf::RepeatedPtrField<std::string>* words);

// The input dimension of a collection: height * width * channels, or the vocabulary size.
int64_t InputSize(const bottleneck::v1::CollectionSpec& spec);

// Checks the model spec against its (normalized) collection: architecture allowed for the input
// kind (no conv net for documents, no text options for images), code kind agreement (binary
// collections need logistic code units), sizes and hyper-parameter ranges. A classifier's
// encoder version is not looked up here (it needs the store: JobManager::Start does it).
[[nodiscard]] absl::Status NormalizeModelSpec(const bottleneck::v1::CollectionSpec& collection,
                                              bottleneck::v1::ModelSpec* spec);

// The engine's augmentation for a (normalized) API augmentation.
AugmentOptions AugmentOptionsFrom(const bottleneck::v1::ImageAugmentation& augmentation);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_SPECS_H_
