#include "server/core/query_engine.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/store/collection_store.h"
#include "server/core/collection_registry.h"
#include "server/core/filtered_search.h"
#include "server/core/inputs.h"
#include "server/core/item_filter.h"
#include "server/core/runtime.h"
#include "server/core/specs.h"
#include "server/core/validation.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

constexpr uint32_t kDefaultK = 10;
constexpr uint32_t kMaxK = 1000;
constexpr int kMaxBatch = 1024;  // Searches per SearchBatch.

absl::StatusOr<std::shared_ptr<const ServingState>> Serving(const CollectionRuntime& runtime) {
  auto serving = runtime.serving();
  if (serving == nullptr) {
    return absl::FailedPreconditionError("no model serves collection '" + runtime.name() +
                                         "' yet: train one and promote it");
  }
  return serving;
}

// The query of a search as code bytes, and the item to leave out of the results (a search by a
// stored item does not return that item; 0: none).
struct Query {
  std::string code;
  uint64_t exclude = 0;
};

// The query of an input search whose code the model computed: the code bytes, and the
// decoder's reconstruction when asked for.
absl::StatusOr<Query> QueryFromInputCode(const CollectionRuntime& runtime,
                                         const ServingModel& serving,
                                         const v1::SearchRequest& request, const float* code,
                                         v1::SearchResponse* response) {
  const Model& model = *serving.model;
  if (request.include_reconstruction()) {
    std::vector<float> recon(model.input_size());
    if (absl::Status s = model.Decode(code, 1, recon.data()); !s.ok()) return s;
    auto output =
        VectorToOutput(runtime.spec(), serving.text.get(), recon.data(), kDefaultTopWords);
    if (!output.ok()) return output.status();
    *response->mutable_reconstruction() = *output;
  }
  return Query{CodeToBytes(code, model.code_size(), model.code_type())};
}

absl::StatusOr<Query> QueryFromInput(const CollectionRuntime& runtime, const ServingModel& serving,
                                     const v1::SearchRequest& request,
                                     v1::SearchResponse* response) {
  const Model& model = *serving.model;
  std::vector<float> x;
  if (absl::Status s = InputToVector(runtime.spec(), serving.text.get(), request.input(), &x);
      !s.ok()) {
    return s;
  }
  std::vector<float> code(model.code_size());
  if (absl::Status s = serving.batcher->Encode(x.data(), code.data()); !s.ok()) return s;
  return QueryFromInputCode(runtime, serving, request, code.data(), response);
}

absl::StatusOr<Query> QueryFromItem(Store* store, const CollectionRuntime& runtime,
                                    uint64_t version, const std::string& id) {
  if (absl::Status s = ValidateItemId(id); !s.ok()) return s;
  CollectionStore items(store);
  auto item = items.GetItem(runtime.name(), id);
  if (!item.ok()) {
    if (item.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError("item '" + id + "' not found");
    }
    return item.status();
  }
  auto code = items.GetCode(runtime.name(), version, item->item_no);
  if (!code.ok()) {
    if (code.status().code() == absl::StatusCode::kNotFound) {
      return absl::FailedPreconditionError("item '" + id +
                                           "' has no code for the serving model yet");
    }
    return code.status();
  }
  return Query{std::move(*code), item->item_no};
}

absl::StatusOr<Query> ResolveQuery(Store* store, const CollectionRuntime& runtime,
                                   const ServingModel& serving, const v1::SearchRequest& request,
                                   v1::SearchResponse* response) {
  const Model& model = *serving.model;
  switch (request.query_case()) {
    case v1::SearchRequest::kInput:
      return QueryFromInput(runtime, serving, request, response);
    case v1::SearchRequest::kCode: {
      auto bytes = CodeFromApi(request.code(), model.code_size(), model.code_type());
      if (!bytes.ok()) return bytes.status();
      return Query{std::move(*bytes)};
    }
    case v1::SearchRequest::kItemId:
      return QueryFromItem(store, runtime, serving.version, request.item_id());
    default:
      return absl::InvalidArgumentError("query must be an input, a code or an item_id");
  }
}

}  // namespace

absl::StatusOr<std::vector<NeighbourCache::Head>> LookupNeighbourHeads(
    Store* store, const CollectionRuntime& runtime, const std::vector<uint64_t>& item_nos) {
  NeighbourCache& cache = runtime.neighbours();
  std::vector<NeighbourCache::Head> heads(item_nos.size());
  std::vector<uint64_t> stamps(item_nos.size());
  std::vector<uint64_t> missing;  // Labels to read.
  std::vector<size_t> missing_at;
  for (size_t i = 0; i < item_nos.size(); ++i) {
    heads[i] = cache.Lookup(item_nos[i], &stamps[i]);
    if (heads[i] == nullptr) {
      missing.push_back(item_nos[i]);
      missing_at.push_back(i);
    }
  }
  if (missing.empty()) return heads;
  CollectionStore items(store);
  auto ids = items.LookupIds(runtime.name(), missing);
  if (!ids.ok()) return ids.status();
  std::vector<std::string> found_ids;
  std::vector<size_t> found_at;  // Index into `missing`.
  for (size_t m = 0; m < missing.size(); ++m) {
    if (!(*ids)[m].has_value()) continue;
    found_ids.push_back(*(*ids)[m]);
    found_at.push_back(m);
  }
  auto records = items.GetItems(runtime.name(), found_ids);
  if (!records.ok()) return records.status();
  for (size_t f = 0; f < found_ids.size(); ++f) {
    const size_t m = found_at[f];
    const auto& item = (*records)[f];
    // Deleted, or deleted and upserted again as a new item, between the two reads.
    if (!item.has_value() || item->item_no != missing[m]) continue;
    v1::Item record;
    if (!record.ParseFromString(item->record)) continue;
    auto head = std::make_shared<v1::Neighbor>();
    head->set_id(found_ids[f]);
    head->set_label(record.label());
    *head->mutable_metadata() = record.metadata();
    const size_t i = missing_at[m];
    heads[i] = head;
    cache.Fill(missing[m], stamps[i], std::move(head));
  }
  return heads;
}

void AddLabelVotes(v1::SearchResponse* response) {
  std::map<std::string, uint32_t> counts;
  for (const v1::Neighbor& n : response->neighbors()) {
    if (!n.label().empty()) ++counts[n.label()];
  }
  std::vector<std::pair<std::string, uint32_t>> votes(counts.begin(), counts.end());
  std::stable_sort(votes.begin(), votes.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  const float total = static_cast<float>(response->neighbors_size());
  for (const auto& [label, count] : votes) {
    v1::LabelVote* vote = response->add_label_votes();
    vote->set_label(label);
    vote->set_count(count);
    vote->set_fraction(static_cast<float>(count) / total);
  }
}

namespace {

// Validates the parts of a search request that need no model: k, ef, the query's presence and
// the filter. Fills *k and *filter (when the request has one).
absl::Status ValidateSearch(const CollectionRuntime& runtime, const v1::SearchRequest& request,
                            uint32_t* k, std::optional<CompiledFilter>* filter) {
  *k = request.k() == 0 ? kDefaultK : request.k();
  if (*k > kMaxK) return absl::InvalidArgumentError("k must be in 1..1000");
  if (request.ef() > kMaxEf) return absl::InvalidArgumentError("ef must be in 0..4096");
  if (request.query_case() == v1::SearchRequest::QUERY_NOT_SET) {
    return absl::InvalidArgumentError("query must be an input, a code or an item_id");
  }
  if (request.has_filter()) {
    auto compiled = CompiledFilter::Compile(request.filter(), runtime.spec());
    if (!compiled.ok()) return compiled.status();
    filter->emplace(std::move(*compiled));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SearchIndex(Store* store, const CollectionRuntime& runtime, const ServingIndex& index,
                         const std::string& code, uint64_t exclude, uint32_t k, uint32_t ef,
                         bool exact, const CompiledFilter* filter,
                         google::protobuf::RepeatedPtrField<v1::Neighbor>* out) {
  absl::StatusOr<std::vector<Neighbor>> found;
  if (filter != nullptr) {
    auto attrs = runtime.attributes().Acquire(store);
    if (!attrs.ok()) return attrs.status();
    found = SearchFilteredIndex(*attrs, index, *filter, code, exclude, k, ef, exact);
  } else {
    const size_t want = k + (exclude != 0 ? 1 : 0);
    found = exact ? index.SearchExact(code, want) : index.Search(code, want, ef);
  }
  if (!found.ok()) return found.status();
  std::vector<uint64_t> item_nos;
  std::vector<float> distances;
  for (const Neighbor& n : *found) {
    if (n.item_no == exclude || item_nos.size() == k) continue;
    item_nos.push_back(n.item_no);
    distances.push_back(n.distance);
  }
  auto heads = LookupNeighbourHeads(store, runtime, item_nos);
  if (!heads.ok()) return heads.status();
  for (size_t i = 0; i < item_nos.size(); ++i) {
    if ((*heads)[i] == nullptr) continue;  // Deleted since the index search.
    const v1::Neighbor& head = *(*heads)[i];
    v1::Neighbor* neighbor = out->Add();
    neighbor->set_id(head.id());
    neighbor->set_label(head.label());
    // Merging even an empty map field costs more than the rest of the copy.
    if (!head.metadata().empty()) *neighbor->mutable_metadata() = head.metadata();
    neighbor->set_distance(distances[i]);
  }
  return absl::OkStatus();
}

namespace {

// The index part of a search whose query is resolved: neighbours into `response`.
absl::Status SearchResolved(Store* store, const CollectionRuntime& runtime,
                            const ServingState& serving, const v1::SearchRequest& request,
                            uint32_t k, const CompiledFilter* filter, const Query& query,
                            v1::SearchResponse* response) {
  const Model& model = *serving.model->model;
  *response->mutable_query_code() = BytesToCode(query.code, model.code_size(), model.code_type());
  return SearchIndex(store, runtime, *serving.index, query.code, query.exclude, k, request.ef(),
                     request.exact(), filter, response->mutable_neighbors());
}

}  // namespace

QueryEngine::QueryEngine(Store* store, const CollectionRegistry* registry)
    : store_(store), registry_(registry) {}

absl::StatusOr<v1::SearchResponse> QueryEngine::Search(const v1::SearchRequest& request) const {
  auto runtime_or = registry_->Lookup(request.collection());
  if (!runtime_or.ok()) return runtime_or.status();
  const CollectionRuntime& runtime = **runtime_or;
  uint32_t k = 0;
  std::optional<CompiledFilter> filter;
  if (absl::Status s = ValidateSearch(runtime, request, &k, &filter); !s.ok()) return s;
  auto serving_or = Serving(runtime);
  if (!serving_or.ok()) return serving_or.status();
  const ServingState& serving = **serving_or;

  v1::SearchResponse response;
  response.set_model_version(serving.model->version);
  auto query = ResolveQuery(store_, runtime, *serving.model, request, &response);
  if (!query.ok()) return query.status();
  if (absl::Status s = SearchResolved(store_, runtime, serving, request, k,
                                      filter ? &*filter : nullptr, *query, &response);
      !s.ok()) {
    return s;
  }
  if (request.label_votes()) AddLabelVotes(&response);
  return response;
}

absl::StatusOr<v1::SearchBatchResponse> QueryEngine::SearchBatch(
    const v1::SearchBatchRequest& request) const {
  auto runtime_or = registry_->Lookup(request.collection());
  if (!runtime_or.ok()) return runtime_or.status();
  const CollectionRuntime& runtime = **runtime_or;
  const int n = request.searches_size();
  if (n == 0 || n > kMaxBatch) {
    return absl::InvalidArgumentError("searches must hold 1..1024 searches");
  }
  auto at = [](int i, const absl::Status& s) {
    return absl::Status(s.code(),
                        "searches[" + std::to_string(i) + "]: " + std::string(s.message()));
  };
  std::vector<uint32_t> ks(n);
  std::vector<std::optional<CompiledFilter>> filters(n);
  for (int i = 0; i < n; ++i) {
    const v1::SearchRequest& search = request.searches(i);
    if (!search.collection().empty() && search.collection() != request.collection()) {
      return at(i, absl::InvalidArgumentError("collection must be empty or '" +
                                              request.collection() + "'"));
    }
    if (absl::Status s = ValidateSearch(runtime, search, &ks[i], &filters[i]); !s.ok()) {
      return at(i, s);
    }
  }
  auto serving_or = Serving(runtime);
  if (!serving_or.ok()) return serving_or.status();
  const ServingState& serving = **serving_or;
  const ServingModel& sm = *serving.model;

  // One encoder call for every input query.
  std::vector<int> input_at;
  std::vector<float> x;
  for (int i = 0; i < n; ++i) {
    if (request.searches(i).query_case() != v1::SearchRequest::kInput) continue;
    if (absl::Status s =
            InputToVector(runtime.spec(), sm.text.get(), request.searches(i).input(), &x);
        !s.ok()) {
      return at(i, s);
    }
    input_at.push_back(i);
  }
  const int64_t code_size = sm.model->code_size();
  std::vector<float> codes(input_at.size() * code_size);
  if (input_at.size() == 1) {
    if (absl::Status s = sm.batcher->Encode(x.data(), codes.data()); !s.ok()) return s;
  } else if (!input_at.empty()) {
    if (absl::Status s =
            sm.model->Encode(x.data(), static_cast<int64_t>(input_at.size()), codes.data());
        !s.ok()) {
      return s;
    }
  }

  v1::SearchBatchResponse response;
  response.set_model_version(sm.version);
  size_t next_input = 0;
  for (int i = 0; i < n; ++i) {
    const v1::SearchRequest& search = request.searches(i);
    v1::SearchResponse* result = response.add_results();
    absl::StatusOr<Query> query =
        search.query_case() == v1::SearchRequest::kInput
            ? QueryFromInputCode(runtime, sm, search, codes.data() + next_input++ * code_size,
                                 result)
            : ResolveQuery(store_, runtime, sm, search, result);
    if (!query.ok()) return at(i, query.status());
    result->set_model_version(sm.version);
    if (absl::Status s = SearchResolved(store_, runtime, serving, search, ks[i],
                                        filters[i] ? &*filters[i] : nullptr, *query, result);
        !s.ok()) {
      return at(i, s);
    }
    if (search.label_votes()) AddLabelVotes(result);
  }
  return response;
}

}  // namespace bn
