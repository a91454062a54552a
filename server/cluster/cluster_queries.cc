#include "server/cluster/cluster_queries.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "server/cluster/cluster_collections.h"
#include "server/cluster/model_cache.h"
#include "server/cluster/peers.h"
#include "server/cluster/retry.h"
#include "server/cluster/topology.h"
#include "server/core/inputs.h"
#include "server/core/item_filter.h"
#include "server/core/query_engine.h"
#include "server/core/runtime.h"
#include "server/core/specs.h"
#include "server/core/validation.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;
namespace v1 = ::bottleneck::v1;

constexpr uint32_t kDefaultK = 10;
constexpr uint32_t kMaxK = 1000;
constexpr int kMaxBatch = 1024;

bool Retryable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kFailedPrecondition ||
         s.code() == absl::StatusCode::kAborted || s.code() == absl::StatusCode::kNotFound;
}

// One shard's request, sent to its candidates in turn until one answers.
struct ShardCall {
  Peers* peers;
  std::vector<ReplicaInfo> candidates;
  pb::SearchShardRequest request;
  Peers::Deadline deadline;
  absl::Status last;  // NoReplica() until a candidate fails.

  void Send(size_t i, std::function<void(absl::StatusOr<pb::SearchShardResponse>)> done) {
    if (i >= candidates.size()) {
      if (i == 0) {
        done(last);
      } else {
        done(absl::UnavailableError(absl::StrCat(
            "shard ", request.shard(), " of collection '", request.collection(),
            "' has no live ready replica that answered (last: ", candidates[i - 1].node, ": ",
            last.message(), ")")));
      }
      return;
    }
    const ReplicaInfo& to = candidates[i];
    peers->SearchAsync(to.node, to.address, request, deadline,
                       [this, i, done](absl::StatusOr<pb::SearchShardResponse> result) mutable {
                         if (result.ok() || !Retryable(result.status())) {
                           done(std::move(result));
                           return;
                         }
                         last = result.status();
                         Send(i + 1, std::move(done));
                       });
  }
};

// The model of `version` (0: the serving one) for Encode/Decode.
absl::StatusOr<std::shared_ptr<const ServingModel>> ModelFor(ModelCache* models,
                                                             const pb::CollectionEntry& entry,
                                                             uint64_t version) {
  if (version == 0) {
    version = entry.serving_version();
    if (version == 0) {
      return absl::FailedPreconditionError("no model serves collection '" +
                                           entry.collection().name() +
                                           "' yet; name a model_version");
    }
  }
  auto model = models->Get(entry, version);
  if (model.ok() && (*model)->meta.spec().has_classifier()) {  // As the single node.
    return absl::FailedPreconditionError(
        "model version " + std::to_string(version) +
        " is a classifier: it has no codes or decoder (use QueryService.Classify)");
  }
  return model;
}

}  // namespace

absl::StatusOr<v1::SearchResponse> ClusterQueries::Search(const v1::SearchRequest& request,
                                                          Deadline deadline) {
  auto view = collections_->Lookup(request.collection());  // Resolved once: an alias's switch
  if (!view.ok()) return view.status();                    // never splits one search.
  v1::SearchRequest resolved = request;
  resolved.set_collection(view->entry.collection().name());
  bool moved = false;
  auto response = SearchOnce(resolved, deadline, &moved);
  // The serving version flipped while shards were asked for the previous one: ask again.
  if (!response.ok() && moved) response = SearchOnce(resolved, deadline, &moved);
  return response;
}

absl::StatusOr<v1::SearchBatchResponse> ClusterQueries::SearchBatch(
    const v1::SearchBatchRequest& request, Deadline deadline) {
  auto view = collections_->Lookup(request.collection());
  if (!view.ok()) return view.status();
  const int n = request.searches_size();
  if (n == 0 || n > kMaxBatch) {
    return absl::InvalidArgumentError("searches must hold 1..1024 searches");
  }
  auto at = [](int i, const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("searches[", i, "]: ", s.message()));
  };
  // Everything that needs no model or shard, for every search, before any runs.
  for (int i = 0; i < n; ++i) {
    const v1::SearchRequest& search = request.searches(i);
    if (!search.collection().empty() && search.collection() != request.collection()) {
      return at(i, absl::InvalidArgumentError("collection must be empty or '" +
                                              request.collection() + "'"));
    }
    if (search.k() > kMaxK) return at(i, absl::InvalidArgumentError("k must be in 1..1000"));
    if (search.ef() > kMaxEf) return at(i, absl::InvalidArgumentError("ef must be in 0..4096"));
    if (search.query_case() == v1::SearchRequest::QUERY_NOT_SET) {
      return at(i, absl::InvalidArgumentError("query must be an input, a code or an item_id"));
    }
    if (search.has_filter()) {
      auto compiled = CompiledFilter::Compile(search.filter(), view->entry.collection().spec());
      if (!compiled.ok()) return at(i, compiled.status());
    }
  }
  // One serving version for the whole batch: a promotion that flips it midway runs the batch
  // again (once; then the caller is told to retry).
  for (int attempt = 0; attempt < 2; ++attempt) {
    v1::SearchBatchResponse response;
    bool mixed = false;
    for (int i = 0; i < n && !mixed; ++i) {
      v1::SearchRequest search = request.searches(i);
      search.set_collection(view->entry.collection().name());  // The whole batch, one collection.
      auto result = Search(search, deadline);
      if (!result.ok()) return at(i, result.status());
      if (i == 0) response.set_model_version(result->model_version());
      mixed = result->model_version() != response.model_version();
      *response.add_results() = std::move(*result);
    }
    if (!mixed) return response;
  }
  return absl::UnavailableError("the collection's serving version changed during the batch: retry");
}

absl::StatusOr<v1::SearchResponse> ClusterQueries::SearchOnce(const v1::SearchRequest& request,
                                                              Deadline deadline,
                                                              bool* version_moved) {
  *version_moved = false;
  auto view = collections_->Find(request.collection());
  if (!view.ok()) return view.status();
  const pb::CollectionEntry& entry = view->entry;
  const std::string& name = entry.collection().name();
  const uint32_t k = request.k() == 0 ? kDefaultK : request.k();
  if (k > kMaxK) return absl::InvalidArgumentError("k must be in 1..1000");
  if (request.ef() > kMaxEf) return absl::InvalidArgumentError("ef must be in 0..4096");
  if (request.query_case() == v1::SearchRequest::QUERY_NOT_SET) {
    return absl::InvalidArgumentError("query must be an input, a code or an item_id");
  }
  // Checked here, so that a bad filter is refused once and by the router, not by every shard.
  if (request.has_filter()) {
    auto compiled = CompiledFilter::Compile(request.filter(), entry.collection().spec());
    if (!compiled.ok()) return compiled.status();
  }
  const uint64_t version = entry.serving_version();
  if (version == 0) {
    return absl::FailedPreconditionError("no model serves collection '" + name +
                                         "' yet: train one and promote it");
  }
  auto model_or = models_->Get(entry, version);
  if (!model_or.ok()) return model_or.status();
  const ServingModel& serving = **model_or;
  const Model& model = *serving.model;
  const auto topology = Topology(*context_.metadata, entry);
  const std::string& self = context_.options->node_id;

  v1::SearchResponse response;
  response.set_model_version(version);
  std::string code;
  std::string exclude;
  switch (request.query_case()) {
    case v1::SearchRequest::kInput: {
      std::vector<float> x;
      if (absl::Status s =
              InputToVector(entry.collection().spec(), serving.text.get(), request.input(), &x);
          !s.ok()) {
        return s;
      }
      std::vector<float> values(model.code_size());
      if (absl::Status s = serving.batcher->Encode(x.data(), values.data()); !s.ok()) return s;
      if (request.include_reconstruction()) {
        std::vector<float> recon(model.input_size());
        if (absl::Status s = model.Decode(values.data(), 1, recon.data()); !s.ok()) return s;
        auto output = VectorToOutput(entry.collection().spec(), serving.text.get(), recon.data(),
                                     kDefaultTopWords);
        if (!output.ok()) return output.status();
        *response.mutable_reconstruction() = *output;
      }
      code = CodeToBytes(values.data(), model.code_size(), model.code_type());
      break;
    }
    case v1::SearchRequest::kCode: {
      auto bytes = CodeFromApi(request.code(), model.code_size(), model.code_type());
      if (!bytes.ok()) return bytes.status();
      code = std::move(*bytes);
      break;
    }
    case v1::SearchRequest::kItemId: {
      if (absl::Status s = ValidateItemId(request.item_id()); !s.ok()) return s;
      const uint32_t shard = ShardOf(request.item_id(), entry.shards());
      pb::GetShardItemsRequest get;
      get.set_protocol_version(kProtocolVersion);
      get.set_collection(name);
      get.set_incarnation(entry.incarnation());
      get.set_shard(shard);
      get.add_ids(request.item_id());
      get.set_code_version(version);
      get.set_min_sequence(request.min_sequence());
      absl::StatusOr<pb::GetShardItemsResponse> got = NoReplica(name, topology[shard], version);
      for (const ReplicaInfo& replica : Candidates(topology[shard], version, self)) {
        got = context_.peers->GetItems(replica.node, replica.address, get, deadline);
        if (got.ok() || !Retryable(got.status())) break;
      }
      if (!got.ok()) return got.status();
      const pb::ShardItem& item = got->items(0);
      if (!item.found()) return absl::NotFoundError("item '" + request.item_id() + "' not found");
      if (item.code().empty()) {
        return absl::FailedPreconditionError("item '" + request.item_id() +
                                             "' has no code for the serving model yet");
      }
      code = item.code();
      exclude = request.item_id();
      break;
    }
    default:
      return absl::InvalidArgumentError("query must be an input, a code or an item_id");
  }
  *response.mutable_query_code() = BytesToCode(code, model.code_size(), model.code_type());

  // Fan out: the shards served elsewhere first (they run in parallel), this node's own in
  // process after them.
  std::vector<std::unique_ptr<ShardCall>> calls(entry.shards());
  std::vector<absl::StatusOr<pb::SearchShardResponse>> results(entry.shards(),
                                                               absl::UnknownError("not asked"));
  std::mutex mutex;
  std::condition_variable done_cv;
  size_t pending = entry.shards();
  std::vector<uint32_t> order;
  for (uint32_t s = 0; s < entry.shards(); ++s) {
    auto call = std::make_unique<ShardCall>();
    call->peers = context_.peers;
    call->candidates = Candidates(topology[s], version, self);
    call->last = NoReplica(name, topology[s], version);
    call->deadline = deadline;
    pb::SearchShardRequest& shard_request = call->request;
    shard_request.set_protocol_version(kProtocolVersion);
    shard_request.set_collection(name);
    shard_request.set_incarnation(entry.incarnation());
    shard_request.set_shard(s);
    shard_request.set_model_version(version);
    shard_request.set_code(code);
    shard_request.set_k(k);
    shard_request.set_ef(request.ef());
    shard_request.set_exact(request.exact());
    shard_request.set_exclude_id(exclude);
    shard_request.set_min_sequence(request.min_sequence());
    if (request.has_filter()) *shard_request.mutable_filter() = request.filter();
    const bool local = !call->candidates.empty() && call->candidates[0].node == self;
    if (local) {
      order.push_back(s);
    } else {
      order.insert(order.begin(), s);
    }
    calls[s] = std::move(call);
  }
  for (uint32_t s : order) {
    calls[s]->Send(0, [&, s](absl::StatusOr<pb::SearchShardResponse> result) {
      std::lock_guard<std::mutex> lock(mutex);
      results[s] = std::move(result);
      if (--pending == 0) done_cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mutex);
    done_cv.wait(lock, [&] { return pending == 0; });  // Every call ends by its deadline.
  }

  std::vector<v1::Neighbor> merged;
  for (uint32_t s = 0; s < entry.shards(); ++s) {
    if (!results[s].ok()) {
      const absl::Status& failed = results[s].status();
      auto now = collections_->Find(request.collection());
      *version_moved = now.ok() && now->entry.serving_version() != version;
      if (!*version_moved && Retryable(failed)) {
        // This node's view may lag a flip that the replicas have already made (they then hold
        // only the new version's index): ask the bucket, and take its newer record into the view
        // so that the caller's retry uses the new version.
        auto fresh = context_.metadata->ReadCollection(name);
        if (fresh.ok() && fresh->has_value() && (*fresh)->entry.serving_version() != version &&
            (*fresh)->entry.incarnation() == entry.incarnation()) {
          context_.metadata->Remember(**fresh);
          *version_moved = true;
        }
      }
      if (request.allow_partial() && Retryable(failed)) {
        response.add_missing_shards(s);
        continue;
      }
      return failed;
    }
    if (request.has_filter() && !results[s]->filter_applied()) {
      return absl::FailedPreconditionError(
          absl::StrCat("shard ", s, " of collection '", name,
                       "' answered from a node that cannot filter (an older build): upgrade it"));
    }
    for (auto& neighbor : *results[s]->mutable_neighbors()) merged.push_back(std::move(neighbor));
  }
  std::sort(merged.begin(), merged.end(), [](const v1::Neighbor& a, const v1::Neighbor& b) {
    return a.distance() != b.distance() ? a.distance() < b.distance() : a.id() < b.id();
  });
  for (size_t i = 0; i < merged.size() && i < k; ++i) {
    *response.add_neighbors() = std::move(merged[i]);
  }
  if (request.label_votes()) AddLabelVotes(&response);
  return response;
}

absl::StatusOr<v1::EncodeResponse> ClusterQueries::Encode(const v1::EncodeRequest& request) {
  auto view = collections_->Lookup(request.collection());
  if (!view.ok()) return view.status();
  if (request.inputs().empty() || request.inputs_size() > kMaxBatch) {
    return absl::InvalidArgumentError("inputs must hold 1..1024 inputs");
  }
  auto model_or = ModelFor(models_, view->entry, request.model_version());
  if (!model_or.ok()) return model_or.status();
  return EncodeInputs(view->entry.collection().spec(), **model_or, request);
}

absl::StatusOr<v1::DecodeResponse> ClusterQueries::Decode(const v1::DecodeRequest& request) {
  auto view = collections_->Lookup(request.collection());
  if (!view.ok()) return view.status();
  if (request.codes().empty() || request.codes_size() > kMaxBatch) {
    return absl::InvalidArgumentError("codes must hold 1..1024 codes");
  }
  if (request.top_words() > 1000) return absl::InvalidArgumentError("top_words must be <= 1000");
  auto model_or = ModelFor(models_, view->entry, request.model_version());
  if (!model_or.ok()) return model_or.status();
  return DecodeCodes(view->entry.collection().spec(), **model_or, request);
}

}  // namespace bn::cluster
