#include "server/cluster/blob_channel.h"

#include <zlib.h>

#include <algorithm>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/util/log.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;

uint32_t Crc(uint32_t crc, absl::string_view bytes) {
  uLong c = crc;
  while (!bytes.empty()) {
    const uInt n = static_cast<uInt>(std::min<size_t>(bytes.size(), 1u << 30));
    c = crc32(c, reinterpret_cast<const Bytef*>(bytes.data()), n);
    bytes.remove_prefix(n);
  }
  return static_cast<uint32_t>(c);
}

std::string RandomId() {
  static thread_local std::mt19937_64 random(std::random_device{}());
  return Hex(random()) + Hex(random());
}

class WriterImpl final : public BlobChannel::Writer {
 public:
  WriterImpl(nats::Connection* connection, std::string stream,
             std::function<std::string(absl::string_view)> subject, size_t chunk_bytes)
      : connection_(connection), stream_(std::move(stream)), chunk_bytes_(chunk_bytes) {
    ref_.set_id(RandomId());
    subject_ = subject(ref_.id());
  }
  ~WriterImpl() override {
    if (finished_) return;
    for (uint64_t sequence : ref_.sequences()) {
      if (absl::Status s = connection_->DeleteMessage(stream_, sequence);
          !s.ok() && s.code() != absl::StatusCode::kNotFound) {
        BN_LOG(WARNING) << "blob " << ref_.id() << " abandoned but not deleted: " << s;
        return;
      }
    }
  }

  absl::Status Append(absl::string_view bytes) override {
    if (finished_) return absl::FailedPreconditionError("blob already finished");
    while (!bytes.empty()) {
      const size_t take = std::min(bytes.size(), chunk_bytes_ - buffer_.size());
      buffer_.append(bytes.data(), take);
      bytes.remove_prefix(take);
      if (buffer_.size() == chunk_bytes_) {
        if (absl::Status s = Flush(); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<pb::BlobRef> Finish() override {
    if (finished_) return absl::FailedPreconditionError("blob already finished");
    if (!buffer_.empty() || ref_.chunks() == 0) {
      if (absl::Status s = Flush(); !s.ok()) return s;
    }
    finished_ = true;
    ref_.set_crc(crc_);
    return ref_;
  }

 private:
  absl::Status Flush() {
    nats::PublishOptions options;
    options.message_id = absl::StrCat(ref_.id(), ".", ref_.chunks());  // Retries are idempotent.
    absl::StatusOr<nats::PubAck> ack = connection_->Publish(subject_, buffer_, options);
    for (int attempt = 1; !ack.ok() && attempt < 3; ++attempt) {
      ack = connection_->Publish(subject_, buffer_, options);
    }
    if (!ack.ok()) return ack.status();
    if (ref_.chunks() == 0) ref_.set_first_sequence(ack->sequence);
    ref_.add_sequences(ack->sequence);
    ref_.set_chunks(ref_.chunks() + 1);
    ref_.set_size(ref_.size() + buffer_.size());
    crc_ = Crc(crc_, buffer_);
    buffer_.clear();
    return absl::OkStatus();
  }

  nats::Connection* const connection_;
  const std::string stream_;
  const size_t chunk_bytes_;
  pb::BlobRef ref_;
  std::string subject_;
  std::string buffer_;
  uint32_t crc_ = 0;
  bool finished_ = false;
};

}  // namespace

BlobChannel::BlobChannel(nats::Connection* connection, Names names, size_t chunk_bytes, Kind kind)
    : connection_(connection),
      names_(std::move(names)),
      chunk_bytes_(std::max<size_t>(
          1024,
          std::min<size_t>(chunk_bytes, static_cast<size_t>(connection->max_payload()) - 4096))),
      kind_(kind) {}

std::string BlobChannel::Stream() const {
  return kind_ == Kind::kSnapshots ? names_.SnapshotStream() : names_.BlobStream();
}

std::string BlobChannel::Subject(absl::string_view id) const {
  return kind_ == Kind::kSnapshots ? names_.SnapshotSubject(id) : names_.BlobSubject(id);
}

absl::Status BlobChannel::EnsureStream(int replicas) {
  nats::StreamConfig config;
  config.name = Stream();
  config.subjects = {kind_ == Kind::kSnapshots ? names_.SnapshotSubjects() : names_.BlobSubjects()};
  config.replicas = replicas;
  return connection_->EnsureStream(config).status();
}

std::unique_ptr<BlobChannel::Writer> BlobChannel::NewWriter() {
  return std::make_unique<WriterImpl>(
      connection_, Stream(), [this](absl::string_view id) { return Subject(id); }, chunk_bytes_);
}

absl::StatusOr<pb::BlobRef> BlobChannel::Put(absl::string_view bytes) {
  auto writer = NewWriter();
  if (absl::Status s = writer->Append(bytes); !s.ok()) return s;
  return writer->Finish();
}

absl::Status BlobChannel::Read(const pb::BlobRef& ref,
                               const std::function<absl::Status(absl::string_view)>& sink) {
  const std::string subject = Subject(ref.id());
  uint64_t sequence = ref.first_sequence();
  uint64_t size = 0;
  uint32_t crc = 0;
  for (uint32_t chunk = 0; chunk < ref.chunks(); ++chunk) {
    auto message = connection_->NextMessage(Stream(), subject, sequence);
    if (!message.ok()) return message.status();
    if (!message->has_value()) {
      return absl::NotFoundError(absl::StrCat("blob ", ref.id(), " has ", chunk, " of its ",
                                              ref.chunks(), " chunks (deleted?)"));
    }
    const std::string& data = (*message)->data;
    size += data.size();
    crc = Crc(crc, data);
    sequence = (*message)->stream_sequence + 1;
    if (absl::Status s = sink(data); !s.ok()) return s;
  }
  if (size != ref.size() || crc != ref.crc()) {
    return absl::DataLossError(absl::StrCat("blob ", ref.id(), " read back as ", size,
                                            " bytes with another CRC (expected ", ref.size(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> BlobChannel::Get(const pb::BlobRef& ref) {
  std::string out;
  out.reserve(ref.size());
  absl::Status s = Read(ref, [&](absl::string_view chunk) {
    out.append(chunk.data(), chunk.size());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status BlobChannel::Delete(const pb::BlobRef& ref) {
  // Message by message, never by a purge of the blob's subject: a nats-server 2.9 restarted
  // after a purge may replay it as a compaction of the whole stream, losing every older blob of
  // every collection (nats-io/nats-server#4196; docs/notes/cluster-log-trimming.md).
  std::vector<uint64_t> sequences(ref.sequences().begin(), ref.sequences().end());
  if (sequences.empty()) {  // A ref written before sequences were recorded: find its chunks.
    const std::string subject = Subject(ref.id());
    uint64_t sequence = std::max<uint64_t>(1, ref.first_sequence());
    for (uint32_t chunk = 0; chunk < ref.chunks(); ++chunk) {
      auto message = connection_->NextMessage(Stream(), subject, sequence);
      if (!message.ok()) {
        return message.status().code() == absl::StatusCode::kNotFound ? absl::OkStatus()
                                                                      : message.status();
      }
      if (!message->has_value()) break;
      sequences.push_back((*message)->stream_sequence);
      sequence = (*message)->stream_sequence + 1;
    }
  }
  for (uint64_t sequence : sequences) {
    absl::Status s = connection_->DeleteMessage(Stream(), sequence);
    if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
  }
  return absl::OkStatus();
}

void AppendRecord(absl::string_view record, std::string* out) {
  const uint32_t n = static_cast<uint32_t>(record.size());
  const char header[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                          static_cast<char>((n >> 16) & 0xff), static_cast<char>(n >> 24)};
  out->append(header, 4);
  out->append(record.data(), record.size());
}

absl::Status RecordReader::Feed(absl::string_view bytes,
                                const std::function<absl::Status(absl::string_view)>& record) {
  pending_.append(bytes.data(), bytes.size());
  size_t pos = 0;
  while (pending_.size() - pos >= 4) {
    const auto* p = reinterpret_cast<const unsigned char*>(pending_.data() + pos);
    const uint32_t n = p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t{p[3]} << 24);
    if (pending_.size() - pos - 4 < n) break;
    if (absl::Status s = record(absl::string_view(pending_.data() + pos + 4, n)); !s.ok()) {
      return s;
    }
    pos += 4 + n;
  }
  pending_.erase(0, pos);
  return absl::OkStatus();
}

absl::Status RecordReader::Finish() const {
  if (pending_.empty()) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat("a blob ends inside a record (", pending_.size(), " bytes left over)"));
}

}  // namespace bn::cluster
