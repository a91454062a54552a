// ClusterQueries::Classify: needs no shard. The classifier version (the named one, or the
// collection's newest classifier version from the models bucket) is loaded through this node's
// model cache and run here, with the single node's checks and its classification
// (server/core/query_engine.h), so any node answers as a single node would.
#include "absl/strings/str_cat.h"
#include "server/cluster/cluster_collections.h"
#include "server/cluster/cluster_models.h"
#include "server/cluster/cluster_queries.h"
#include "server/cluster/model_cache.h"
#include "server/core/collection_registry.h"
#include "server/core/query_engine.h"
#include "server/core/runtime.h"

namespace bn::cluster {

namespace v1 = ::bottleneck::v1;

absl::StatusOr<v1::ClassifyResponse> ClusterQueries::Classify(const v1::ClassifyRequest& request) {
  auto view = collections_->Lookup(request.collection());
  if (!view.ok()) return view.status();
  if (absl::Status s = ValidateClassifyRequest(request); !s.ok()) return s;
  const std::string& name = view->entry.collection().name();
  uint64_t version = request.model_version();
  if (version == 0) {
    auto newest = versions_->NewestClassifier(view->entry);
    if (!newest.ok()) return newest.status();
    if (*newest == 0) {
      return absl::FailedPreconditionError("collection '" + name +
                                           "' has no classifier version yet: train one "
                                           "(ModelSpec.classifier)");
    }
    version = *newest;
  } else if (auto model = versions_->Get(name, version); !model.ok()) {
    return model.status();  // NOT_FOUND before anything is installed on this node.
  }
  auto model = models_->Get(view->entry, version);
  if (!model.ok()) return model.status();
  if (absl::Status s = CheckClassifier(name, **model); !s.ok()) return s;
  return ClassifyInputs(view->entry.collection().spec(), **model, request);
}

}  // namespace bn::cluster
