// Deletes blobs that no metadata names: the chunks a writer published and never named because
// it was killed first (a model version being published, a dataset upload, a shard snapshot, a
// cluster restore; a writer that fails without dying deletes its own chunks). Without this they
// stay on the blob and snapshot streams for good, on every NATS server: a node killed while it
// writes the snapshot of a 1M-item shard leaves about 400 MB behind.
//
// A blob is collected when its id is in no value of the models, datasets and snapshots buckets
// and its last chunk is older than the grace period (so that a blob still being written, or
// written and about to be named, or a backup's cut being copied, is never touched). Chunks are
// deleted message by message, never purged (nats-io/nats-server#4196).
//
// One node collects: the live member with the smallest node id, every `interval`.
//
// Thread safety: every method may be called from any thread.
#ifndef BOTTLENECK_SERVER_CLUSTER_BLOB_COLLECTOR_H_
#define BOTTLENECK_SERVER_CLUSTER_BLOB_COLLECTOR_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "server/cluster/context.h"

namespace bn::cluster {

class BlobCollector {
 public:
  BlobCollector(const ClusterContext& context, std::chrono::seconds grace,
                std::chrono::seconds interval);
  ~BlobCollector();  // Stop().
  BlobCollector(const BlobCollector&) = delete;
  BlobCollector& operator=(const BlobCollector&) = delete;

  void Start();
  void Stop();  // Idempotent.

  struct Result {
    uint64_t blobs = 0;   // Unnamed blobs past the grace period, deleted.
    uint64_t chunks = 0;  // Their chunk messages.
  };
  // One pass over both blob streams on the caller's thread, whichever node runs it.
  [[nodiscard]] absl::StatusOr<Result> CollectOnce();

 private:
  void Run();
  bool Sleep(std::chrono::seconds duration);  // False when stopped.

  const ClusterContext context_;
  const std::chrono::seconds grace_;
  const std::chrono::seconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_BLOB_COLLECTOR_H_
