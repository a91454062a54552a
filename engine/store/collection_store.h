// Typed access to collections, items, codes and the per-collection change log (key layout in
// engine/store/keys.h). Values the service owns (collection specs, item records) are opaque bytes;
// the engine never parses them.
//
// Items. An item has a string id (1..256 bytes), an opaque record (original input, label,
// metadata, serialized by the service) and a stable numeric item number (uint64) allocated per
// collection from a counter that only grows: an item number is never reused, not even after the
// item is deleted, so a stale index entry can never name a different item. An upsert of an existing
// id keeps its item number. Codes are stored per (collection, model version, item number) as raw
// bytes (float32 little-endian vectors or packed bits; the engine does not check their size here).
//
// Change counter and change log (recovery of derived indexes). Every committed ItemBatch advances
// the collection's change counter by exactly 1 and writes, in the same RocksDB WriteBatch, one
// change-log entry keyed (collection, counter) listing the item numbers it touched: kUpsert for an
// item number whose record or codes changed, kDelete for a deleted item. An index snapshot records
// the counter it covers; recovery replays entries counter+1..current, reading each touched item
// number's current code (absent code => not in the index). Entries are contiguous, so a gap
// (entries trimmed by TrimChangeLog) is detected exactly and forces a rebuild from the codes.
// Replay is idempotent and always converges to the store's state.
//
// Durability: each Write/Put/Delete is one RocksDB WriteBatch, WAL-synced when
// StoreOptions::sync_writes (the default); an OK return means the batch is durable.
//
// Thread safety: a CollectionStore is a cheap, stateless view of a Store (which must outlive
// it); any number of instances may be used concurrently from any threads. Writes to one
// collection are serialized by Store::CollectionMutex.
#ifndef BOTTLENECK_ENGINE_STORE_COLLECTION_STORE_H_
#define BOTTLENECK_ENGINE_STORE_COLLECTION_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/store/store.h"

namespace bn {

inline constexpr size_t kMaxItemIdBytes = 256;
inline constexpr size_t kMaxCollectionNameBytes = 256;

// The engine-owned part of a collection record.
struct CollectionState {
  uint64_t incarnation = 0;     // Unique per creation; a re-created collection gets a new one.
  uint64_t next_item_no = 1;    // Next item number to allocate (item numbers start at 1).
  uint64_t change_counter = 0;  // Number of committed ItemBatches.
  uint64_t item_count = 0;
  std::vector<uint64_t> code_versions;  // Model versions that ever had codes written (sorted).
  // Position in an external log (cluster mode: the stream sequence) that the last batch carrying
  // one (ItemBatch::SetLogPosition) reached, written in the same write batch; 0: none.
  uint64_t log_position = 0;
};

// A batch of item mutations applied atomically, in order (later operations on the same id see
// earlier ones).
class ItemBatch {
 public:
  // Inserts or replaces item `id`: its record, and its codes for the listed model versions.
  // Codes of model versions NOT listed are removed (the input changed, they are stale).
  void Upsert(std::string id, std::string record,
              std::vector<std::pair<uint64_t, std::string>> codes = {});
  // Sets the code of an existing item for one model version (re-encoding); the record and other
  // codes are untouched. The whole batch fails with NotFound if the item does not exist.
  void PutCode(std::string id, uint64_t model_version, std::string code);
  // Deletes an item and all its codes. Deleting a missing id is a no-op (not an error).
  void Delete(std::string id);

  // Records, atomically with the batch, that it applies an external log up to `position`
  // (CollectionState::log_position). 0 leaves the stored position unchanged.
  void SetLogPosition(uint64_t position) { log_position_ = position; }
  uint64_t log_position() const { return log_position_; }

  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }

  enum class OpKind { kUpsert, kPutCode, kDelete };
  struct Op {
    OpKind kind;
    std::string id;
    std::string record;
    std::vector<std::pair<uint64_t, std::string>> codes;
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
  uint64_t log_position_ = 0;
};

struct ItemBatchResult {
  uint64_t change_counter = 0;  // The collection's counter after this batch.
  // Per operation of the batch, in order: the item number (0 for a Delete of a missing id).
  std::vector<uint64_t> item_nos;
};

struct Item {
  std::string id;
  uint64_t item_no = 0;
  std::string record;
};

enum class ChangeKind : uint8_t { kUpsert = 1, kDelete = 2 };
struct LabelChange {
  uint64_t item_no = 0;
  ChangeKind kind = ChangeKind::kUpsert;
};

// What an index for one model version must apply to catch up; read from one consistent RocksDB
// snapshot. See ReadChangesForVersion.
struct VersionChanges {
  CollectionState state;  // As of the snapshot.
  // False when entries after `after_counter` were trimmed: catching up is impossible.
  bool complete = true;
  // Touched item numbers in commit order (an item number may repeat); `code` is its current code
  // for the version, or nullopt when the item is deleted or has no code for that version.
  struct Entry {
    uint64_t item_no;
    std::optional<std::string> code;
  };
  std::vector<Entry> entries;
};

// Approximate on-disk (SST) and memtable bytes of one collection, per column family kind.
struct CollectionStorageSize {
  uint64_t items_bytes = 0;  // items CF (records, item number map, change log)
  uint64_t codes_bytes = 0;
  uint64_t other_bytes = 0;  // collections, models, datasets, jobs
  uint64_t total() const { return items_bytes + codes_bytes + other_bytes; }
};

class CollectionStore {
 public:
  explicit CollectionStore(Store* store) : store_(store) {}

  // --- Collections ---
  // Creates the collection (new incarnation, empty state) or, if it exists, replaces its spec.
  // Errors: InvalidArgument for an empty or >256-byte name.
  [[nodiscard]] absl::Status PutCollection(absl::string_view collection, absl::string_view spec);
  // NotFound when the collection does not exist.
  [[nodiscard]] absl::StatusOr<std::string> GetCollectionSpec(absl::string_view collection);
  [[nodiscard]] absl::StatusOr<CollectionState> GetCollectionState(absl::string_view collection);
  // All collection names in bytewise order.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> ListCollections();
  // Removes EVERYTHING of the collection in every column family (spec, state, items, codes,
  // change log, models, datasets, jobs) in one synced batch of range deletes. NotFound if absent.
  // Index snapshot files are the caller's to delete (a stale one is also detected by incarnation).
  [[nodiscard]] absl::Status DeleteCollection(absl::string_view collection);

  // --- Items and codes ---
  // Applies the batch atomically (one WriteBatch + change-log entry; WAL sync per
  // StoreOptions::sync_writes). Errors: NotFound (collection, or item of a PutCode),
  // InvalidArgument (id empty or > kMaxItemIdBytes; empty batch), ResourceExhausted for a batch
  // with upserts while the disk is below its flood threshold (Store::CheckWrite), the storage
  // statuses of FromRocks. Nothing is written on error.
  [[nodiscard]] absl::StatusOr<ItemBatchResult> Write(absl::string_view collection,
                                                      const ItemBatch& batch);
  // NotFound when the item (or collection) does not exist.
  [[nodiscard]] absl::StatusOr<Item> GetItem(absl::string_view collection, absl::string_view id);
  // Several items in one MultiGet, in the order of `ids`; nullopt for ids not stored.
  [[nodiscard]] absl::StatusOr<std::vector<std::optional<Item>>> GetItems(
      absl::string_view collection, const std::vector<std::string>& ids);
  // Ids of the given item numbers (nullopt for item numbers of deleted items), e.g. to map search
  // results.
  [[nodiscard]] absl::StatusOr<std::vector<std::optional<std::string>>> LookupIds(
      absl::string_view collection, const std::vector<uint64_t>& item_nos);
  [[nodiscard]] absl::StatusOr<uint64_t> CountItems(absl::string_view collection);
  // Calls fn for every item in id order, from a consistent snapshot; fn returning false stops.
  [[nodiscard]] absl::Status ScanItems(absl::string_view collection,
                                       const std::function<bool(const Item&)>& fn);
  // Same, starting after item id `after` (from the first item when empty).
  [[nodiscard]] absl::Status ScanItemsAfter(absl::string_view collection, absl::string_view after,
                                            const std::function<bool(const Item&)>& fn);
  // Calls fn(item, code) for every item in id order with its code for `model_version` (empty
  // when it has none, or when model_version is 0), items, codes and `state` all read from one
  // consistent snapshot. `taken` (when set) is called once that snapshot is held, before the
  // first fn: writes after it are not seen (a cluster backup's cut, cluster_backups.h).
  [[nodiscard]] absl::Status ScanItemsWithCodes(
      absl::string_view collection, uint64_t model_version,
      const std::function<bool(const Item&, absl::string_view code)>& fn, CollectionState* state,
      const std::function<void()>& taken);
  // NotFound when absent.
  [[nodiscard]] absl::StatusOr<std::string> GetCode(absl::string_view collection,
                                                    uint64_t model_version, uint64_t item_no);
  // Calls fn(item number, code) for every code of the version in item number order, from a
  // consistent snapshot; if state is non-null it receives the collection state of that same
  // snapshot.
  [[nodiscard]] absl::Status ScanCodes(
      absl::string_view collection, uint64_t model_version,
      const std::function<bool(uint64_t item_no, absl::string_view code)>& fn,
      CollectionState* state = nullptr);
  // Removes all codes of one model version (e.g. a retired model). Not logged in the change log:
  // indexes for that version must be dropped by the caller.
  [[nodiscard]] absl::Status DeleteCodes(absl::string_view collection, uint64_t model_version);

  // --- Change log ---
  // Item numbers touched by the batches after `after_counter`, with their current codes for
  // `model_version`, all read from one consistent snapshot.
  [[nodiscard]] absl::StatusOr<VersionChanges> ReadChangesForVersion(absl::string_view collection,
                                                                     uint64_t model_version,
                                                                     uint64_t after_counter);
  // Deletes change-log entries with counter <= up_to. Call with the minimum counter covered by
  // the saved snapshots of ALL indexes of the collection (otherwise those rebuild on next open).
  [[nodiscard]] absl::Status TrimChangeLog(absl::string_view collection, uint64_t up_to);

  // --- Accounting ---
  [[nodiscard]] absl::StatusOr<CollectionStorageSize> ApproximateSize(absl::string_view collection);

 private:
  Store* store_;  // Not owned.
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_STORE_COLLECTION_STORE_H_
