// The index the service serves for one (collection, model version): an HnswIndex derived from the
// codes in the store, kept in step with the store through the collection's change log, and
// persisted as snapshots so that a restart does not rebuild it.
//
// Recovery contract: OpenServingIndex returns an index that holds exactly the store's codes of
// that model version as of the store's current change counter. It loads the snapshot, then
// replays the change-log entries after the counter the snapshot covers. It rebuilds from the
// codes in RocksDB instead (with one BN_LOG(WARNING) line giving the reason) when the snapshot is
// missing, unreadable, corrupt (bad magic / header CRC / body CRC / hnswlib refuses it), for a
// different metric, dim, M, ef_construction or model version, for a previous incarnation of the
// collection (deleted and re-created), newer than the store, or stale (change-log entries it
// needs were trimmed).
//
// Staying in step: after every acknowledged CollectionStore::Write on the collection, call
// CatchUp() (from any thread). It applies the change-log entries after applied_counter() in
// commit order, reading each touched item number's CURRENT code (absent => removed from the index),
// so concurrent writers cannot reorder updates. Searches are never blocked for long: each index
// mutation takes the HnswIndex writer lock for one item only.
//
// Snapshot file: <snapshot_dir>/<hex(collection)>.v<version>.hnsw, written with
// WriteFileAtomically (temp file, fsync, rename, directory fsync). Layout (little-endian):
//   "BNHNSW\0\x01" magic (8 bytes) | u32 format (1) | u8 metric | u32 dim | u32 M |
//   u32 ef_construction | u64 collection incarnation | u64 model version |
//   u64 covered change counter | u64 live element count | u64 body bytes | u32 body CRC32 |
//   u32 header CRC32 (of all preceding header bytes) | body (hnswlib saveIndex format)
//
// Thread safety: Search/index() readers, CatchUp and SaveSnapshot may run concurrently from any
// threads. CatchUp holds the catch-up mutex while it applies changes; SaveSnapshot holds it only
// while it copies the graph into memory (with the counter the copy covers), then computes the CRC
// and writes the file without it, so writes wait for the copy, not for the disk. Saves are
// serialised among themselves (a slow save never renames an older snapshot over a newer one).
// The Store must outlive the ServingIndex.
#ifndef BOTTLENECK_ENGINE_INDEX_SERVING_INDEX_H_
#define BOTTLENECK_ENGINE_INDEX_SERVING_INDEX_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/index/hnsw_index.h"
#include "engine/store/store.h"

namespace bn {

// How OpenServingIndex obtained the index (for logs, tests and the admin API).
struct OpenReport {
  bool from_snapshot = false;     // false: rebuilt from the store's codes.
  std::string rebuild_reason;     // Why it was rebuilt ("" when loaded from the snapshot).
  uint64_t snapshot_counter = 0;  // Counter the loaded snapshot covered.
  uint64_t replayed_changes = 0;  // Item number changes applied after the snapshot (or scan).
};

// What a CatchUp applied, for callers that keep per-item number state derived from the store.
struct CatchUpReport {
  bool rebuilt = false;  // The index was rebuilt from the store: any item number may have changed.
  std::vector<uint64_t> item_nos;  // Otherwise the item numbers of the change-log entries applied.
};

class ServingIndex {
 public:
  ~ServingIndex();
  ServingIndex(const ServingIndex&) = delete;
  ServingIndex& operator=(const ServingIndex&) = delete;

  // Applies the store's changes after applied_counter(). FailedPrecondition when the collection
  // was deleted or re-created (drop this index); NotFound when the collection is gone. If the
  // change log was trimmed past applied_counter() the index is rebuilt (logged).
  // `report`, when given, says what was applied (also when CatchUp fails part-way).
  [[nodiscard]] absl::Status CatchUp(CatchUpReport* report = nullptr);

  // Saves a snapshot covering applied_counter() as of the call (call CatchUp first to cover recent
  // writes); CatchUp calls made while the file is written are not in it (the snapshot holds
  // exactly the changes up to the returned counter). Returns the covered counter: pass the
  // minimum over the collection's serving indexes to CollectionStore::TrimChangeLog. Also
  // compacts the graph first when deleted nodes exceed half of all nodes (writes wait for that).
  [[nodiscard]] absl::StatusOr<uint64_t> SaveSnapshot();

  // Delegates to the HnswIndex (see hnsw_index.h for the code format and distances).
  [[nodiscard]] absl::StatusOr<std::vector<Neighbor>> Search(absl::string_view query, size_t k,
                                                             size_t ef = 0) const {
    return index_->Search(query, k, ef);
  }
  [[nodiscard]] absl::StatusOr<std::vector<Neighbor>> SearchExact(absl::string_view query,
                                                                  size_t k) const {
    return index_->SearchExact(query, k);
  }
  [[nodiscard]] absl::StatusOr<std::vector<Neighbor>> SearchFiltered(
      absl::string_view query, size_t k, size_t ef, const LabelFilter& filter,
      size_t max_visits = 0, bool* gave_up = nullptr, FilteredWalkStats* stats = nullptr) const {
    return index_->SearchFiltered(query, k, ef, filter, max_visits, gave_up, stats);
  }
  [[nodiscard]] absl::StatusOr<std::vector<Neighbor>> SearchExactFiltered(
      absl::string_view query, size_t k, const LabelFilter* filter) const {
    return index_->SearchExactFiltered(query, k, filter);
  }
  [[nodiscard]] absl::StatusOr<std::vector<Neighbor>> SearchExactAmong(
      absl::string_view query, size_t k, const std::vector<uint64_t>& item_nos) const {
    return index_->SearchExactAmong(query, k, item_nos);
  }

  // The underlying index. The reference stays valid for the ServingIndex's lifetime: rebuilds
  // and compactions replace its contents, not the object.
  const HnswIndex& index() const { return *index_; }
  uint64_t applied_counter() const;
  const std::string& collection() const { return collection_; }
  uint64_t model_version() const { return model_version_; }
  const std::string& snapshot_path() const { return snapshot_path_; }
  const OpenReport& open_report() const { return report_; }

  // The snapshot file name used for (collection, version) under `snapshot_dir`.
  static std::string SnapshotPath(const std::string& snapshot_dir, absl::string_view collection,
                                  uint64_t model_version);

 private:
  friend absl::StatusOr<std::unique_ptr<ServingIndex>> OpenServingIndex(Store*, absl::string_view,
                                                                        uint64_t,
                                                                        const IndexConfig&,
                                                                        const std::string&);
  ServingIndex(Store* store, std::string collection, uint64_t version, IndexConfig config,
               std::string snapshot_path);
  absl::Status Rebuild(const std::string& reason);                       // mu_ held
  absl::Status ApplyChanges(uint64_t* replayed, CatchUpReport* report);  // mu_ held

  Store* store_;
  const std::string collection_;
  const uint64_t model_version_;
  const IndexConfig config_;
  const std::string snapshot_path_;
  std::unique_ptr<HnswIndex> index_;
  OpenReport report_;
  std::mutex save_mu_;     // Held by SaveSnapshot throughout; taken before mu_.
  mutable std::mutex mu_;  // Guards applied_, incarnation_, index_ replacement and mutation.
  uint64_t applied_ = 0;
  uint64_t incarnation_ = 0;
};

// Checks a snapshot file's header and body CRCs (offline; `bottleneckd --check`). DataLoss naming
// the file and the reason when damaged (OpenServingIndex rebuilds such a snapshot from the store).
[[nodiscard]] absl::Status CheckSnapshotFile(const std::string& path);

// Opens the serving index for (collection, model_version): loads and catches up the snapshot in
// `snapshot_dir` (created if missing), or rebuilds from the store (see the recovery contract
// above). Errors: NotFound (collection), InvalidArgument (config), DataLoss (a stored code of the
// wrong size for `config`), ResourceExhausted (disk full), Unavailable (I/O).
[[nodiscard]] absl::StatusOr<std::unique_ptr<ServingIndex>> OpenServingIndex(
    Store* store, absl::string_view collection, uint64_t model_version, const IndexConfig& config,
    const std::string& snapshot_dir);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_INDEX_SERVING_INDEX_H_
