// Service-owned blobs of a collection: model versions, training datasets and jobs (key layout in
// engine/store/keys.h). The engine never parses the blobs (the service serializes protobufs).
// Everything here lives under the collection's key prefix, so CollectionStore::DeleteCollection
// removes it too. These functions do not check that the collection exists.
//
// Durability: every write is one RocksDB write, WAL-synced when StoreOptions::sync_writes.
// Disk full: PutModel, PutDatasetBatch and PutJobCheckpoint are refused with ResourceExhausted
// below the store's flood threshold (Store::CheckWrite); job records and deletes are not.
// Thread safety: stateless view of a Store (which must outlive it); safe from any threads.
#ifndef BOTTLENECK_ENGINE_STORE_BLOB_STORE_H_
#define BOTTLENECK_ENGINE_STORE_BLOB_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/store/store.h"

namespace bn {

class BlobStore {
 public:
  explicit BlobStore(Store* store) : store_(store) {}

  // --- Models, by (collection, version) ---
  [[nodiscard]] absl::Status PutModel(absl::string_view collection, uint64_t version,
                                      absl::string_view blob);
  // NotFound when absent.
  [[nodiscard]] absl::StatusOr<std::string> GetModel(absl::string_view collection,
                                                     uint64_t version);
  // Versions in increasing order.
  [[nodiscard]] absl::StatusOr<std::vector<uint64_t>> ListModelVersions(
      absl::string_view collection);
  // Deletes the model blob only (codes: CollectionStore::DeleteCodes). OK if absent.
  [[nodiscard]] absl::Status DeleteModel(absl::string_view collection, uint64_t version);

  // --- Datasets: example batches by (collection, dataset name, batch index) ---
  // Writes (or replaces) batch `index` of the dataset.
  [[nodiscard]] absl::Status PutDatasetBatch(absl::string_view collection,
                                             absl::string_view dataset, uint64_t index,
                                             absl::string_view blob);
  // Calls fn(index, blob) in increasing index order (consistent snapshot); false stops.
  [[nodiscard]] absl::Status ScanDataset(
      absl::string_view collection, absl::string_view dataset,
      const std::function<bool(uint64_t index, absl::string_view blob)>& fn);
  // Removes every batch of the dataset. OK if absent.
  [[nodiscard]] absl::Status DeleteDataset(absl::string_view collection, absl::string_view dataset);
  // Dataset names of the collection, bytewise order.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> ListDatasets(absl::string_view collection);

  // --- Jobs, by (collection, job id), each with an optional checkpoint blob ---
  [[nodiscard]] absl::Status PutJob(absl::string_view collection, absl::string_view job_id,
                                    absl::string_view blob);
  [[nodiscard]] absl::StatusOr<std::string> GetJob(absl::string_view collection,
                                                   absl::string_view job_id);  // NotFound
  // (job id, job blob) pairs in job-id order.
  [[nodiscard]] absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListJobs(
      absl::string_view collection);
  [[nodiscard]] absl::Status PutJobCheckpoint(absl::string_view collection,
                                              absl::string_view job_id, absl::string_view blob);
  [[nodiscard]] absl::StatusOr<std::string> GetJobCheckpoint(absl::string_view collection,
                                                             absl::string_view job_id);  // NotFound
  // Deletes the job and its checkpoint. OK if absent.
  [[nodiscard]] absl::Status DeleteJob(absl::string_view collection, absl::string_view job_id);

 private:
  Store* store_;  // Not owned.
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_STORE_BLOB_STORE_H_
