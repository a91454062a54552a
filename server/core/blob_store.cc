#include "server/core/blob_store.h"

#include <memory>

#include "engine/store/keys.h"
#include "engine/store/rocks_status.h"
#include "rocksdb/db.h"

namespace bn {

absl::Status BlobStore::Put(ColumnFamily cf, const std::string& key, absl::string_view value) {
  rocksdb::WriteOptions options;
  options.sync = store_->options().sync_writes;
  return FromRocks("write", store_->db()->Put(options, store_->handle(cf), key,
                                              rocksdb::Slice(value.data(), value.size())));
}

absl::StatusOr<std::string> BlobStore::Get(ColumnFamily cf, const std::string& key,
                                           const char* what) {
  std::string value;
  rocksdb::Status s = store_->db()->Get(rocksdb::ReadOptions(), store_->handle(cf), key, &value);
  if (s.IsNotFound()) return absl::NotFoundError(std::string(what) + " not found");
  if (!s.ok()) return FromRocks("read", s);
  return value;
}

absl::Status BlobStore::Scan(
    ColumnFamily cf, const std::string& prefix,
    const std::function<bool(absl::string_view, absl::string_view)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(rocksdb::ReadOptions(), store_->handle(cf)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    rocksdb::Slice key = it->key();
    key.remove_prefix(prefix.size());
    if (!fn(absl::string_view(key.data(), key.size()),
            absl::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return FromRocks("scan", it->status());
}

absl::Status BlobStore::PutModel(absl::string_view collection, uint64_t version,
                                 absl::string_view blob) {
  return Put(ColumnFamily::kModels, keys::ModelKey(collection, version), blob);
}

absl::StatusOr<std::string> BlobStore::GetModel(absl::string_view collection, uint64_t version) {
  return Get(ColumnFamily::kModels, keys::ModelKey(collection, version), "model version");
}

absl::Status BlobStore::ScanModels(
    absl::string_view collection,
    const std::function<bool(uint64_t, absl::string_view)>& fn) {
  return Scan(ColumnFamily::kModels, keys::CollectionPrefix(collection),
              [&](absl::string_view suffix, absl::string_view value) {
                uint64_t version = 0;
                if (!keys::ConsumeU64(&suffix, &version)) return true;
                return fn(version, value);
              });
}

absl::Status BlobStore::PutDatasetBlob(absl::string_view collection, absl::string_view dataset,
                                       uint64_t index, absl::string_view blob) {
  return Put(ColumnFamily::kDatasets, keys::DatasetKey(collection, dataset, index), blob);
}

absl::StatusOr<std::string> BlobStore::GetDatasetBlob(absl::string_view collection,
                                                      absl::string_view dataset,
                                                      uint64_t index) {
  return Get(ColumnFamily::kDatasets, keys::DatasetKey(collection, dataset, index), "dataset");
}

absl::Status BlobStore::ScanDatasetBatches(
    absl::string_view collection, absl::string_view dataset,
    const std::function<bool(uint64_t, absl::string_view)>& fn) {
  return Scan(ColumnFamily::kDatasets, keys::DatasetKeyPrefix(collection, dataset),
              [&](absl::string_view suffix, absl::string_view value) {
                uint64_t index = 0;
                if (!keys::ConsumeU64(&suffix, &index) || index == 0) return true;
                return fn(index, value);
              });
}

absl::Status BlobStore::ScanDatasetMetas(
    absl::string_view collection,
    const std::function<bool(absl::string_view, absl::string_view)>& fn) {
  return Scan(ColumnFamily::kDatasets, keys::CollectionPrefix(collection),
              [&](absl::string_view suffix, absl::string_view value) {
                std::string dataset;
                uint64_t index = 0;
                if (!keys::ConsumeEscaped(&suffix, &dataset) ||
                    !keys::ConsumeU64(&suffix, &index) || index != 0) {
                  return true;
                }
                return fn(dataset, value);
              });
}

absl::Status BlobStore::DeleteDataset(absl::string_view collection, absl::string_view dataset) {
  const std::string begin = keys::DatasetKeyPrefix(collection, dataset);
  rocksdb::WriteOptions options;
  options.sync = store_->options().sync_writes;
  return FromRocks("delete dataset",
                   store_->db()->DeleteRange(options, store_->handle(ColumnFamily::kDatasets),
                                             begin, keys::PrefixEnd(begin)));
}

absl::Status BlobStore::PutJob(absl::string_view collection, absl::string_view job_id,
                               absl::string_view blob) {
  return Put(ColumnFamily::kJobs, keys::JobKey(collection, job_id), blob);
}

absl::StatusOr<std::string> BlobStore::GetJob(absl::string_view collection,
                                              absl::string_view job_id) {
  return Get(ColumnFamily::kJobs, keys::JobKey(collection, job_id), "job");
}

absl::Status BlobStore::DeleteJob(absl::string_view collection, absl::string_view job_id) {
  const std::string begin = keys::JobKeyPrefix(collection, job_id);
  rocksdb::WriteOptions options;
  options.sync = store_->options().sync_writes;
  return FromRocks("delete job",
                   store_->db()->DeleteRange(options, store_->handle(ColumnFamily::kJobs), begin,
                                             keys::PrefixEnd(begin)));
}

absl::Status BlobStore::ScanJobs(
    absl::string_view collection,
    const std::function<bool(absl::string_view, absl::string_view)>& fn) {
  return Scan(ColumnFamily::kJobs, keys::CollectionPrefix(collection),
              [&](absl::string_view suffix, absl::string_view value) {
                std::string job_id;
                if (!keys::ConsumeEscaped(&suffix, &job_id) || suffix != "j") return true;
                return fn(job_id, value);
              });
}

absl::Status BlobStore::PutCheckpoint(absl::string_view collection, absl::string_view job_id,
                                      absl::string_view blob) {
  return Put(ColumnFamily::kJobs, keys::JobCheckpointKey(collection, job_id), blob);
}

absl::StatusOr<std::string> BlobStore::GetCheckpoint(absl::string_view collection,
                                                     absl::string_view job_id) {
  return Get(ColumnFamily::kJobs, keys::JobCheckpointKey(collection, job_id), "checkpoint");
}

}  // namespace bn
