#include "server/cluster/incarnation_cleanup.h"

#include <functional>

#include "absl/strings/match.h"
#include "bottleneck/cluster/internal.pb.h"
#include "server/cluster/blob_channel.h"
#include "server/cluster/metadata.h"
#include "server/cluster/names.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;

void Keep(absl::Status s, absl::Status* first) {
  if (!s.ok() && !absl::IsNotFound(s) && first->ok()) *first = std::move(s);
}

// The blob a bucket value (ModelEntry, SnapshotEntry, DatasetEntry) names; false when none.
template <typename Entry>
bool BlobOf(const std::string& value, pb::BlobRef* blob) {
  Entry entry;
  if (!entry.ParseFromString(value) || !entry.has_blob()) return false;
  *blob = entry.blob();
  return true;
}

// Purges every key of `bucket` under `prefix`, deleting the blob each value names first.
void Drop(nats::KeyValue& bucket, const std::string& prefix, BlobChannel* blobs,
          const std::function<bool(const std::string&, pb::BlobRef*)>& parse_blob,
          absl::Status* first) {
  auto keys = bucket.Keys();
  if (!keys.ok()) return Keep(keys.status(), first);
  for (const std::string& key : *keys) {
    if (!absl::StartsWith(key, prefix)) continue;
    if (auto value = bucket.Get(key); value.ok() && value->has_value()) {
      pb::BlobRef blob;
      if (parse_blob((*value)->value, &blob)) Keep(blobs->Delete(blob), first);
    }
    Keep(bucket.Purge(key), first);
  }
}

}  // namespace

absl::Status RemoveIncarnation(nats::Connection* nats, Metadata* metadata, const Names& names,
                               BlobChannel* blobs, BlobChannel* snapshot_blobs,
                               const std::string& collection, uint64_t incarnation) {
  absl::Status first = absl::OkStatus();
  Keep(nats->DeleteStream(names.LogStream(collection, incarnation)), &first);
  // Model, snapshot and dataset keys share the prefix <collection>.<incarnation>.
  const std::string prefix = Names::ModelKeyPrefix(collection, incarnation);
  Drop(metadata->models(), prefix, blobs, BlobOf<pb::ModelEntry>, &first);
  Drop(metadata->snapshots(), prefix, snapshot_blobs, BlobOf<pb::SnapshotEntry>, &first);
  Drop(metadata->datasets(), prefix, blobs, BlobOf<pb::DatasetEntry>, &first);
  // Jobs: keys <collection>.<node>.<number>; the entry names its incarnation.
  nats::KeyValue& jobs = metadata->jobs();
  if (auto keys = jobs.Keys(); keys.ok()) {
    for (const std::string& key : *keys) {
      if (!absl::StartsWith(key, collection + ".")) continue;
      auto value = jobs.Get(key);
      pb::JobEntry job;
      if (value.ok() && value->has_value() && job.ParseFromString((*value)->value) &&
          job.incarnation() == incarnation) {
        Keep(jobs.Purge(key), &first);
      }
    }
  } else {
    Keep(keys.status(), &first);
  }
  return first;
}

}  // namespace bn::cluster
