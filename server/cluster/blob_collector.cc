#include "server/cluster/blob_collector.h"

#include <map>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "bottleneck/cluster/internal.pb.h"
#include "engine/util/log.h"
#include "server/cluster/blob_channel.h"
#include "server/cluster/metadata.h"
#include "server/cluster/nats_client.h"
#include "server/core/thread_priority.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;

// Adds the blob id of every value of `bucket` that parses as `Entry` and names one.
template <typename Entry>
absl::Status AddNamed(nats::KeyValue& bucket, std::set<std::string>* ids) {
  auto keys = bucket.Keys();
  if (!keys.ok()) return keys.status();
  for (const std::string& key : *keys) {
    auto value = bucket.Get(key);
    if (!value.ok()) return value.status();
    Entry entry;
    if (value->has_value() && entry.ParseFromString((*value)->value) && entry.has_blob()) {
      ids->insert(entry.blob().id());
    }
  }
  return absl::OkStatus();
}

}  // namespace

BlobCollector::BlobCollector(const ClusterContext& context, std::chrono::seconds grace,
                             std::chrono::seconds interval)
    : context_(context), grace_(grace), interval_(interval) {}

BlobCollector::~BlobCollector() { Stop(); }

void BlobCollector::Start() {
  thread_ = std::thread([this] {
    LowerThisThreadPriority(context_.options->background_nice);
    Run();
  });
}

void BlobCollector::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool BlobCollector::Sleep(std::chrono::seconds duration) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_for(lock, duration, [&] { return stopped_; });
  return !stopped_;
}

void BlobCollector::Run() {
  while (Sleep(interval_)) {
    // The live member with the smallest id collects.
    std::string collector;
    for (const Metadata::NodeView& node : context_.metadata->Nodes()) {
      if (node.live && (collector.empty() || node.entry.node() < collector)) {
        collector = node.entry.node();
      }
    }
    if (collector != context_.options->node_id) continue;
    auto result = CollectOnce();
    if (!result.ok()) {
      BN_LOG(WARNING) << "unnamed blobs not collected: " << result.status();
    } else if (result->blobs > 0) {
      BN_LOG(INFO) << "deleted " << result->blobs << " blobs no metadata names (" << result->chunks
                   << " chunks)";
    }
  }
}

absl::StatusOr<BlobCollector::Result> BlobCollector::CollectOnce() {
  Result result;
  struct Channel {
    BlobChannel* blobs;
    std::string stream;
    std::string prefix;  // Subject of blob id X: prefix + X.
  };
  const Names& names = *context_.names;
  const Channel channels[] = {
      {context_.blobs, names.BlobStream(), names.BlobSubject("")},
      {context_.snapshot_blobs, names.SnapshotStream(), names.SnapshotSubject("")},
  };
  // The subjects first: a blob named after this listing is in the buckets read next.
  std::map<std::string, uint64_t> listed[2];
  bool any = false;
  for (int c = 0; c < 2; ++c) {
    auto subjects = context_.nats->StreamSubjects(channels[c].stream, channels[c].prefix + "*");
    if (!subjects.ok()) return subjects.status();
    listed[c] = std::move(*subjects);
    any = any || !listed[c].empty();
  }
  if (!any) return result;
  std::set<std::string> named;
  for (absl::Status s : {AddNamed<pb::ModelEntry>(context_.metadata->models(), &named),
                         AddNamed<pb::DatasetEntry>(context_.metadata->datasets(), &named),
                         AddNamed<pb::SnapshotEntry>(context_.metadata->snapshots(), &named)}) {
    if (!s.ok()) return s;
  }
  const int64_t cutoff_ns = absl::ToUnixNanos(absl::Now()) -
                            std::chrono::duration_cast<std::chrono::nanoseconds>(grace_).count();
  for (int c = 0; c < 2; ++c) {
    const Channel& channel = channels[c];
    for (const auto& [subject, chunks] : listed[c]) {
      if (!absl::StartsWith(subject, channel.prefix)) continue;
      const std::string id = subject.substr(channel.prefix.size());
      if (named.count(id) > 0) continue;
      auto last = context_.nats->LastMessage(channel.stream, subject);
      if (!last.ok()) return last.status();
      if (!last->has_value() || (*last)->timestamp_ns == 0 || (*last)->timestamp_ns > cutoff_ns) {
        continue;  // Gone meanwhile, or young enough to be in use.
      }
      pb::BlobRef ref;  // Without sequences: Delete finds the chunks by subject.
      ref.set_id(id);
      ref.set_chunks(static_cast<uint32_t>(chunks));
      if (absl::Status s = channel.blobs->Delete(ref); !s.ok()) return s;
      BN_LOG(INFO) << "deleted blob " << id << " of " << channel.stream << " (" << chunks
                   << " chunks, named by no model, dataset or snapshot)";
      ++result.blobs;
      result.chunks += chunks;
    }
  }
  return result;
}

}  // namespace bn::cluster
