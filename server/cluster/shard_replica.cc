#include "server/cluster/shard_replica.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "engine/store/collection_store.h"
#include "engine/util/log.h"
#include "server/cluster/blob_channel.h"
#include "server/cluster/local_state.h"
#include "server/cluster/log_trimmer.h"
#include "server/cluster/metadata.h"
#include "server/cluster/nats_client.h"
#include "server/cluster/retry.h"
#include "server/cluster/shard_versions.h"
#include "server/cluster/snapshot_blob.h"
#include "server/cluster/topology.h"
#include "server/core/core.h"
#include "server/core/runtime.h"
#include "server/core/thread_priority.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;
namespace v1 = ::bottleneck::v1;

constexpr int kFetchBatch = 256;
constexpr size_t kRestoreBatch = 512;

}  // namespace

ShardReplica::ShardReplica(const ClusterContext& context, LocalState* local,
                           const pb::CollectionEntry& entry, uint32_t shard)
    : context_(context),
      local_state_(local),
      collection_(entry.collection().name()),
      incarnation_(entry.incarnation()),
      shard_(shard),
      local_(Names::LocalShard(collection_, shard)),
      stream_(entry.stream()),
      subject_(context.names->LogSubject(collection_, incarnation_, shard)),
      consumer_(Names::ReplicaConsumer(context.options->node_id, shard)),
      entry_(entry) {
  versions_ = std::make_unique<ShardVersions>(context_, collection_, incarnation_, local_);
}

ShardReplica::~ShardReplica() { Stop(); }

void ShardReplica::Start() {
  thread_ = std::thread([this] { Run(); });
  snapshot_thread_ = std::thread([this] {
    LowerThisThreadPriority(context_.options->background_nice);
    while (Sleep(std::chrono::milliseconds(200))) {
      if (!snapshot_requested_.exchange(false)) continue;
      if (absl::Status s = WriteSnapshot(); !s.ok()) {
        BN_LOG(WARNING) << "shard " << local_ << ": snapshot not written: " << s;
      }
    }
  });
}

void ShardReplica::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  applied_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  versions_->Stop();
}

void ShardReplica::Drop() {
  Stop();
  if (absl::Status s = context_.core->DeleteCollection(local_);
      !s.ok() && s.code() != absl::StatusCode::kNotFound) {
    BN_LOG(WARNING) << "shard " << local_ << ": local data not deleted: " << s;
  }
  (void)local_state_->Erase(local_);
  BN_LOG(INFO) << "shard " << local_ << " dropped from this node";
}

bool ShardReplica::Sleep(std::chrono::milliseconds duration) {
  std::unique_lock<std::mutex> lock(mutex_);
  applied_cv_.wait_for(lock, duration, [&] { return stopped_; });
  return !stopped_;
}

void ShardReplica::UpdateEntry(const pb::CollectionEntry& entry) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    entry_ = entry;
  }
  versions_->Update(entry.serving_version(), entry.promotion_target());
}

std::shared_ptr<CollectionRuntime> ShardReplica::runtime() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return runtime_;
}

void ShardReplica::Run() {
  std::chrono::milliseconds backoff(200);
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopped_) return;
    }
    absl::Status s = prepared_ ? absl::OkStatus() : Prepare();
    if (s.ok()) s = Follow();
    if (s.ok()) return;  // Stopped.
    if (lost_) {
      BN_LOG(WARNING) << "shard " << local_ << ": " << s;
      return;
    }
    BN_LOG(WARNING) << "shard " << local_ << ": " << s << " (retrying)";
    if (!Sleep(backoff)) return;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

absl::Status ShardReplica::Prepare() {
  CollectionRegistry& registry = context_.core->collections();
  CollectionStore store(context_.store);
  pb::CollectionEntry entry;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    entry = entry_;
  }
  const auto recorded = local_state_->Get(local_);
  const bool ours = recorded.has_value() && recorded->collection() == collection_ &&
                    recorded->incarnation() == incarnation_ && recorded->shard() == shard_ &&
                    !recorded->training();
  auto runtime = registry.Find(local_);
  if (runtime.ok() && ours) {
    // A restore that did not finish stored items without its log position: start over.
    auto state = store.GetCollectionState(local_);
    if (!state.ok()) return state.status();
    if (state->log_position == 0 && state->item_count > 0) runtime = absl::NotFoundError("redo");
    // Down while the log was trimmed past it: the messages it needs are gone.
    auto trimmed = TrimmedPastApplied(state->log_position);
    if (!trimmed.ok()) return trimmed.status();
    if (*trimmed) {
      BN_LOG(WARNING) << "shard " << local_ << ": the log was trimmed past its position "
                      << state->log_position << "; restoring the shard's snapshot";
      runtime = absl::NotFoundError("trimmed");
    }
  }
  if (!(runtime.ok() && ours)) {
    // Another incarnation's data, an unfinished restore, or nothing yet: start afresh.
    if (registry.Find(local_).ok()) {
      if (absl::Status s = context_.core->DeleteCollection(local_); !s.ok()) return s;
    }
    v1::CreateCollectionRequest create;
    create.set_name(local_);
    *create.mutable_spec() = entry.collection().spec();
    if (auto created = registry.Create(create); !created.ok()) return created.status();
    pb::LocalCollection record;
    record.set_collection(collection_);
    record.set_incarnation(incarnation_);
    record.set_shard(shard_);
    if (absl::Status s = local_state_->Put(local_, record); !s.ok()) return s;
    auto snapshot = Retrying(
        [&] {
          return context_.metadata->snapshots().Get(
              Names::SnapshotKey(collection_, incarnation_, shard_));
        },
        std::chrono::seconds(10));
    if (!snapshot.ok()) return snapshot.status();
    if (snapshot->has_value()) {
      pb::SnapshotEntry parsed;
      if (!parsed.ParseFromString((*snapshot)->value)) {
        return absl::DataLossError("the shard's snapshot record does not parse");
      }
      if (parsed.log_position() > 0) {
        // The log is kept whole: a snapshot that cannot be read (its blob lost or damaged) is
        // only a shortcut lost. Replaying every write from the start gives the same items.
        if (absl::Status s = Restore(parsed); !s.ok()) {
          if (s.code() != absl::StatusCode::kNotFound && s.code() != absl::StatusCode::kDataLoss) {
            return s;
          }
          auto trim = ReadLogTrim(context_, collection_, incarnation_);
          if (!trim.ok()) return trim.status();
          if (trim->has_value() && (*trim)->deleting_below() > 1) {
            // The log no longer starts at 1. A snapshot replaced while it was read is gone
            // (NOT_FOUND) but its successor is there; a damaged one is replaced within a
            // snapshot interval by a ready replica. Start over then (Run retries).
            if (absl::Status dropped = context_.core->DeleteCollection(local_); !dropped.ok()) {
              return dropped;
            }
            return absl::Status(
                s.code(),
                absl::StrCat("the shard's snapshot at log position ", parsed.log_position(),
                             " was not restored (", s.message(), ") and the log is trimmed below ",
                             (*trim)->deleting_below(), "; trying the latest again"));
          }
          BN_LOG(WARNING) << "shard " << local_ << ": snapshot not restored (" << s
                          << "); replaying the log from its start";
          if (absl::Status dropped = context_.core->DeleteCollection(local_); !dropped.ok()) {
            return dropped;
          }
          if (auto created = registry.Create(create); !created.ok()) return created.status();
        }
      }
    }
    runtime = registry.Find(local_);
    if (!runtime.ok()) return runtime.status();
  }
  auto state = store.GetCollectionState(local_);
  if (!state.ok()) return state.status();
  applied_ = state->log_position;
  if (auto snapshot =
          context_.metadata->snapshots().Get(Names::SnapshotKey(collection_, incarnation_, shard_));
      snapshot.ok() && snapshot->has_value()) {
    pb::SnapshotEntry parsed;
    if (parsed.ParseFromString((*snapshot)->value)) snapshot_position_ = parsed.log_position();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    runtime_ = *runtime;
  }
  versions_->Update(entry.serving_version(), entry.promotion_target());
  versions_->Start(*runtime);
  prepared_ = true;
  BN_LOG(INFO) << "shard " << local_ << ": following " << subject_ << " from " << applied_ + 1;
  return absl::OkStatus();
}

absl::Status ShardReplica::Restore(const pb::SnapshotEntry& snapshot) {
  BN_LOG(INFO) << "shard " << local_ << ": restoring the snapshot at log position "
               << snapshot.log_position() << " (" << snapshot.items() << " items, from node "
               << snapshot.node() << ")";
  CollectionStore store(context_.store);
  RecordReader reader;
  bool header_seen = false;
  pb::SnapshotHeader header;
  ItemBatch pending;
  uint64_t restored = 0;
  auto on_record = [&](absl::string_view bytes) -> absl::Status {
    if (!header_seen) {
      if (!header.ParseFromString(std::string(bytes)) || header.collection() != collection_ ||
          header.incarnation() != incarnation_ || header.shard() != shard_ ||
          header.log_position() != snapshot.log_position()) {
        return absl::DataLossError("the snapshot's header does not match its shard");
      }
      header_seen = true;
      return absl::OkStatus();
    }
    pb::SnapshotItem item;
    if (!item.ParseFromString(std::string(bytes))) {
      return absl::DataLossError("a snapshot item does not parse");
    }
    if (pending.size() >= kRestoreBatch) {
      // Written without the log position: only the last batch carries it (Prepare redoes a
      // restore that stopped before it).
      if (auto written = store.Write(local_, pending); !written.ok()) return written.status();
      pending = ItemBatch();
    }
    std::vector<std::pair<uint64_t, std::string>> codes;
    if (!item.code().empty() && header.code_version() != 0) {
      codes.emplace_back(header.code_version(), item.code());
    }
    pending.Upsert(item.id(), item.record(), std::move(codes));
    ++restored;
    return absl::OkStatus();
  };
  absl::Status s = context_.snapshot_blobs->Read(
      snapshot.blob(), [&](absl::string_view chunk) { return reader.Feed(chunk, on_record); });
  if (s.ok()) s = reader.Finish();
  if (s.ok() && restored != snapshot.items()) {
    s = absl::DataLossError(absl::StrCat("the snapshot holds ", restored,
                                         " items, its record says ", snapshot.items()));
  }
  if (!s.ok()) return s;
  if (!pending.empty()) {
    pending.SetLogPosition(snapshot.log_position());
    if (auto written = store.Write(local_, pending); !written.ok()) return written.status();
  }
  BN_LOG(INFO) << "shard " << local_ << ": restored " << restored << " items";
  return absl::OkStatus();
}

absl::Status ShardReplica::Follow() {
  auto consumer = Retrying([&] {
    return context_.nats->CreatePullConsumer(stream_, consumer_, subject_, applied_.load() + 1);
  });
  if (!consumer.ok()) return consumer.status();
  uint64_t expected = 1;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopped_) return absl::OkStatus();
    }
    auto batch = (*consumer)->Fetch(kFetchBatch, std::chrono::milliseconds(500), 0);
    if (!batch.ok()) return batch.status();
    // The consumer skips deleted messages as it skips other shards' ones: a fetch that jumps
    // past the next sequence, or finds nothing (the trimmer may have deleted the log's whole
    // tail), may have missed messages the log trimmer deleted (log_trimmer.h).
    bool gap = true;
    for (const nats::Message& message : *batch) {
      if (message.stream_sequence <= applied_.load()) continue;
      gap = message.stream_sequence > applied_.load() + 1;
      break;
    }
    if (gap) {
      auto trimmed = TrimmedPastApplied(applied_.load());
      if (!trimmed.ok()) return trimmed.status();
      if (*trimmed) {
        lost_ = true;
        ready_ = false;
        return absl::DataLossError(
            absl::StrCat("the log was trimmed past this replica's position ", applied_.load(),
                         "; it stops and a new replica restores the shard's snapshot"));
      }
    }
    for (const nats::Message& message : *batch) {
      if (message.consumer_sequence != expected) {
        // A delivery was lost (e.g. with a failed NATS server): start again after what was
        // applied, so that nothing is applied out of order.
        return absl::AbortedError(absl::StrCat("delivery ", expected, " of ", consumer_,
                                               " was lost; re-reading from ", applied_ + 1));
      }
      ++expected;
      if (message.stream_sequence <= applied_.load()) continue;
      if (!WaitWhileHeld(message.stream_sequence)) return absl::OkStatus();  // Stopped.
      if (absl::Status s = Apply(message.stream_sequence, message.data); !s.ok()) return s;
    }
    if (!batch->empty()) (void)(*consumer)->AckUpTo(batch->back());
    if (batch->empty() || batch->back().num_pending == 0) {
      if (!ready_.exchange(true)) {
        BN_LOG(INFO) << "shard " << local_ << ": caught up with the log at " << applied_;
      }
    }
  }
}

absl::StatusOr<bool> ShardReplica::TrimmedPastApplied(uint64_t applied) {
  auto trim = ReadLogTrim(context_, collection_, incarnation_);
  if (!trim.ok()) return trim.status();
  return trim->has_value() && TrimmedPast(**trim, shard_, applied);
}

absl::Status ShardReplica::Apply(uint64_t sequence, const std::string& data) {
  pb::LogEntry entry;
  absl::Status applied = absl::OkStatus();
  if (!entry.ParseFromString(data)) {
    applied = absl::DataLossError("the message does not parse");
  } else if (entry.incarnation() != incarnation_ || entry.shard() != shard_) {
    applied = absl::DataLossError("the message is for another shard");
  } else if (entry.has_upsert()) {
    v1::UpsertRequest request = entry.upsert();
    request.set_collection(local_);
    applied = context_.core->ingest().Upsert(request, sequence).status();
  } else if (entry.has_delete_()) {
    v1::DeleteItemsRequest request = entry.delete_();
    request.set_collection(local_);
    applied = context_.core->ingest().Delete(request, sequence).status();
  }
  switch (applied.code()) {
    case absl::StatusCode::kOk:
      break;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kDataLoss:
      // Every replica refuses this message the same way (the router validated it with the
      // same model): it changes nothing, anywhere.
      BN_LOG(ERROR) << "shard " << local_ << ": log message " << sequence
                    << " not applied: " << applied;
      break;
    case absl::StatusCode::kInternal:
      // Stored, but the index update failed (it is rebuilt from the store on restart).
      BN_LOG(ERROR) << "shard " << local_ << ": log message " << sequence << ": " << applied;
      break;
    default:
      return applied;  // Retried from the consumer's start.
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    applied_ = sequence;
  }
  applied_cv_.notify_all();
  return absl::OkStatus();
}

absl::Status ShardReplica::WaitForSequence(uint64_t sequence,
                                           std::chrono::system_clock::time_point deadline) {
  while (true) {
    if (applied_.load() >= sequence || complete_through_.load() >= sequence) {
      return absl::OkStatus();
    }
    // Is a message of this shard between what is applied and `sequence`? (Every sequence up to
    // an acknowledged one is already in the log.)
    auto next = context_.nats->NextMessage(stream_, subject_, applied_.load() + 1);
    if (!next.ok()) return absl::UnavailableError(std::string(next.status().message()));
    if (!next->has_value() || (*next)->stream_sequence > sequence) {
      // Unless the messages in between were deleted under a replica the trim left behind (it
      // finds out at its next fetch and is replaced).
      auto trimmed = TrimmedPastApplied(applied_.load());
      if (!trimmed.ok()) return absl::UnavailableError(std::string(trimmed.status().message()));
      if (*trimmed) {
        return absl::UnavailableError(absl::StrCat(
            "shard ", shard_, " of collection '", collection_, "' on node ",
            context_.options->node_id, " was left behind by the log's trim and is being rebuilt"));
      }
      uint64_t seen = complete_through_.load();
      while (seen < sequence && !complete_through_.compare_exchange_weak(seen, sequence)) {
      }
      return absl::OkStatus();
    }
    const uint64_t target = (*next)->stream_sequence;
    std::unique_lock<std::mutex> lock(mutex_);
    if (!applied_cv_.wait_until(lock, deadline,
                                [&] { return stopped_ || applied_.load() >= target; })) {
      return absl::UnavailableError(absl::StrCat("shard ", shard_, " of collection '", collection_,
                                                 "' on node ", context_.options->node_id,
                                                 " has applied its log up to ", applied_.load(),
                                                 ", not yet ", target));
    }
    if (stopped_) return absl::UnavailableError("the replica is stopping");
  }
}

pb::ReplicaReport ShardReplica::Report() const {
  pb::ReplicaReport report;
  report.set_collection(collection_);
  report.set_incarnation(incarnation_);
  report.set_shard(shard_);
  const bool ready = ready_.load();
  report.set_state(!prepared_ || lost_ ? kRestoring
                   : !ready            ? kCatchingUp
                   : leaving_          ? kLeaving
                                       : kReady);
  report.set_applied_sequence(applied_.load());
  auto runtime = this->runtime();
  if (runtime != nullptr) {
    CollectionStore store(context_.store);
    if (auto state = store.GetCollectionState(local_); state.ok()) {
      report.set_item_count(state->item_count);
      uint64_t indexed = 0;
      if (auto serving = runtime->serving()) {
        indexed = serving->index->index().size();
        report.set_index_bytes(serving->index->index().MemoryBytes());
      }
      report.set_pending_item_count(state->item_count > indexed ? state->item_count - indexed : 0);
    }
    if (auto size = store.ApproximateSize(local_); size.ok()) {
      report.set_store_bytes(size->total());
    }
    if (ready) {
      for (uint64_t v : versions_->ReadyVersions()) report.add_ready_versions(v);
    }
    uint64_t version = 0, done = 0, total = 0;
    versions_->Progress(&version, &done, &total);
    report.set_promotion_version(version);
    report.set_promotion_done(done);
    report.set_promotion_total(total);
  }
  return report;
}

void ShardReplica::RequestSnapshot() { snapshot_requested_ = true; }

pb::SnapshotHeader ShardReplica::SnapshotHeaderAt(uint64_t position,
                                                  const CollectionRuntime& runtime) const {
  auto serving = runtime.serving();
  pb::SnapshotHeader header;
  header.set_collection(collection_);
  header.set_incarnation(incarnation_);
  header.set_shard(shard_);
  header.set_log_position(position);
  header.set_code_version(serving == nullptr ? 0 : serving->model->version);
  return header;
}

absl::Status ShardReplica::WriteSnapshot() {
  auto runtime = this->runtime();
  if (runtime == nullptr) return absl::OkStatus();
  CollectionStore store(context_.store);
  // The position first: the scan below sees at least that much, and a restore replays the log
  // after it (applying a message twice leaves the same item).
  auto state = store.GetCollectionState(local_);
  if (!state.ok()) return state.status();
  const uint64_t position = state->log_position;
  if (position == 0 || position <= snapshot_position_.load()) return absl::OkStatus();
  const pb::SnapshotHeader header = SnapshotHeaderAt(position, *runtime);
  const uint64_t code_version = header.code_version();
  SnapshotBlobWriter writer(context_.snapshot_blobs, header);
  absl::Status scanned = store.ScanItems(local_, [&](const Item& item) {
    std::string code;
    if (code_version != 0) {
      if (auto stored = store.GetCode(local_, code_version, item.item_no); stored.ok()) {
        code = std::move(*stored);
      }
    }
    return writer.Add(item.id, item.record, code) && !stopped_;
  });
  if (!scanned.ok()) return scanned;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return absl::OkStatus();
  }
  auto written = writer.Finish(context_.options->node_id);
  if (!written.ok()) return written.status();
  const pb::SnapshotEntry& entry = *written;
  const uint64_t items = entry.items();
  const std::string key = Names::SnapshotKey(collection_, incarnation_, shard_);
  nats::KeyValue& bucket = context_.metadata->snapshots();
  auto current = bucket.Get(key);
  if (!current.ok()) return current.status();
  pb::SnapshotEntry previous;
  absl::StatusOr<uint64_t> put = absl::UnknownError("");
  if (current->has_value()) {
    if (!previous.ParseFromString((*current)->value)) previous.Clear();
    if (previous.log_position() >= position) {  // Another replica wrote a newer one.
      (void)context_.snapshot_blobs->Delete(entry.blob());
      snapshot_position_ = previous.log_position();
      return absl::OkStatus();
    }
    put = bucket.Update(key, entry.SerializeAsString(), (*current)->revision);
  } else {
    put = bucket.Create(key, entry.SerializeAsString());
  }
  if (!put.ok()) {
    (void)context_.snapshot_blobs->Delete(entry.blob());
    return put.status();
  }
  if (previous.has_blob()) (void)context_.snapshot_blobs->Delete(previous.blob());
  snapshot_position_ = position;
  BN_LOG(INFO) << "shard " << local_ << ": snapshot of " << items << " items at log position "
               << position << " (" << entry.blob().size() << " bytes)";
  return absl::OkStatus();
}

}  // namespace bn::cluster
