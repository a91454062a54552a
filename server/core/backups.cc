#include "server/core/backups.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <memory>
#include <system_error>
#include <thread>
#include <vector>

#include "engine/store/alias_store.h"
#include "engine/store/collection_store.h"
#include "engine/store/store.h"
#include "engine/util/atomic_file.h"
#include "engine/util/log.h"
#include "server/core/backup_dir.h"
#include "server/core/collection_registry.h"
#include "server/core/thread_priority.h"
#include "server/core/validation.h"

namespace bn {

namespace v1 = ::bottleneck::v1;
namespace fs = std::filesystem;
using google::protobuf::util::TimeUtil;

namespace {

constexpr char kManifest[] = "backup.json";
constexpr char kRestoring[] = ".restoring";

absl::Status FromErrorCode(const std::error_code& ec, const std::string& context) {
  return ErrnoStatus(ec.value(), context);
}

// Fsyncs every file and directory under `root`, then `root` itself.
absl::Status FsyncTree(const fs::path& root) {
  std::error_code ec;
  std::vector<fs::path> dirs;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const bool dir = it->is_directory(ec);
    if (dir) {
      dirs.push_back(it->path());
    } else if (absl::Status s = FsyncFileOrDir(it->path(), false); !s.ok()) {
      return s;
    }
  }
  if (ec) return FromErrorCode(ec, "cannot list " + root.string());
  for (auto d = dirs.rbegin(); d != dirs.rend(); ++d) {
    if (absl::Status s = FsyncFileOrDir(*d, true); !s.ok()) return s;
  }
  return FsyncFileOrDir(root, true);
}

uint64_t TreeBytes(const fs::path& root) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file(ec)) bytes += it->file_size(ec);
  }
  return bytes;
}

// Hard-links `from` to `to` when `link` (falling back to a copy across filesystems or where links
// are not allowed), copies it otherwise.
absl::Status LinkOrCopy(const fs::path& from, const fs::path& to, bool link) {
  std::error_code ec;
  if (link) {
    fs::create_hard_link(from, to, ec);
    if (!ec) return absl::OkStatus();
    if (ec.value() != EXDEV && ec.value() != EPERM && ec.value() != EMLINK) {
      return FromErrorCode(ec, "cannot link " + from.string() + " to " + to.string());
    }
  }
  fs::copy_file(from, to, ec);
  if (ec) return FromErrorCode(ec, "cannot copy " + from.string() + " to " + to.string());
  return absl::OkStatus();
}

// Copies the regular files of directory `from` (not recursive: db/ and index/ are flat) into the
// new directory `to`; `link(name)` says which to hard-link.
template <typename LinkIf>
absl::Status CopyDirectory(const fs::path& from, const fs::path& to, LinkIf link) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return FromErrorCode(ec, "cannot create " + to.string());
  for (auto it = fs::directory_iterator(from, ec); !ec && it != fs::end(it); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string name = it->path().filename().string();
    if (absl::Status s = LinkOrCopy(it->path(), to / name, link(name)); !s.ok()) return s;
  }
  if (ec) return FromErrorCode(ec, "cannot list " + from.string());
  return absl::OkStatus();
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The collections and aliases of the copy, read back from it (not from the live store, which has
// moved on).
absl::Status DescribeCopy(const fs::path& dir, v1::Backup* backup) {
  StoreOptions options;
  options.read_only = true;
  auto copy = Store::Open(dir.string(), options);
  if (!copy.ok()) return copy.status();
  CollectionStore items(copy->get());
  auto names = items.ListCollections();
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    v1::BackupCollection* c = backup->add_collections();
    c->set_name(name);
    auto state = items.GetCollectionState(name);
    if (!state.ok()) return state.status();
    c->set_item_count(state->item_count);
    auto spec = items.GetCollectionSpec(name);
    v1::Collection record;
    if (!spec.ok()) return spec.status();
    if (!record.ParseFromString(*spec)) {
      return absl::DataLossError("collection record of '" + name + "' is malformed");
    }
    c->set_serving_model_version(record.stats().serving_model_version());
  }
  auto aliases = AliasStore(copy->get()).List();
  if (!aliases.ok()) return aliases.status();
  for (const auto& [name, collection] : *aliases) {
    v1::Alias* a = backup->add_aliases();
    a->set_name(name);
    a->set_collection(collection);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::Backup> ReadBackup(const std::string& dir) {
  std::error_code ec;
  const fs::path root(dir);
  if (!fs::is_directory(root, ec) || !fs::exists(root / kManifest, ec) ||
      !fs::exists(root / "db" / "CURRENT", ec)) {
    return absl::NotFoundError("'" + dir + "' is not a backup (it needs " + kManifest +
                               " and db/CURRENT)");
  }
  auto text = ReadFileToString((root / kManifest).string());
  if (!text.ok()) return text.status();
  v1::Backup backup;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // Manifests of newer versions.
  if (!google::protobuf::util::JsonStringToMessage(*text, &backup, options).ok()) {
    return absl::DataLossError("the manifest " + (root / kManifest).string() + " is malformed");
  }
  backup.set_path(fs::absolute(root, ec).lexically_normal().string());
  return backup;
}

absl::StatusOr<v1::Backup> Backups::Create(const v1::CreateBackupRequest& request) {
  if (absl::Status s = registry_->CheckWritable(); !s.ok()) return s;
  // The checkpoint flushes the memtables into the data directory: not below the flood stage.
  if (absl::Status s = store_->CheckWrite(); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mutex_);
  auto named = NewBackupName(request.name(), backup_dir_);
  if (!named.ok()) return named.status();
  const std::string name = *named;
  // On a thread of its own: its priority is lowered for good (a thread cannot always raise it
  // back), and the caller's (a gRPC handler's) is left alone.
  absl::StatusOr<v1::Backup> result = absl::InternalError("backup thread did not run");
  std::thread worker([&] {
    LowerThisThreadPriority(background_nice_);
    result = CreateLocked(name);
  });
  worker.join();
  return result;
}

absl::StatusOr<v1::Backup> Backups::CreateLocked(const std::string& name) {
  const auto start = std::chrono::steady_clock::now();
  auto staging = BeginBackup(backup_dir_, name);
  if (!staging.ok()) return staging.status();
  const fs::path& tmp = staging->tmp;
  const fs::path& final_dir = staging->final_dir;
  std::error_code ec;
  auto fail = [&](absl::Status s) { return AbandonBackup(*staging, std::move(s)); };

  v1::Backup backup;
  backup.set_name(name);
  *backup.mutable_create_time() = TimeUtil::GetCurrentTime();
  // Fresh index snapshots first (each changed serving index caught up and saved, as the periodic
  // ones are), so that the restored server loads graphs that cover nearly all of the copy and
  // replays only the writes made since: without them it replayed or rebuilt whatever the last
  // periodic snapshot missed (37.5 s to start with 200k items, and a different graph).
  registry_->SaveSnapshots();
  {
    // Snapshots first, then the store: a copied snapshot never covers more than the copied store,
    // and no snapshot trims the change log in between (the snapshot lock).
    auto snapshots = registry_->LockSnapshots();
    uint32_t copied = 0;
    // Snapshot files are replaced by rename, never changed in place: links are safe.
    absl::Status s = CopyDirectory(registry_->SnapshotDir(), tmp / "index",
                                   [](const std::string&) { return true; });
    if (!s.ok()) return fail(s);
    // Only finished snapshots (not a snapshot's temporary file).
    for (auto it = fs::directory_iterator(tmp / "index", ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (EndsWith(it->path().filename().string(), ".hnsw")) {
        ++copied;
      } else {
        fs::remove(it->path(), ec);
      }
    }
    backup.set_index_snapshots(copied);
    auto sequence = store_->CreateCheckpoint(tmp.string());
    if (!sequence.ok()) return fail(sequence.status());
    backup.set_store_sequence(*sequence);
  }
  if (absl::Status s = DescribeCopy(tmp, &backup); !s.ok()) return fail(s);
  backup.set_size_bytes(TreeBytes(tmp));
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(backup, &json, options).ok()) {
    return fail(absl::InternalError("cannot write the backup manifest"));
  }
  if (absl::Status s = WriteFileAtomically((tmp / kManifest).string(), json); !s.ok()) {
    return fail(s);
  }
  if (absl::Status s = FsyncTree(tmp); !s.ok()) return fail(s);
  if (absl::Status s = PublishBackup(*staging); !s.ok()) return fail(s);
  backup.set_path(final_dir.string());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BN_LOG(INFO) << "backup " << name << " written to " << final_dir.string() << " in " << seconds
               << " s: " << backup.collections_size() << " collections, " << backup.size_bytes()
               << " bytes, sequence " << backup.store_sequence();
  return backup;
}

absl::StatusOr<v1::ListBackupsResponse> Backups::List() const {
  v1::ListBackupsResponse response;
  std::error_code ec;
  if (!fs::exists(backup_dir_, ec)) return response;
  std::vector<v1::Backup> found;
  for (auto it = fs::directory_iterator(backup_dir_, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !it->is_directory(ec)) continue;
    auto backup = ReadBackup(it->path().string());
    if (!backup.ok()) {
      BN_LOG(WARNING) << "backups: skipping " << it->path().string() << ": " << backup.status();
      continue;
    }
    found.push_back(std::move(*backup));
  }
  if (ec) return FromErrorCode(ec, "cannot list the backup directory " + backup_dir_);
  std::sort(found.begin(), found.end(), [](const v1::Backup& a, const v1::Backup& b) {
    const int64_t ta = TimeUtil::TimestampToNanoseconds(a.create_time());
    const int64_t tb = TimeUtil::TimestampToNanoseconds(b.create_time());
    if (ta != tb) return ta < tb;
    // The same second (timestamps may be whole seconds): the store's sequence orders backups of
    // one store.
    if (a.store_sequence() != b.store_sequence()) return a.store_sequence() < b.store_sequence();
    return a.name() < b.name();
  });
  for (auto& b : found) *response.add_backups() = std::move(b);
  return response;
}

absl::StatusOr<v1::DeleteBackupResponse> Backups::Delete(const v1::DeleteBackupRequest& request) {
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  if (absl::Status s = registry_->CheckWritable(); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mutex_);
  std::error_code ec;
  const fs::path root = fs::absolute(backup_dir_, ec);
  if (ec) return FromErrorCode(ec, "bad backup directory " + backup_dir_);
  const fs::path dir = root / request.name();
  v1::DeleteBackupResponse response;
  auto manifest = ReadBackup(dir.string());
  if (absl::IsNotFound(manifest.status())) {
    return absl::NotFoundError("backup '" + request.name() + "' not found in " + root.string());
  }
  if (manifest.ok()) {
    *response.mutable_backup() = std::move(*manifest);
  } else if (absl::IsDataLoss(manifest.status())) {  // Unreadable manifest: still deletable.
    response.mutable_backup()->set_name(request.name());
    response.mutable_backup()->set_path(dir.string());
  } else {
    return manifest.status();
  }
  if (absl::Status s = RemoveBackupDir(root, request.name()); !s.ok()) return s;
  BN_LOG(INFO) << "backup " << request.name() << " deleted (" << dir.string() << ")";
  return response;
}

absl::Status RestoreBackup(const std::string& backup, const std::string& data_dir) {
  auto manifest = ReadBackup(backup);
  if (!manifest.ok()) return manifest.status();
  std::error_code ec;
  const fs::path target(data_dir);
  if (fs::exists(target, ec)) {
    if (!fs::is_directory(target, ec)) {
      return absl::FailedPreconditionError("--data-dir '" + data_dir + "' is not a directory");
    }
    for (auto it = fs::directory_iterator(target, ec); !ec && it != fs::end(it); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name == kRestoring) continue;  // An interrupted restore: redone below.
      return absl::FailedPreconditionError(
          "--data-dir '" + data_dir + "' is not empty (it holds '" + name +
          "'); restore into a new or empty directory, nothing was changed");
    }
    if (ec) return FromErrorCode(ec, "cannot list " + data_dir);
  }
  const fs::path staging = target / kRestoring;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) return FromErrorCode(ec, "cannot create " + staging.string());
  const fs::path from(backup);
  // SST files never change once written: hard links share them with the backup.
  absl::Status s = CopyDirectory(from / "db", staging / "db",
                                 [](const std::string& f) { return EndsWith(f, ".sst"); });
  if (s.ok() && fs::is_directory(from / "index", ec)) {
    s = CopyDirectory(from / "index", staging / "index",
                      [](const std::string& f) { return EndsWith(f, ".hnsw"); });
  }
  if (s.ok()) s = FsyncTree(staging);
  bool moved_index = false;
  if (s.ok() && fs::exists(staging / "index", ec)) {
    fs::rename(staging / "index", target / "index", ec);
    if (ec) s = FromErrorCode(ec, "cannot move the restored index snapshots into place");
    moved_index = s.ok();
  }
  if (s.ok()) {
    fs::rename(staging / "db", target / "db", ec);  // Last: the store makes the restore.
    if (ec) s = FromErrorCode(ec, "cannot move the restored store into place");
  }
  if (s.ok()) s = FsyncFileOrDir(target, true);
  fs::remove_all(staging, ec);
  if (!s.ok()) {
    if (moved_index) fs::remove_all(target / "index", ec);  // Leave the directory as it was.
    return s;
  }
  BN_LOG(INFO) << "restored backup " << manifest->name() << " (" << manifest->collections_size()
               << " collections, sequence " << manifest->store_sequence() << ") into " << data_dir;
  return absl::OkStatus();
}

}  // namespace bn
