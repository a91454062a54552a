// Blobs (model versions, shard snapshots, training datasets) carried by JetStream: libnats 3.4
// has no object store, so a blob is a run of chunk messages on a subject of its own in one
// stream (<CLUSTER>_BLOBS), described by a BlobRef (internal.proto) that the metadata buckets
// hold. Any node can read any blob; a replica never needs another node's disk.
//
// Thread safety: a BlobChannel may be used from any thread; a Writer by one thread at a time.
// Errors: those of nats_client.h; DATA_LOSS when a blob read back does not match its BlobRef
// (size, chunk count or CRC); NOT_FOUND when its chunks were deleted.
#ifndef BOTTLENECK_SERVER_CLUSTER_BLOB_CHANNEL_H_
#define BOTTLENECK_SERVER_CLUSTER_BLOB_CHANNEL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "bottleneck/cluster/internal.pb.h"
#include "server/cluster/names.h"
#include "server/cluster/nats_client.h"

namespace bn::cluster {

class BlobChannel {
 public:
  // `connection` must outlive the channel. Chunks are at most `chunk_bytes` (and below the
  // servers' max_payload).
  // kBlobs: models and datasets (names.h's BlobStream); kSnapshots: shard snapshots.
  enum class Kind { kBlobs, kSnapshots };
  BlobChannel(nats::Connection* connection, Names names, size_t chunk_bytes = size_t{1} << 20,
              Kind kind = Kind::kBlobs);

  // Creates the blob stream (or updates its replica count).
  [[nodiscard]] absl::Status EnsureStream(int replicas);

  // Writes a blob in pieces of any size; Finish() publishes the last chunk and returns the
  // reference. A writer destroyed before Finish() deletes what it published.
  class Writer {
   public:
    virtual ~Writer() = default;
    [[nodiscard]] virtual absl::Status Append(absl::string_view bytes) = 0;
    [[nodiscard]] virtual absl::StatusOr<bottleneck::cluster::BlobRef> Finish() = 0;
  };
  std::unique_ptr<Writer> NewWriter();

  [[nodiscard]] absl::StatusOr<bottleneck::cluster::BlobRef> Put(absl::string_view bytes);
  // Calls `sink` with each chunk in order, then checks size and CRC (DATA_LOSS on mismatch; the
  // sink has then seen bad data and must discard it). A sink error stops the read.
  [[nodiscard]] absl::Status Read(const bottleneck::cluster::BlobRef& ref,
                                  const std::function<absl::Status(absl::string_view)>& sink);
  [[nodiscard]] absl::StatusOr<std::string> Get(const bottleneck::cluster::BlobRef& ref);
  // Removes the blob's chunks (OK if already gone).
  [[nodiscard]] absl::Status Delete(const bottleneck::cluster::BlobRef& ref);

 private:
  std::string Stream() const;
  std::string Subject(absl::string_view id) const;

  nats::Connection* const connection_;
  const Names names_;
  const size_t chunk_bytes_;
  const Kind kind_;
};

// Record framing inside a blob (snapshots, datasets): u32 little-endian length + bytes.
void AppendRecord(absl::string_view record, std::string* out);
// Splits a byte stream into records as chunks arrive.
class RecordReader {
 public:
  // Feeds bytes; calls `record` for each complete record. A record error stops the reader.
  [[nodiscard]] absl::Status Feed(absl::string_view bytes,
                                  const std::function<absl::Status(absl::string_view)>& record);
  // DATA_LOSS if bytes of an incomplete record are left over.
  [[nodiscard]] absl::Status Finish() const;

 private:
  std::string pending_;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_BLOB_CHANNEL_H_
