#include "server/cluster/snapshot_blob.h"

#include <ctime>
#include <utility>

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;

constexpr size_t kChunk = size_t{512} << 10;

}  // namespace

SnapshotBlobWriter::SnapshotBlobWriter(BlobChannel* channel, pb::SnapshotHeader header)
    : header_(std::move(header)), writer_(channel->NewWriter()) {
  AppendRecord(header_.SerializeAsString(), &buffer_);
}

bool SnapshotBlobWriter::Add(const std::string& id, const std::string& record,
                             absl::string_view code) {
  if (!written_.ok()) return false;
  pb::SnapshotItem item;
  item.set_id(id);
  item.set_record(record);
  if (!code.empty()) item.set_code(std::string(code));
  AppendRecord(item.SerializeAsString(), &buffer_);
  ++items_;
  if (buffer_.size() >= kChunk) {
    written_ = writer_->Append(buffer_);
    buffer_.clear();
  }
  return written_.ok();
}

absl::StatusOr<pb::SnapshotEntry> SnapshotBlobWriter::Finish(const std::string& node) {
  if (!written_.ok()) return written_;
  if (absl::Status s = writer_->Append(buffer_); !s.ok()) return s;
  buffer_.clear();
  auto ref = writer_->Finish();
  if (!ref.ok()) return ref.status();
  pb::SnapshotEntry entry;
  *entry.mutable_blob() = *ref;
  entry.set_log_position(header_.log_position());
  entry.set_items(items_);
  entry.set_code_version(header_.code_version());
  entry.set_node(node);
  entry.set_create_unix(std::time(nullptr));
  return entry;
}

}  // namespace bn::cluster
