// Service-owned records that the engine stores as opaque blobs: model versions, datasets and
// jobs (key layout in engine/store/keys.h). Thin typed wrappers over RocksDB so the rest of the
// core never touches RocksDB directly.
//
// Durability: every Put/Delete is one WriteBatch, WAL-synced per StoreOptions::sync_writes.
// Thread safety: stateless view of a Store; safe from any thread.
#ifndef BOTTLENECK_SERVER_CORE_BLOB_STORE_H_
#define BOTTLENECK_SERVER_CORE_BLOB_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/store/store.h"

namespace bn {

class BlobStore {
 public:
  explicit BlobStore(Store* store) : store_(store) {}

  // Models: (collection, version) -> blob. NotFound when absent.
  [[nodiscard]] absl::Status PutModel(absl::string_view collection, uint64_t version,
                                      absl::string_view blob);
  [[nodiscard]] absl::StatusOr<std::string> GetModel(absl::string_view collection,
                                                     uint64_t version);
  // Versions in ascending order, with their blobs.
  [[nodiscard]] absl::Status ScanModels(
      absl::string_view collection,
      const std::function<bool(uint64_t version, absl::string_view blob)>& fn);

  // Datasets: (collection, dataset, index) -> blob. Index 0 holds the dataset's metadata and is
  // written last (by the caller), so a dataset without it is an unfinished upload.
  [[nodiscard]] absl::Status PutDatasetBlob(absl::string_view collection,
                                            absl::string_view dataset, uint64_t index,
                                            absl::string_view blob);
  [[nodiscard]] absl::StatusOr<std::string> GetDatasetBlob(absl::string_view collection,
                                                           absl::string_view dataset,
                                                           uint64_t index);
  // Blobs with index >= 1 of one dataset, in index order.
  [[nodiscard]] absl::Status ScanDatasetBatches(
      absl::string_view collection, absl::string_view dataset,
      const std::function<bool(uint64_t index, absl::string_view blob)>& fn);
  // Metadata blobs (index 0) of every finished dataset of a collection.
  [[nodiscard]] absl::Status ScanDatasetMetas(
      absl::string_view collection,
      const std::function<bool(absl::string_view dataset, absl::string_view blob)>& fn);
  [[nodiscard]] absl::Status DeleteDataset(absl::string_view collection,
                                           absl::string_view dataset);

  // Jobs: (collection, job id) -> blob, plus an optional checkpoint blob.
  [[nodiscard]] absl::Status PutJob(absl::string_view collection, absl::string_view job_id,
                                    absl::string_view blob);
  [[nodiscard]] absl::StatusOr<std::string> GetJob(absl::string_view collection,
                                                   absl::string_view job_id);
  // Removes the job and its checkpoint.
  [[nodiscard]] absl::Status DeleteJob(absl::string_view collection, absl::string_view job_id);
  [[nodiscard]] absl::Status ScanJobs(
      absl::string_view collection,
      const std::function<bool(absl::string_view job_id, absl::string_view blob)>& fn);
  [[nodiscard]] absl::Status PutCheckpoint(absl::string_view collection, absl::string_view job_id,
                                           absl::string_view blob);
  [[nodiscard]] absl::StatusOr<std::string> GetCheckpoint(absl::string_view collection,
                                                          absl::string_view job_id);

 private:
  absl::Status Put(ColumnFamily cf, const std::string& key, absl::string_view value);
  absl::StatusOr<std::string> Get(ColumnFamily cf, const std::string& key, const char* what);
  absl::Status Scan(ColumnFamily cf, const std::string& prefix,
                    const std::function<bool(absl::string_view key_suffix,
                                             absl::string_view value)>& fn);

  Store* store_;  // Not owned.
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_BLOB_STORE_H_
