#include "server/cluster/log_trimmer.h"

#include <algorithm>
#include <ctime>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/util/log.h"
#include "server/cluster/metadata.h"
#include "server/cluster/nats_client.h"
#include "server/cluster/topology.h"
#include "server/core/thread_priority.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;

// Progress is stored every this many sequences, so that a trim stopped midway resumes near
// where it stopped.
constexpr uint64_t kProgressEvery = 4096;
// Delete requests in flight (each is a Raft entry of the log's stream).
constexpr int kWindow = 64;

}  // namespace

absl::StatusOr<std::optional<pb::LogTrimEntry>> ReadLogTrim(const ClusterContext& context,
                                                            const std::string& collection,
                                                            uint64_t incarnation) {
  auto value = context.metadata->snapshots().Get(Names::LogTrimKey(collection, incarnation));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::nullopt;
  pb::LogTrimEntry trim;
  if (!trim.ParseFromString((*value)->value)) {
    return absl::DataLossError("the collection's log trim record does not parse");
  }
  return trim;
}

bool TrimmedPast(const pb::LogTrimEntry& trim, uint32_t shard, uint64_t applied) {
  if (applied + 1 >= trim.deleting_below()) return false;
  // Past the position of the snapshot the bound was set under, the shard has no message below
  // the bound.
  return shard >= static_cast<uint32_t>(trim.deleting_positions_size()) ||
         applied < trim.deleting_positions(static_cast<int>(shard));
}

LogTrimmer::LogTrimmer(const ClusterContext& context) : context_(context) {}

LogTrimmer::~LogTrimmer() { Stop(); }

void LogTrimmer::Start() {
  thread_ = std::thread([this] {
    LowerThisThreadPriority(context_.options->background_nice);
    Run();
  });
}

void LogTrimmer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LogTrimmer::Request(const pb::CollectionEntry& entry) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_[entry.collection().name()] = entry;
  }
  wake_.notify_all();
}

bool LogTrimmer::Sleep(std::chrono::milliseconds duration) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_for(lock, duration, [&] { return stopped_; });
  return !stopped_;
}

void LogTrimmer::Run() {
  while (true) {
    std::map<std::string, pb::CollectionEntry> requested;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopped_ || !pending_.empty(); });
      if (stopped_) return;
      requested.swap(pending_);
    }
    // Every collection's announcement first, then one lease for all of them.
    std::vector<Pass> passes;
    bool announced = false;
    for (auto& [name, entry] : requested) {
      Pass pass;
      pass.entry = std::move(entry);
      bool stored = false;
      auto go_on = Announce(&pass, &stored);
      if (!go_on.ok()) {
        BN_LOG(WARNING) << "log of collection " << name << " not trimmed: " << go_on.status();
        continue;
      }
      announced = announced || stored;
      if (*go_on) passes.push_back(std::move(pass));
    }
    if (announced && !Sleep(context_.options->lease)) return;
    for (Pass& pass : passes) {
      if (auto result = Delete(&pass); !result.ok()) {
        BN_LOG(WARNING) << "log of collection " << pass.entry.collection().name()
                        << " not trimmed: " << result.status();
      }
    }
  }
}

absl::Status LogTrimmer::Store(const std::string& key, pb::LogTrimEntry* trim, uint64_t* revision) {
  trim->set_node(context_.options->node_id);
  trim->set_update_unix(static_cast<int64_t>(std::time(nullptr)));
  nats::KeyValue& bucket = context_.metadata->snapshots();
  auto put = *revision == 0 ? bucket.Create(key, trim->SerializeAsString())
                            : bucket.Update(key, trim->SerializeAsString(), *revision);
  if (!put.ok()) {
    if (put.status().code() == absl::StatusCode::kAlreadyExists) {
      return absl::FailedPreconditionError("another node trims this log");
    }
    return put.status();
  }
  *revision = *put;
  return absl::OkStatus();
}

absl::StatusOr<bool> LogTrimmer::Announce(Pass* pass, bool* announced) {
  const pb::CollectionEntry& entry = pass->entry;
  const std::string& name = entry.collection().name();
  const uint64_t incarnation = entry.incarnation();
  nats::KeyValue& bucket = context_.metadata->snapshots();
  *announced = false;
  // Not while a member of an older build (which would not notice deleted messages) may run.
  std::map<std::string, bool> checks;
  for (const Metadata::NodeView& node : context_.metadata->Nodes()) {
    checks[node.entry.node()] = node.entry.checks_log_trim();
  }
  for (const std::string& member : context_.metadata->Members()) {
    if (!checks[member]) {
      BN_LOG(INFO) << "log of collection " << name << " not trimmed: member " << member
                   << " runs a build that does not check for trimmed logs";
      return false;
    }
  }

  // How far each shard's latest snapshot covers the log: its position P, then the shard's next
  // message after P (or the log's end, read first: a message stored later lies beyond it).
  auto stream = context_.nats->GetStream(entry.stream());
  if (!stream.ok()) return stream.status();
  uint64_t trimmed_below = std::numeric_limits<uint64_t>::max();
  std::vector<uint64_t> positions;
  for (uint32_t s = 0; s < entry.shards(); ++s) {
    auto value = bucket.Get(Names::SnapshotKey(name, incarnation, s));
    if (!value.ok()) return value.status();
    uint64_t position = 0;  // No snapshot: the shard's log from its start.
    if (value->has_value()) {
      pb::SnapshotEntry snapshot;
      if (!snapshot.ParseFromString((*value)->value)) {
        return absl::DataLossError(absl::StrCat("shard ", s, "'s snapshot record does not parse"));
      }
      position = snapshot.log_position();
    }
    const std::string subject = context_.names->LogSubject(name, incarnation, s);
    auto next = context_.nats->NextMessage(entry.stream(), subject, position + 1);
    if (!next.ok()) return next.status();
    const uint64_t covered =
        next->has_value() ? (*next)->stream_sequence : stream->last_sequence + 1;
    trimmed_below = std::min(trimmed_below, covered);
    positions.push_back(position);
  }
  if (positions.empty()) return false;
  pass->first_sequence = stream->first_sequence;

  pass->key = Names::LogTrimKey(name, incarnation);
  pb::LogTrimEntry& trim = pass->trim;
  uint64_t& revision = pass->revision;
  if (auto value = bucket.Get(pass->key); !value.ok()) {
    return value.status();
  } else if (value->has_value()) {
    if (!trim.ParseFromString((*value)->value)) {
      return absl::DataLossError("the collection's log trim record does not parse");
    }
    revision = (*value)->revision;
  }
  if (trimmed_below > trim.trimmed_below()) {
    // Step 1: announce, then give every live replica one lease to report where it is.
    trim.set_trimmed_below(trimmed_below);
    trim.clear_shard_positions();
    for (uint64_t p : positions) trim.add_shard_positions(p);
    if (absl::Status s = Store(pass->key, &trim, &revision); !s.ok()) return s;
    *announced = true;
  }
  return true;
}

absl::StatusOr<LogTrimmer::Result> LogTrimmer::Delete(Pass* pass) {
  const pb::CollectionEntry& entry = pass->entry;
  const std::string& name = entry.collection().name();
  const std::string& key = pass->key;
  pb::LogTrimEntry& trim = pass->trim;
  uint64_t& revision = pass->revision;
  Result result;
  // Step 2: not past a live replica that still needs messages below trimmed_below.
  uint64_t bound = trim.trimmed_below();
  for (const ShardTopology& shard : Topology(*context_.metadata, entry)) {
    const uint64_t position = shard.shard < static_cast<uint32_t>(trim.shard_positions_size())
                                  ? trim.shard_positions(static_cast<int>(shard.shard))
                                  : 0;
    for (const ReplicaInfo& replica : shard.replicas) {
      const uint64_t applied = replica.report.applied_sequence();
      // A replica still preparing reports 0 until it knows its position: it reads the record
      // then (and again after every fetch), so it needs no room here.
      if (!replica.live || (replica.report.state() == kRestoring && applied == 0)) continue;
      if (applied >= position) continue;
      bound = std::min(bound, applied + 1);
    }
  }
  if (bound <= trim.deleted_below() || bound <= pass->first_sequence) {
    result.deleting_below = trim.deleting_below();
    return result;
  }
  if (bound > trim.deleting_below()) {
    trim.set_deleting_below(bound);
    *trim.mutable_deleting_positions() = trim.shard_positions();
    if (absl::Status s = Store(key, &trim, &revision); !s.ok()) return s;
  }
  result.deleting_below = trim.deleting_below();

  const uint64_t end = trim.deleting_below();
  uint64_t sequence = std::max<uint64_t>({trim.deleted_below(), pass->first_sequence, 1});
  const auto start = std::chrono::steady_clock::now();
  absl::Status failed = absl::OkStatus();
  while (sequence < end) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopped_) break;
    }
    uint64_t deleted = 0, done = sequence;
    absl::Status s = context_.nats->DeleteMessages(entry.stream(), sequence,
                                                   std::min(end, sequence + kProgressEvery),
                                                   kWindow, &deleted, &done);
    result.deleted += deleted;
    sequence = std::max(sequence, done);
    if (!s.ok()) {
      failed = s;
      break;
    }
    if (sequence < end) {
      trim.set_deleted_below(sequence);
      if (absl::Status stored = Store(key, &trim, &revision); !stored.ok()) return stored;
    }
  }
  if (sequence > trim.deleted_below()) {
    trim.set_deleted_below(sequence);
    if (absl::Status stored = Store(key, &trim, &revision); !stored.ok() && failed.ok()) {
      failed = stored;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BN_LOG(INFO) << "log of collection " << name << " trimmed below " << sequence << " ("
               << result.deleted << " messages deleted in " << seconds << " s; snapshots cover "
               << trim.trimmed_below() << ")";
  if (!failed.ok()) return failed;
  return result;
}

}  // namespace bn::cluster
