#include "server/core/specs.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/input/augment.h"
#include "engine/input/text.h"
#include "engine/nn/dropout.h"
#include "engine/train/neighbour_targets.h"
#include "server/core/recipes.h"

namespace bn {
namespace {

namespace v1 = ::bottleneck::v1;

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

bool Finite(float v) { return std::isfinite(v); }

absl::Status CheckLayerSizes(const std::string& field,
                             const google::protobuf::RepeatedField<uint32_t>& sizes) {
  for (int i = 0; i < sizes.size(); ++i) {
    if (sizes[i] < 1 || sizes[i] > kMaxLayerSize) {
      return Invalid(field + "[" + std::to_string(i) + "] must be in 1.." +
                     std::to_string(kMaxLayerSize));
    }
  }
  if (sizes.size() > 16) return Invalid(field + " may have at most 16 layers");
  return absl::OkStatus();
}

absl::Status CheckActivation(const std::string& field, v1::Activation a) {
  if (!v1::Activation_IsValid(a)) return Invalid(field + " has an unknown value");
  return absl::OkStatus();
}

absl::Status NormalizeDenoising(const std::string& field, v1::Denoising* d) {
  if (!v1::Corruption_IsValid(d->corruption())) return Invalid(field + ".corruption is unknown");
  if (!Finite(d->level()) || d->level() < 0) return Invalid(field + ".level must be >= 0");
  if ((d->corruption() == v1::CORRUPTION_MASKING ||
       d->corruption() == v1::CORRUPTION_SALT_AND_PEPPER) &&
      d->level() >= 1) {
    return Invalid(field + ".level must be below 1 for masking and salt-and-pepper noise");
  }
  if (d->corruption() != v1::CORRUPTION_UNSPECIFIED && d->level() == 0) {
    return Invalid(field + ".level must be > 0 when a corruption is chosen");
  }
  return absl::OkStatus();
}

absl::Status NormalizeAugmentation(const v1::CollectionSpec& collection, v1::ImageAugmentation* a) {
  if (a->ByteSizeLong() == 0) return absl::OkStatus();
  if (!collection.has_image()) {
    return Invalid("training.augmentation applies to image collections only");
  }
  if (a->min_scale() == 0) a->set_min_scale(1);
  if (a->max_scale() == 0) a->set_max_scale(std::max(1.0f, a->min_scale()));
  auto augmenter =
      ImageAugmenter::Create(AugmentOptionsFrom(*a), collection.image().height(),
                             collection.image().width(), collection.image().channels());
  if (!augmenter.ok()) {
    return Invalid("training.augmentation: " + std::string(augmenter.status().message()));
  }
  return absl::OkStatus();
}

absl::Status NormalizeTraining(const v1::CollectionSpec& collection, v1::TrainingOptions* t) {
  if (!v1::OptimizerKind_IsValid(t->optimizer())) return Invalid("training.optimizer is unknown");
  if (t->optimizer() == v1::OPTIMIZER_KIND_UNSPECIFIED) t->set_optimizer(v1::OPTIMIZER_KIND_ADAM);
  const bool sgd = t->optimizer() == v1::OPTIMIZER_KIND_SGD;
  for (float v : {t->learning_rate(), t->momentum(), t->weight_decay(), t->validation_fraction()}) {
    if (!Finite(v) || v < 0)
      return Invalid("training: rates and fractions must be finite and >= 0");
  }
  if (t->learning_rate() == 0) t->set_learning_rate(sgd ? 0.1f : 1e-3f);
  if (t->learning_rate() > 10) return Invalid("training.learning_rate must be at most 10");
  if (sgd && t->momentum() == 0) t->set_momentum(0.9f);
  if (t->momentum() >= 1) return Invalid("training.momentum must be below 1");
  if (t->batch_size() == 0) t->set_batch_size(128);
  if (t->batch_size() > 65536) return Invalid("training.batch_size must be at most 65536");
  if (t->epochs() == 0) t->set_epochs(20);
  if (t->epochs() > kMaxEpochs) return Invalid("training.epochs must be at most 10000");
  if (t->validation_fraction() == 0) t->set_validation_fraction(0.1f);
  if (t->validation_fraction() >= 0.9f) {
    return Invalid("training.validation_fraction must be below 0.9");
  }
  if (t->keep_last_epoch() && t->early_stopping_patience() != 0) {
    return Invalid("training.keep_last_epoch runs every epoch: leave early_stopping_patience 0");
  }
  if (t->early_stopping_patience() == 0 && !t->keep_last_epoch()) {
    t->set_early_stopping_patience(kDefaultPatience);
  }
  if (!v1::ValidationSplit_IsValid(t->validation())) {
    return Invalid("training.validation is unknown");
  }
  if (t->validation() == v1::VALIDATION_SPLIT_UNSPECIFIED) {
    t->set_validation(v1::VALIDATION_SPLIT_RANDOM);
  }
  if (!v1::LearningRateSchedule_IsValid(t->lr_schedule())) {
    return Invalid("training.lr_schedule is unknown");
  }
  for (float v : {t->lr_step_gamma(), t->lr_min_factor()}) {
    if (!Finite(v) || v < 0 || v > 1) {
      return Invalid("training.lr_step_gamma and lr_min_factor must be in [0, 1]");
    }
  }
  switch (t->lr_schedule()) {
    case v1::LEARNING_RATE_SCHEDULE_UNSPECIFIED:
      t->set_lr_schedule(v1::LEARNING_RATE_SCHEDULE_CONSTANT);
      break;
    case v1::LEARNING_RATE_SCHEDULE_STEP:
      if (t->lr_step_epochs() == 0) t->set_lr_step_epochs(10);
      if (t->lr_step_gamma() == 0) t->set_lr_step_gamma(0.1f);
      break;
    case v1::LEARNING_RATE_SCHEDULE_COSINE:
      if (t->lr_min_factor() == 0) t->set_lr_min_factor(0.01f);
      break;
    default:
      break;
  }
  return NormalizeAugmentation(collection, t->mutable_augmentation());
}

absl::Status NormalizeDense(const v1::CollectionSpec& collection, v1::DenseAutoencoderSpec* d) {
  const bool binary = collection.code_kind() == v1::CODE_KIND_BINARY;
  if (absl::Status s = CheckLayerSizes("dense.encoder_sizes", d->encoder_sizes()); !s.ok())
    return s;
  if (absl::Status s = CheckLayerSizes("dense.decoder_sizes", d->decoder_sizes()); !s.ok())
    return s;
  if (d->code_size() < 1 || d->code_size() > kMaxCodeSize) {
    return Invalid("dense.code_size must be in 1..4096");
  }
  if (binary && d->code_size() % 8 != 0) {
    return Invalid("dense.code_size must be a multiple of 8 for binary codes");
  }
  if (absl::Status s = CheckActivation("dense.hidden_activation", d->hidden_activation());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckActivation("dense.code_activation", d->code_activation()); !s.ok()) {
    return s;
  }
  if (d->hidden_activation() == v1::ACTIVATION_UNSPECIFIED) {
    // RBM pre-training needs logistic units (the paper's recipe); otherwise ReLU, which measured
    // best here (bench/RESULTS-engine.md: 0.52 x PCA-30's error on Fashion-MNIST in 20 epochs).
    d->set_hidden_activation(d->pretraining().enabled() ? v1::ACTIVATION_LOGISTIC
                                                        : v1::ACTIVATION_RELU);
  }
  if (d->code_activation() == v1::ACTIVATION_UNSPECIFIED) {
    d->set_code_activation(binary ? v1::ACTIVATION_LOGISTIC : v1::ACTIVATION_LINEAR);
  }
  if (binary && d->code_activation() != v1::ACTIVATION_LOGISTIC) {
    return Invalid("binary codes need dense.code_activation LOGISTIC");
  }
  if (d->decoder_sizes().empty()) {
    for (int i = d->encoder_sizes().size() - 1; i >= 0; --i)
      d->add_decoder_sizes(d->encoder_sizes(i));
  }
  if (d->tied_weights()) {
    bool mirrored = d->decoder_sizes().size() == d->encoder_sizes().size();
    for (int i = 0; mirrored && i < d->encoder_sizes().size(); ++i) {
      mirrored = d->decoder_sizes(i) == d->encoder_sizes(d->encoder_sizes().size() - 1 - i);
    }
    if (!mirrored) return Invalid("dense.tied_weights needs a mirrored decoder");
  }
  v1::RbmPretraining* p = d->mutable_pretraining();
  if (p->enabled()) {
    if (d->hidden_activation() != v1::ACTIVATION_LOGISTIC) {
      return Invalid("dense.pretraining needs LOGISTIC hidden units");
    }
    bool mirrored = d->decoder_sizes().size() == d->encoder_sizes().size();
    for (int i = 0; mirrored && i < d->encoder_sizes().size(); ++i) {
      mirrored = d->decoder_sizes(i) == d->encoder_sizes(d->encoder_sizes().size() - 1 - i);
    }
    if (!mirrored) return Invalid("dense.pretraining needs a mirrored decoder");
    for (float v : {p->learning_rate(), p->code_learning_rate()}) {
      if (!Finite(v) || v < 0 || v > 10)
        return Invalid("dense.pretraining rates must be in [0, 10]");
    }
    if (p->epochs_per_layer() == 0) p->set_epochs_per_layer(50);
    if (p->epochs_per_layer() > kMaxEpochs) {
      return Invalid("dense.pretraining.epochs_per_layer must be at most 10000");
    }
    if (p->learning_rate() == 0) p->set_learning_rate(0.1f);
    if (p->code_learning_rate() == 0) p->set_code_learning_rate(0.001f);
    if (p->cd_steps() == 0) p->set_cd_steps(1);
    if (p->cd_steps() > 100) return Invalid("dense.pretraining.cd_steps must be at most 100");
    if (!Finite(p->max_mean_document_length()) || p->max_mean_document_length() < 0 ||
        p->max_mean_document_length() > 1e6f) {
      return Invalid("dense.pretraining.max_mean_document_length must be in [0, 1e6]");
    }
    if (p->max_mean_document_length() == 0) p->set_max_mean_document_length(64);
    if (p->batch_size() == 0) p->set_batch_size(100);
    if (p->batch_size() > 65536) return Invalid("dense.pretraining.batch_size is too large");
  }
  if (absl::Status s = NormalizeDenoising("dense.denoising", d->mutable_denoising()); !s.ok()) {
    return s;
  }
  if (!Finite(d->contractive().lambda()) || d->contractive().lambda() < 0) {
    return Invalid("dense.contractive.lambda must be finite and >= 0");
  }
  if (d->gaussian_visible() && !collection.has_image()) {
    return Invalid("dense.gaussian_visible applies to image collections");
  }
  if (!Finite(d->binary().noise_stddev()) || d->binary().noise_stddev() < 0) {
    return Invalid("dense.binary.noise_stddev must be finite and >= 0");
  }
  if (binary && d->binary().noise_stddev() == 0) d->mutable_binary()->set_noise_stddev(4.0f);
  const v1::NeighbourTargets& nt = d->neighbour_targets();
  if (!Finite(nt.weight()) || nt.weight() < 0 || nt.weight() > 1) {
    return Invalid("dense.neighbour_targets.weight must be in [0, 1]");
  }
  if (nt.count() == 0 && nt.weight() != 0) {
    return Invalid("dense.neighbour_targets.weight needs a count");
  }
  if (nt.count() > 0) {
    if (!collection.has_document()) {
      return Invalid("dense.neighbour_targets applies to document collections");
    }
    if (nt.count() > static_cast<uint32_t>(kMaxNeighbourCount)) {
      return Invalid("dense.neighbour_targets.count must be at most " +
                     std::to_string(kMaxNeighbourCount));
    }
    if (nt.weight() == 0) d->mutable_neighbour_targets()->set_weight(0.7f);
  }
  return absl::OkStatus();
}

absl::Status NormalizeConv(const v1::CollectionSpec& collection, v1::ConvAutoencoderSpec* c) {
  if (!collection.has_image()) return Invalid("conv auto-encoders need an image collection");
  if (c->encoder().empty()) return Invalid("conv.encoder needs at least one layer");
  if (c->encoder().size() > 8) return Invalid("conv.encoder may have at most 8 layers");
  for (int i = 0; i < c->encoder().size(); ++i) {
    v1::ConvLayerSpec* l = c->mutable_encoder(i);
    const std::string f = "conv.encoder[" + std::to_string(i) + "]";
    if (l->filters() < 1 || l->filters() > 1024) return Invalid(f + ".filters must be in 1..1024");
    if (l->kernel_size() == 0) l->set_kernel_size(3);
    if (l->stride() == 0) l->set_stride(1);
    if (l->kernel_size() > 15 || l->kernel_size() % 2 == 0) {
      return Invalid(f + ".kernel_size must be odd and at most 15");
    }
    if (l->stride() > 4) return Invalid(f + ".stride must be at most 4");
    if (l->pool_size() > 8) return Invalid(f + ".pool_size must be at most 8");
  }
  if (c->code_size() < 1 || c->code_size() > kMaxCodeSize) {
    return Invalid("conv.code_size must be in 1..4096");
  }
  if (absl::Status s = CheckLayerSizes("conv.dense_sizes", c->dense_sizes()); !s.ok()) return s;
  if (!v1::Unpooling_IsValid(c->unpooling())) return Invalid("conv.unpooling is unknown");
  if (c->unpooling() == v1::UNPOOLING_UNSPECIFIED) c->set_unpooling(v1::UNPOOLING_REPEAT);
  if (absl::Status s = CheckActivation("conv.hidden_activation", c->hidden_activation()); !s.ok()) {
    return s;
  }
  if (c->hidden_activation() == v1::ACTIVATION_UNSPECIFIED) {
    c->set_hidden_activation(v1::ACTIVATION_RELU);
  }
  return NormalizeDenoising("conv.denoising", c->mutable_denoising());
}

// The checks a classifier spec needs of the collection alone; JobManager::Start resolves the
// encoder version against the store (ResolveClassifierSpec).
absl::Status NormalizeClassifier(const v1::CollectionSpec& collection, v1::ClassifierSpec* c) {
  if (absl::Status s = CheckLayerSizes("classifier.hidden_sizes", c->hidden_sizes()); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckActivation("classifier.hidden_activation", c->hidden_activation());
      !s.ok()) {
    return s;
  }
  if (c->hidden_activation() == v1::ACTIVATION_UNSPECIFIED) {
    c->set_hidden_activation(v1::ACTIVATION_RELU);
  }
  if (c->encoder_model_version() == 0) {
    if (c->encoder_layers() != 0) {
      return Invalid("classifier.encoder_layers needs an encoder_model_version");
    }
    if (c->freeze_encoder()) {
      return Invalid("classifier.freeze_encoder needs an encoder_model_version");
    }
    if (c->hidden_sizes().empty()) {
      for (uint32_t size : DefaultEncoderSizes(collection)) c->add_hidden_sizes(size);
    }
  }
  if (c->encoder_layers() > kMaxEncoderLayers) {
    return Invalid("classifier.encoder_layers must be at most " +
                   std::to_string(kMaxEncoderLayers));
  }
  return absl::OkStatus();
}

// 0..64 keys of 1..256 bytes, no duplicates; `field` names the list in errors.
absl::Status ValidateMetadataKeys(const std::string& field,
                                  const google::protobuf::RepeatedPtrField<std::string>& keys) {
  if (keys.size() > 64) return Invalid(field + " holds at most 64 keys");
  for (int i = 0; i < keys.size(); ++i) {
    if (keys[i].empty() || keys[i].size() > 256) {
      return Invalid(field + "[" + std::to_string(i) + "] must be 1..256 bytes");
    }
    for (int j = 0; j < i; ++j) {
      if (keys[j] == keys[i]) {
        return Invalid(field + "[" + std::to_string(i) + "] repeats '" + keys[i] + "'");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

AugmentOptions AugmentOptionsFrom(const v1::ImageAugmentation& a) {
  AugmentOptions o;
  o.max_shift = a.max_shift_pixels();
  o.max_rotation = a.max_rotation_degrees();
  o.min_scale = a.min_scale() == 0 ? 1 : a.min_scale();
  o.max_scale = a.max_scale() == 0 ? std::max(1.0f, o.min_scale) : a.max_scale();
  o.crop = a.crop();
  o.horizontal_flip = a.horizontal_flip();
  o.vertical_flip = a.vertical_flip();
  return o;
}

absl::Status NormalizeCollectionSpec(v1::CollectionSpec* spec) {
  switch (spec->input_case()) {
    case v1::CollectionSpec::kImage: {
      const v1::ImageGeometry& g = spec->image();
      if (g.height() < 1 || g.height() > kMaxImageSide || g.width() < 1 ||
          g.width() > kMaxImageSide) {
        return Invalid("spec.image height and width must be in 1..1024");
      }
      if (g.channels() != 1 && g.channels() != 3) {
        return Invalid("spec.image.channels must be 1 (grey) or 3 (RGB)");
      }
      break;
    }
    case v1::CollectionSpec::kDocument: {
      v1::DocumentGeometry* g = spec->mutable_document();
      if (g->vocabulary_size() == 0) {
        g->set_vocabulary_size(g->vocabulary_words().empty()
                                   ? kDefaultVocabularySize
                                   : static_cast<uint32_t>(g->vocabulary_words().size()));
      }
      if (g->vocabulary_size() > kMaxVocabularySize) {
        return Invalid("spec.document.vocabulary_size must be at most 100000");
      }
      if (!g->vocabulary_words().empty()) {
        if (absl::Status s =
                NormalizeVocabularyList("spec.document.vocabulary_words", g->vocabulary_size(),
                                        g->mutable_vocabulary_words());
            !s.ok()) {
          return s;
        }
      }
      break;
    }
    default:
      return Invalid("spec needs an input kind: image or document");
  }
  if (!v1::CodeKind_IsValid(spec->code_kind())) return Invalid("spec.code_kind is unknown");
  if (!v1::Distance_IsValid(spec->distance())) return Invalid("spec.distance is unknown");
  if (spec->code_kind() == v1::CODE_KIND_UNSPECIFIED) spec->set_code_kind(v1::CODE_KIND_FLOAT);
  const bool binary = spec->code_kind() == v1::CODE_KIND_BINARY;
  if (spec->distance() == v1::DISTANCE_UNSPECIFIED) {
    spec->set_distance(binary ? v1::DISTANCE_HAMMING : v1::DISTANCE_L2);
  }
  if (binary != (spec->distance() == v1::DISTANCE_HAMMING)) {
    return Invalid("spec.distance HAMMING goes with code_kind BINARY, and only with it");
  }
  v1::IndexParams* index = spec->mutable_index();
  if (index->m() == 0) index->set_m(kDefaultM);
  if (index->ef_construction() == 0) index->set_ef_construction(kDefaultEfConstruction);
  if (index->ef_search() == 0) index->set_ef_search(kDefaultEfSearch);
  if (index->m() < 2 || index->m() > 128) return Invalid("spec.index.m must be in 2..128");
  if (index->ef_construction() < index->m() || index->ef_construction() > kMaxEf) {
    return Invalid("spec.index.ef_construction must be in m..4096");
  }
  if (index->ef_search() > kMaxEf) return Invalid("spec.index.ef_search must be in 1..4096");
  if (absl::Status s =
          ValidateMetadataKeys("spec.numeric_metadata_keys", spec->numeric_metadata_keys());
      !s.ok()) {
    return s;
  }
  return ValidateMetadataKeys("spec.indexed_metadata_keys", spec->indexed_metadata_keys());
}

absl::Status NormalizeVocabularyList(const std::string& field, uint32_t size,
                                     google::protobuf::RepeatedPtrField<std::string>* words) {
  if (static_cast<uint32_t>(words->size()) != size) {
    return Invalid(field + " has " + std::to_string(words->size()) +
                   " words; the collection's vocabulary_size is " + std::to_string(size) +
                   " (one word per id)");
  }
  std::vector<std::string> normalized;
  normalized.reserve(words->size());
  std::unordered_map<std::string, int> seen;
  seen.reserve(words->size());
  for (int i = 0; i < words->size(); ++i) {
    const std::string at =
        field + "[" + std::to_string(i) + "] (line " + std::to_string(i + 1) + ")";
    absl::StatusOr<std::string> word = NormalizeVocabularyWord(words->Get(i));
    if (!word.ok()) return Invalid(at + " " + std::string(word.status().message()));
    auto [it, inserted] = seen.emplace(*word, i);
    if (!inserted) {
      return Invalid(at + " \"" + *word + "\" repeats [" + std::to_string(it->second) + "] (line " +
                     std::to_string(it->second + 1) + ") after lower-casing");
    }
    normalized.push_back(std::move(*word));
  }
  for (int i = 0; i < words->size(); ++i) *words->Mutable(i) = std::move(normalized[i]);
  return absl::OkStatus();
}

int64_t InputSize(const v1::CollectionSpec& spec) {
  if (spec.has_image()) {
    return static_cast<int64_t>(spec.image().height()) * spec.image().width() *
           spec.image().channels();
  }
  return spec.document().vocabulary_size();
}

absl::Status NormalizeModelSpec(const v1::CollectionSpec& collection, v1::ModelSpec* spec) {
  const bool binary = collection.code_kind() == v1::CODE_KIND_BINARY;
  switch (spec->architecture_case()) {
    case v1::ModelSpec::kPca:
      if (binary) return Invalid("PCA gives float codes; this collection needs binary codes");
      if (spec->pca().code_size() < 1 || spec->pca().code_size() > kMaxCodeSize ||
          spec->pca().code_size() > InputSize(collection)) {
        return Invalid("pca.code_size must be in 1..min(4096, input size)");
      }
      break;
    case v1::ModelSpec::kLsa:
      if (!collection.has_document()) return Invalid("LSA needs a document collection");
      if (binary) return Invalid("LSA gives float codes; this collection needs binary codes");
      if (spec->lsa().code_size() < 1 || spec->lsa().code_size() > kMaxCodeSize ||
          spec->lsa().code_size() > InputSize(collection)) {
        return Invalid("lsa.code_size must be in 1..min(4096, vocabulary size)");
      }
      if (spec->text().representation() == v1::DOCUMENT_REPRESENTATION_UNSPECIFIED) {
        spec->mutable_text()->set_representation(v1::DOCUMENT_REPRESENTATION_TF_IDF);
      }
      break;
    case v1::ModelSpec::kDense:
      if (absl::Status s = NormalizeDense(collection, spec->mutable_dense()); !s.ok()) return s;
      break;
    case v1::ModelSpec::kConv:
      if (absl::Status s = NormalizeConv(collection, spec->mutable_conv()); !s.ok()) return s;
      break;
    case v1::ModelSpec::kClassifier:
      if (absl::Status s = NormalizeClassifier(collection, spec->mutable_classifier()); !s.ok()) {
        return s;
      }
      break;
    default:
      return Invalid("spec needs an architecture: pca, lsa, dense, conv or classifier");
  }
  if (absl::Status s = NormalizeTraining(collection, spec->mutable_training()); !s.ok()) return s;
  const float dropout = spec->training().dropout();
  if (!Finite(dropout) || dropout < 0 || dropout > kMaxDropoutRate) {
    return Invalid("training.dropout must be in [0, 0.9]");
  }
  if (dropout > 0 && !spec->has_dense() && !spec->has_classifier()) {
    return Invalid("training.dropout applies to dense auto-encoders and classifiers");
  }
  if (spec->has_classifier() && spec->training().validation() == v1::VALIDATION_SPLIT_BY_LABEL) {
    return Invalid(
        "training.validation BY_LABEL holds out whole labels, which a classifier cannot predict; "
        "use RANDOM");
  }
  if (spec->has_text() && !collection.has_document()) {
    return Invalid("text options apply to document collections");
  }
  if (collection.has_document()) {
    v1::TextOptions* t = spec->mutable_text();
    if (!v1::DocumentRepresentation_IsValid(t->representation())) {
      return Invalid("text.representation is unknown");
    }
    if (t->representation() == v1::DOCUMENT_REPRESENTATION_UNSPECIFIED) {
      t->set_representation(v1::DOCUMENT_REPRESENTATION_NORMALIZED_COUNTS);
    }
    if (t->min_word_length() == 0) t->set_min_word_length(2);
    if (t->min_word_length() > 64) return Invalid("text.min_word_length must be at most 64");
    if (t->max_word_length() == 0) t->set_max_word_length(kDefaultMaxWordLength);
    if (t->max_word_length() > kMaxWordLength || t->max_word_length() < t->min_word_length()) {
      return Invalid("text.max_word_length must be in min_word_length..1000");
    }
  }
  return absl::OkStatus();
}

}  // namespace bn
