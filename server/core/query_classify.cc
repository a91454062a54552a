// QueryEngine::Classify: inputs through a classifier version's text pipeline (documents) or
// image conversion, its class probabilities (Model::Encode of a kClassifier model; a single
// input goes through the version's micro-batcher), and the top k labels of each. The request
// checks and the classification itself are shared with cluster mode's Classify.
#include <algorithm>
#include <numeric>
#include <vector>

#include "server/core/collection_registry.h"
#include "server/core/inputs.h"
#include "server/core/query_engine.h"
#include "server/core/runtime.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

constexpr int kMaxInputs = 1024;
constexpr uint32_t kDefaultK = 5;
constexpr uint32_t kMaxK = 1000;

}  // namespace

absl::Status ValidateClassifyRequest(const v1::ClassifyRequest& request) {
  if (request.inputs().empty() || request.inputs_size() > kMaxInputs) {
    return absl::InvalidArgumentError("inputs must hold 1..1024 inputs");
  }
  if (request.k() > kMaxK) return absl::InvalidArgumentError("k must be in 0..1000");
  return absl::OkStatus();
}

absl::StatusOr<v1::ClassifyResponse> ClassifyInputs(const v1::CollectionSpec& spec,
                                                    const ServingModel& sm,
                                                    const v1::ClassifyRequest& request) {
  auto probs = RunModelOnInputs(spec, sm, request.inputs());
  if (!probs.ok()) return probs.status();
  const int64_t n = request.inputs_size();
  const int64_t classes = sm.model->code_size();
  const int64_t k =
      std::min<int64_t>(classes, request.k() == 0 ? kDefaultK : static_cast<int64_t>(request.k()));
  v1::ClassifyResponse response;
  response.set_model_version(sm.version);
  std::vector<int> order(static_cast<size_t>(classes));
  for (int64_t i = 0; i < n; ++i) {
    const float* p = probs->data() + i * classes;
    std::iota(order.begin(), order.end(), 0);
    // Most probable first; equal probabilities in label order.
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [p](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    v1::Classification* out = response.add_classifications();
    for (int64_t j = 0; j < k; ++j) {
      v1::LabelProbability* label = out->add_labels();
      label->set_label(sm.meta.class_labels(order[j]));
      label->set_probability(p[order[j]]);
    }
  }
  return response;
}

absl::StatusOr<v1::ClassifyResponse> QueryEngine::Classify(
    const v1::ClassifyRequest& request) const {
  auto runtime_or = registry_->Lookup(request.collection());
  if (!runtime_or.ok()) return runtime_or.status();
  const CollectionRuntime& runtime = **runtime_or;
  if (absl::Status s = ValidateClassifyRequest(request); !s.ok()) return s;
  auto model_or = registry_->Classifier(runtime, request.model_version());
  if (!model_or.ok()) return model_or.status();
  return ClassifyInputs(runtime.spec(), **model_or, request);
}

}  // namespace bn
