#include "engine/store/blob_store.h"

#include <memory>

#include "engine/store/keys.h"
#include "engine/store/rocks_status.h"
#include "rocksdb/db.h"

namespace bn {
namespace {

// `guarded`: a write that adds data (a model, a dataset batch, a checkpoint) is refused while the
// disk is below its flood threshold; small state records (jobs) are not.
absl::Status Put(Store* store, ColumnFamily cf, const std::string& key, absl::string_view v,
                 bool guarded) {
  if (guarded) {
    if (absl::Status s = store->CheckWrite(key.size() + v.size()); !s.ok()) return s;
  }
  rocksdb::WriteOptions wo;
  wo.sync = store->options().sync_writes;
  return FromRocks("writing blob", store->db()->Put(wo, store->handle(cf), key, ToSlice(v)));
}

absl::StatusOr<std::string> Get(Store* store, ColumnFamily cf, const std::string& key,
                                const char* what) {
  std::string value;
  rocksdb::Status s = store->db()->Get(rocksdb::ReadOptions(), store->handle(cf), key, &value);
  if (s.IsNotFound()) return absl::NotFoundError(std::string(what) + " not found");
  if (!s.ok()) return FromRocks(std::string("reading ") + what, s);
  return value;
}

absl::Status DeleteRange(Store* store, ColumnFamily cf, const std::string& begin,
                         const std::string& end) {
  rocksdb::WriteOptions wo;
  wo.sync = store->options().sync_writes;
  return FromRocks("deleting", store->db()->DeleteRange(wo, store->handle(cf), begin, end));
}

// Calls fn(key suffix after prefix, value) for keys under prefix.
absl::Status ScanPrefix(Store* store, ColumnFamily cf, const std::string& prefix,
                        const std::function<bool(absl::string_view, absl::string_view)>& fn) {
  rocksdb::ReadOptions ro;
  // A follower (secondary instance) has no snapshots; the iterator is consistent by itself.
  const rocksdb::Snapshot* snap = store->read_only() ? nullptr : store->db()->GetSnapshot();
  ro.snapshot = snap;
  std::unique_ptr<rocksdb::Iterator> it(store->db()->NewIterator(ro, store->handle(cf)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    absl::string_view key = ToView(it->key());
    key.remove_prefix(prefix.size());
    if (!fn(key, ToView(it->value()))) break;
  }
  absl::Status st = FromRocks("scanning", it->status());
  it.reset();
  if (snap != nullptr) store->db()->ReleaseSnapshot(snap);
  return st;
}

}  // namespace

absl::Status BlobStore::PutModel(absl::string_view collection, uint64_t version,
                                 absl::string_view blob) {
  return Put(store_, ColumnFamily::kModels, keys::ModelKey(collection, version), blob,
             /*guarded=*/true);
}

absl::StatusOr<std::string> BlobStore::GetModel(absl::string_view collection, uint64_t version) {
  return Get(store_, ColumnFamily::kModels, keys::ModelKey(collection, version), "model");
}

absl::StatusOr<std::vector<uint64_t>> BlobStore::ListModelVersions(absl::string_view collection) {
  std::vector<uint64_t> versions;
  absl::Status bad;
  absl::Status s = ScanPrefix(store_, ColumnFamily::kModels, keys::CollectionPrefix(collection),
                              [&](absl::string_view rest, absl::string_view) {
                                uint64_t v = 0;
                                if (!keys::ConsumeU64(&rest, &v) || !rest.empty()) {
                                  bad = absl::DataLossError("malformed model key");
                                  return false;
                                }
                                versions.push_back(v);
                                return true;
                              });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  return versions;
}

absl::Status BlobStore::DeleteModel(absl::string_view collection, uint64_t version) {
  rocksdb::WriteOptions wo;
  wo.sync = store_->options().sync_writes;
  return FromRocks("deleting model", store_->db()->Delete(wo, store_->handle(ColumnFamily::kModels),
                                                          keys::ModelKey(collection, version)));
}

absl::Status BlobStore::PutDatasetBatch(absl::string_view collection, absl::string_view dataset,
                                        uint64_t index, absl::string_view blob) {
  return Put(store_, ColumnFamily::kDatasets, keys::DatasetKey(collection, dataset, index), blob,
             /*guarded=*/true);
}

absl::Status BlobStore::ScanDataset(absl::string_view collection, absl::string_view dataset,
                                    const std::function<bool(uint64_t, absl::string_view)>& fn) {
  absl::Status bad;
  absl::Status s =
      ScanPrefix(store_, ColumnFamily::kDatasets, keys::DatasetKeyPrefix(collection, dataset),
                 [&](absl::string_view rest, absl::string_view value) {
                   uint64_t index = 0;
                   if (!keys::ConsumeU64(&rest, &index) || !rest.empty()) {
                     bad = absl::DataLossError("malformed dataset key");
                     return false;
                   }
                   return fn(index, value);
                 });
  return s.ok() ? bad : s;
}

absl::Status BlobStore::DeleteDataset(absl::string_view collection, absl::string_view dataset) {
  const std::string prefix = keys::DatasetKeyPrefix(collection, dataset);
  return DeleteRange(store_, ColumnFamily::kDatasets, prefix, keys::PrefixEnd(prefix));
}

absl::StatusOr<std::vector<std::string>> BlobStore::ListDatasets(absl::string_view collection) {
  std::vector<std::string> names;
  absl::Status bad;
  absl::Status s = ScanPrefix(store_, ColumnFamily::kDatasets, keys::CollectionPrefix(collection),
                              [&](absl::string_view rest, absl::string_view) {
                                std::string name;
                                if (!keys::ConsumeEscaped(&rest, &name)) {
                                  bad = absl::DataLossError("malformed dataset key");
                                  return false;
                                }
                                if (names.empty() || names.back() != name) {
                                  names.push_back(std::move(name));
                                }
                                return true;
                              });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  return names;
}

absl::Status BlobStore::PutJob(absl::string_view collection, absl::string_view job_id,
                               absl::string_view blob) {
  return Put(store_, ColumnFamily::kJobs, keys::JobKey(collection, job_id), blob,
             /*guarded=*/false);
}

absl::StatusOr<std::string> BlobStore::GetJob(absl::string_view collection,
                                              absl::string_view job_id) {
  return Get(store_, ColumnFamily::kJobs, keys::JobKey(collection, job_id), "job");
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> BlobStore::ListJobs(
    absl::string_view collection) {
  std::vector<std::pair<std::string, std::string>> jobs;
  absl::Status bad;
  absl::Status s = ScanPrefix(store_, ColumnFamily::kJobs, keys::CollectionPrefix(collection),
                              [&](absl::string_view rest, absl::string_view value) {
                                std::string id;
                                if (!keys::ConsumeEscaped(&rest, &id) || rest.size() != 1) {
                                  bad = absl::DataLossError("malformed job key");
                                  return false;
                                }
                                if (rest == "j") jobs.emplace_back(std::move(id), value);
                                return true;
                              });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  return jobs;
}

absl::Status BlobStore::PutJobCheckpoint(absl::string_view collection, absl::string_view job_id,
                                         absl::string_view blob) {
  return Put(store_, ColumnFamily::kJobs, keys::JobCheckpointKey(collection, job_id), blob,
             /*guarded=*/true);
}

absl::StatusOr<std::string> BlobStore::GetJobCheckpoint(absl::string_view collection,
                                                        absl::string_view job_id) {
  return Get(store_, ColumnFamily::kJobs, keys::JobCheckpointKey(collection, job_id),
             "job checkpoint");
}

absl::Status BlobStore::DeleteJob(absl::string_view collection, absl::string_view job_id) {
  const std::string prefix = keys::JobKeyPrefix(collection, job_id);
  return DeleteRange(store_, ColumnFamily::kJobs, prefix, keys::PrefixEnd(prefix));
}

}  // namespace bn
