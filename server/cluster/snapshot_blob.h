// Writing one shard snapshot blob (the replica's periodic snapshots and a backup's cut,
// shard_replica.h): the SnapshotHeader, then one SnapshotItem record per item, framed with
// AppendRecord and published in chunks of about 512 KiB on the snapshot stream.
//
// Thread safety: one thread. A writer destroyed before Finish deletes what it published.
#ifndef BOTTLENECK_SERVER_CLUSTER_SNAPSHOT_BLOB_H_
#define BOTTLENECK_SERVER_CLUSTER_SNAPSHOT_BLOB_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bottleneck/cluster/internal.pb.h"
#include "server/cluster/blob_channel.h"

namespace bn::cluster {

class SnapshotBlobWriter {
 public:
  // Starts the blob on `channel` (which must outlive the writer) with `header`.
  SnapshotBlobWriter(BlobChannel* channel, bottleneck::cluster::SnapshotHeader header);

  // Adds an item with its stored record and its code of the header's version (none if empty).
  // False once a write has failed (Finish then returns the error).
  bool Add(const std::string& id, const std::string& record, absl::string_view code);

  // Publishes the rest; the snapshot's entry (blob, log position, items, code version, `node`,
  // now as its time).
  [[nodiscard]] absl::StatusOr<bottleneck::cluster::SnapshotEntry> Finish(const std::string& node);

  uint64_t items() const { return items_; }

 private:
  const bottleneck::cluster::SnapshotHeader header_;
  std::unique_ptr<BlobChannel::Writer> writer_;
  std::string buffer_;
  uint64_t items_ = 0;
  absl::Status written_;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_SNAPSHOT_BLOB_H_
