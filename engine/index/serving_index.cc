#include "engine/index/serving_index.h"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "engine/store/collection_store.h"
#include "engine/util/atomic_file.h"
#include "engine/util/bytes.h"
#include "engine/util/log.h"

namespace bn {
namespace {

constexpr char kMagic[8] = {'B', 'N', 'H', 'N', 'S', 'W', '\0', '\x01'};
constexpr uint32_t kFormat = 1;
constexpr size_t kHeaderBytes = 8 + 4 + 1 + 4 * 3 + 8 * 5 + 4 + 4;

struct SnapshotHeader {
  uint32_t format = kFormat;
  uint8_t metric = 0;
  uint32_t dim = 0, M = 0, ef_construction = 0;
  uint64_t incarnation = 0, model_version = 0, counter = 0, count = 0, body_bytes = 0;
  uint32_t body_crc = 0;
};

std::string EncodeHeader(const SnapshotHeader& h) {
  std::string out;
  ByteWriter w(&out);
  w.Raw(kMagic, sizeof(kMagic));
  w.U32(h.format);
  w.U8(h.metric);
  w.U32(h.dim);
  w.U32(h.M);
  w.U32(h.ef_construction);
  w.U64(h.incarnation);
  w.U64(h.model_version);
  w.U64(h.counter);
  w.U64(h.count);
  w.U64(h.body_bytes);
  w.U32(h.body_crc);
  w.U32(Crc32(out));
  return out;
}

// Parses and verifies the header and the body CRC. Returns "" or the reason it is unusable.
std::string DecodeSnapshot(absl::string_view file, SnapshotHeader* h, absl::string_view* body) {
  if (file.size() < kHeaderBytes) return "snapshot is truncated";
  ByteReader r(file);
  char magic[8];
  uint32_t header_crc = 0;
  if (!r.Raw(magic, 8) || std::memcmp(magic, kMagic, 8) != 0) return "snapshot has a bad magic";
  if (!r.U32(&h->format) || !r.U8(&h->metric) || !r.U32(&h->dim) || !r.U32(&h->M) ||
      !r.U32(&h->ef_construction) || !r.U64(&h->incarnation) || !r.U64(&h->model_version) ||
      !r.U64(&h->counter) || !r.U64(&h->count) || !r.U64(&h->body_bytes) || !r.U32(&h->body_crc) ||
      !r.U32(&header_crc)) {
    return "snapshot is truncated";
  }
  if (Crc32(file.substr(0, kHeaderBytes - 4)) != header_crc) return "snapshot header CRC mismatch";
  if (h->format != kFormat) return "snapshot format " + std::to_string(h->format) + " unknown";
  if (h->body_bytes != file.size() - kHeaderBytes) return "snapshot body has the wrong size";
  *body = file.substr(kHeaderBytes);
  if (Crc32(*body) != h->body_crc) return "snapshot body CRC mismatch";
  return "";
}

std::string Hex(absl::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

}  // namespace

ServingIndex::ServingIndex(Store* store, std::string collection, uint64_t version,
                           IndexConfig config, std::string snapshot_path)
    : store_(store),
      collection_(std::move(collection)),
      model_version_(version),
      config_(config),
      snapshot_path_(std::move(snapshot_path)) {}

ServingIndex::~ServingIndex() = default;

std::string ServingIndex::SnapshotPath(const std::string& snapshot_dir,
                                       absl::string_view collection, uint64_t model_version) {
  return (std::filesystem::path(snapshot_dir) /
          (Hex(collection) + ".v" + std::to_string(model_version) + ".hnsw"))
      .string();
}

uint64_t ServingIndex::applied_counter() const {
  std::lock_guard<std::mutex> lock(mu_);
  return applied_;
}

absl::Status ServingIndex::Rebuild(const std::string& reason) {
  report_.from_snapshot = false;
  report_.rebuild_reason = reason;
  BN_LOG(WARNING) << "rebuilding index of collection '" << collection_ << "' model version "
                  << model_version_ << " from the store: " << reason;
  CollectionStore cs(store_);
  absl::StatusOr<CollectionState> pre = cs.GetCollectionState(collection_);
  if (!pre.ok()) return pre.status();
  IndexConfig config = config_;
  config.initial_capacity = std::max<uint64_t>(config.initial_capacity, pre->item_count + 1);
  absl::StatusOr<std::unique_ptr<HnswIndex>> fresh = HnswIndex::Create(config);
  if (!fresh.ok()) return fresh.status();
  const size_t code_bytes = CodeBytes(config_);
  std::vector<uint64_t> item_nos;
  std::vector<std::string> codes;
  std::vector<absl::string_view> views;
  absl::Status failure;
  auto flush = [&]() {
    views.assign(codes.begin(), codes.end());
    if (failure.ok()) failure = (*fresh)->UpsertBatch(item_nos, views);
    item_nos.clear();
    codes.clear();
  };
  CollectionState state;
  absl::Status scan = cs.ScanCodes(
      collection_, model_version_,
      [&](uint64_t item_no, absl::string_view code) {
        if (code.size() != code_bytes) {
          failure = absl::DataLossError("stored code of item number " + std::to_string(item_no) +
                                        " has " + std::to_string(code.size()) +
                                        " bytes, index expects " + std::to_string(code_bytes));
          return false;
        }
        item_nos.push_back(item_no);
        codes.emplace_back(code);
        if (item_nos.size() == 8192) flush();
        return failure.ok();
      },
      &state);
  if (!scan.ok()) return scan;
  if (failure.ok() && !item_nos.empty()) flush();
  if (!failure.ok()) return failure;
  if (index_ == nullptr) {
    index_ = std::move(*fresh);
  } else if (absl::Status s = index_->SwapContents(fresh->get()); !s.ok()) {
    return s;
  }
  applied_ = state.change_counter;
  incarnation_ = state.incarnation;
  return absl::OkStatus();
}

absl::Status ServingIndex::ApplyChanges(uint64_t* replayed, CatchUpReport* report) {
  CollectionStore cs(store_);
  absl::StatusOr<VersionChanges> changes =
      cs.ReadChangesForVersion(collection_, model_version_, applied_);
  if (!changes.ok()) return changes.status();
  if (changes->state.incarnation != incarnation_) {
    return absl::FailedPreconditionError("collection '" + collection_ +
                                         "' was deleted and re-created; reopen its index");
  }
  if (!changes->complete) {
    if (report != nullptr) report->rebuilt = true;
    if (applied_ > changes->state.change_counter) {
      return Rebuild("index covers change " + std::to_string(applied_) + " but the store is at " +
                     std::to_string(changes->state.change_counter));
    }
    return Rebuild("change log after " + std::to_string(applied_) + " was trimmed");
  }
  const size_t code_bytes = CodeBytes(config_);
  for (const auto& e : changes->entries) {
    if (report != nullptr) report->item_nos.push_back(e.item_no);
    if (e.code.has_value()) {
      if (e.code->size() != code_bytes) {
        return absl::DataLossError("stored code of item number " + std::to_string(e.item_no) +
                                   " has the wrong size");
      }
      if (absl::Status s = index_->Upsert(e.item_no, *e.code); !s.ok()) return s;
    } else {
      absl::StatusOr<bool> removed = index_->Delete(e.item_no);
      if (!removed.ok()) return removed.status();
    }
  }
  *replayed += changes->entries.size();
  applied_ = changes->state.change_counter;
  return absl::OkStatus();
}

absl::Status ServingIndex::CatchUp(CatchUpReport* report) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t replayed = 0;
  return ApplyChanges(&replayed, report);
}

absl::StatusOr<uint64_t> ServingIndex::SaveSnapshot() {
  std::lock_guard<std::mutex> save(save_mu_);
  std::chrono::steady_clock::time_point start;
  SnapshotHeader h;
  std::string file(kHeaderBytes, '\0');  // The header is filled in once the body's CRC is known.
  {
    // The catch-up lock only while the graph is copied: the copy and applied_ then describe the
    // same state (CatchUp changes both under it), and writes wait for the copy, not for the CRC,
    // the file write and its fsync.
    std::lock_guard<std::mutex> lock(mu_);
    start = std::chrono::steady_clock::now();
    if (index_->deleted_count() > index_->size() && index_->deleted_count() > 0) {
      if (absl::Status s = index_->Compact(); !s.ok()) return s;
    }
    h.metric = static_cast<uint8_t>(config_.metric);
    h.dim = config_.dim;
    h.M = index_->config().M;
    h.ef_construction = index_->config().ef_construction;
    h.incarnation = incarnation_;
    h.model_version = model_version_;
    h.counter = applied_;
    h.count = index_->size();
    if (absl::Status s = index_->Serialize(&file); !s.ok()) return s;
  }
  const auto copied = std::chrono::steady_clock::now();
  const absl::string_view body = absl::string_view(file).substr(kHeaderBytes);
  h.body_bytes = body.size();
  h.body_crc = Crc32(body);
  const std::string header = EncodeHeader(h);
  file.replace(0, kHeaderBytes, header);
  if (absl::Status s = WriteFileAtomically(snapshot_path_, file); !s.ok()) return s;
  auto ms = [](auto from, auto to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
  };
  BN_LOG(INFO) << "saved index snapshot of collection '" << collection_ << "' model version "
               << model_version_ << " at change " << h.counter << ": " << h.count
               << " items, graph copied in " << ms(start, copied)
               << " ms (catch-up lock held), CRC and file in "
               << ms(copied, std::chrono::steady_clock::now()) << " ms";
  return h.counter;
}

absl::Status CheckSnapshotFile(const std::string& path) {
  absl::StatusOr<std::string> file = ReadFileToString(path);
  if (!file.ok()) return file.status();
  SnapshotHeader h;
  absl::string_view body;
  const std::string reason = DecodeSnapshot(*file, &h, &body);
  if (!reason.empty()) return absl::DataLossError(path + ": " + reason);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ServingIndex>> OpenServingIndex(Store* store,
                                                               absl::string_view collection,
                                                               uint64_t model_version,
                                                               const IndexConfig& config,
                                                               const std::string& snapshot_dir) {
  if (absl::Status s = ValidateIndexConfig(config); !s.ok()) return s;
  CollectionStore cs(store);
  absl::StatusOr<CollectionState> state = cs.GetCollectionState(collection);
  if (!state.ok()) return state.status();
  std::error_code ec;
  std::filesystem::create_directories(snapshot_dir, ec);
  if (ec) {
    return ErrnoStatus(ec.value(), "cannot create snapshot directory '" + snapshot_dir + "'");
  }
  std::unique_ptr<ServingIndex> si(
      new ServingIndex(store, std::string(collection), model_version, config,
                       ServingIndex::SnapshotPath(snapshot_dir, collection, model_version)));
  std::lock_guard<std::mutex> lock(si->mu_);
  si->incarnation_ = state->incarnation;

  std::string reason;
  absl::StatusOr<std::string> file = ReadFileToString(si->snapshot_path_);
  SnapshotHeader h;
  absl::string_view body;
  if (!file.ok()) {
    reason = absl::IsNotFound(file.status())
                 ? "no snapshot"
                 : "snapshot unreadable: " + std::string(file.status().message());
  } else {
    reason = DecodeSnapshot(*file, &h, &body);
  }
  if (reason.empty()) {
    if (h.metric != static_cast<uint8_t>(config.metric) || h.dim != config.dim) {
      reason = "snapshot is for metric " + std::to_string(h.metric) + " dim " +
               std::to_string(h.dim) + ", wanted " + MetricName(config.metric) + " dim " +
               std::to_string(config.dim);
    } else if (h.M != config.M || h.ef_construction != config.ef_construction) {
      reason = "snapshot has different HNSW parameters";
    } else if (h.model_version != model_version) {
      reason = "snapshot is for another model version";
    } else if (h.incarnation != state->incarnation) {
      reason = "snapshot belongs to a previous incarnation of the collection";
    } else if (h.counter > state->change_counter) {
      reason = "snapshot is newer than the store";
    }
  }
  if (reason.empty()) {
    absl::StatusOr<std::unique_ptr<HnswIndex>> loaded = HnswIndex::Deserialize(config, body);
    if (!loaded.ok()) {
      reason = "snapshot body rejected: " + std::string(loaded.status().message());
    } else if ((*loaded)->size() != h.count) {
      reason = "snapshot element count mismatch";
    } else {
      si->index_ = std::move(*loaded);
      si->applied_ = h.counter;
    }
  }
  file = std::string();  // Free the file buffer before catching up.
  if (reason.empty()) {
    si->report_.from_snapshot = true;
    si->report_.snapshot_counter = h.counter;
    uint64_t replayed = 0;
    absl::Status s = si->ApplyChanges(&replayed, nullptr);
    if (!s.ok()) return s;
    si->report_.replayed_changes = replayed;
    if (si->report_.from_snapshot) {
      BN_LOG(INFO) << "loaded index of collection '" << si->collection_ << "' model version "
                   << model_version << " from snapshot at change " << h.counter << ", replayed "
                   << replayed << " item number changes";
    }
    return si;
  }
  if (absl::Status s = si->Rebuild(reason); !s.ok()) return s;
  uint64_t replayed = 0;
  if (absl::Status s = si->ApplyChanges(&replayed, nullptr); !s.ok()) return s;
  si->report_.replayed_changes = replayed;
  return si;
}

}  // namespace bn
