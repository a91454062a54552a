#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/util/log.h"
#include "server/cluster/nats_internal.h"

namespace bn::nats::internal {
namespace {

// Watches a bucket through an ephemeral pull consumer of its stream: the last value of every
// matching key first, then changes. libnats' own watcher (an ordered push consumer) stops
// delivering when the server that hosts it dies; this one notices (an error, a gap in consumer
// sequences, or requests that go unanswered) and continues with a new consumer from the last
// revision it delivered.
class KvWatcherImpl final : public KvWatcher {
 public:
  KvWatcherImpl(std::shared_ptr<Shared> shared, std::string bucket, std::string pattern)
      : shared_(std::move(shared)),
        stream_("KV_" + bucket),
        prefix_("$KV." + bucket + "."),
        pattern_(std::move(pattern)) {}

  absl::Status Start() { return Reset(); }

  absl::StatusOr<std::optional<KvEntry>> Next(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (stopped_.load()) return absl::CancelledError("watcher stopped");
      if (!initial_done_ && delivered_ >= initial_pending_) {
        initial_done_ = true;
        return KvEntry{};
      }
      if (next_ < buffer_.size()) {
        Message& message = buffer_[next_++];
        ++delivered_;
        last_revision_ = message.stream_sequence;
        return ToEntry(message);
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return std::nullopt;
      buffer_.clear();
      next_ = 0;
      // Short fetches, so that Stop() is noticed soon.
      const auto wait = std::min<std::chrono::milliseconds>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now),
          std::chrono::milliseconds(500));
      absl::StatusOr<std::vector<Message>> batch =
          consumer_ == nullptr
              ? absl::UnavailableError("no consumer")
              : consumer_->Fetch(1024, std::max(wait, std::chrono::milliseconds(1)), 0);
      // Fetch fails also when the consumer answered none of its last requests (deleted, or
      // lost with a NATS server).
      bool reset = !batch.ok();
      std::string why = batch.ok() ? "" : batch.status().ToString();
      if (batch.ok()) {
        for (Message& message : *batch) {
          if (message.consumer_sequence != consumer_sequence_ + 1) {
            reset = true;  // A delivery was lost: start again after what was delivered.
            why = absl::StrCat("consumer sequence ", message.consumer_sequence, " after ",
                               consumer_sequence_);
            break;
          }
          consumer_sequence_ = message.consumer_sequence;
          buffer_.push_back(std::move(message));
        }
        if (!buffer_.empty()) (void)consumer_->AckUpTo(buffer_.back());
      }
      if (reset) {
        // Deliver what arrived in order before the gap, then continue after it.
        const uint64_t after = buffer_.empty() ? last_revision_ : buffer_.back().stream_sequence;
        // Logged once per lost consumer (not per failed retry), for diagnosing failovers.
        if (consumer_ != nullptr) {
          BN_LOG(WARNING) << "watcher of " << stream_ << ": consumer lost (" << why
                          << "); continuing after revision " << after;
        }
        if (!Reset(after).ok()) {
          std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(200)));
        }
      }
    }
  }

  void Stop() override { stopped_.store(true); }

 private:
  // A new consumer: the last value per key at first, after a failure from `after` + 1.
  absl::Status Reset(uint64_t after = 0) {
    consumer_.reset();
    ConsumerSpec spec;
    spec.subject = prefix_ + pattern_;
    if (after == 0 && !started_) {
      spec.deliver = js_DeliverLastPerSubject;
    } else {
      spec.deliver = js_DeliverByStartSequence;
      spec.start_sequence = after + 1;
    }
    uint64_t pending = 0;
    auto consumer = NewConsumer(shared_, stream_, spec, &pending);
    if (!consumer.ok()) return consumer.status();
    if (!started_) initial_pending_ = pending;
    started_ = true;
    consumer_ = std::move(*consumer);
    consumer_sequence_ = 0;
    return absl::OkStatus();
  }

  KvEntry ToEntry(const Message& message) const {
    KvEntry entry;
    entry.key = message.subject.substr(std::min(prefix_.size(), message.subject.size()));
    entry.value = message.data;
    entry.revision = message.stream_sequence;
    entry.created_ns = message.timestamp_ns;
    for (const auto& [name, value] : message.headers) {
      if (name != "KV-Operation") continue;
      if (value == "DEL") entry.op = KvEntry::Op::kDelete;
      if (value == "PURGE") entry.op = KvEntry::Op::kPurge;
    }
    return entry;
  }

  std::shared_ptr<Shared> shared_;
  const std::string stream_;
  const std::string prefix_;
  const std::string pattern_;
  std::atomic<bool> stopped_{false};
  std::unique_ptr<PullConsumer> consumer_;
  bool started_ = false;
  uint64_t initial_pending_ = 0;
  uint64_t delivered_ = 0;
  bool initial_done_ = false;
  uint64_t consumer_sequence_ = 0;
  uint64_t last_revision_ = 0;
  std::vector<Message> buffer_;
  size_t next_ = 0;
};

class KeyValueImpl final : public KeyValue {
 public:
  KeyValueImpl(std::shared_ptr<Shared> shared, kvStore* kv, std::string bucket)
      : shared_(std::move(shared)), kv_(kv), bucket_(std::move(bucket)) {}
  ~KeyValueImpl() override { kvStore_Destroy(kv_); }

  absl::StatusOr<std::optional<KvEntry>> Get(absl::string_view key) override {
    kvEntry* entry = nullptr;
    const std::string k(key);
    natsStatus s = kvStore_Get(&entry, kv_, k.c_str());
    if (s == NATS_NOT_FOUND) return std::nullopt;
    if (s != NATS_OK) return FromNats(s, Where("get", k));
    KvEntry out;
    out.key = k;
    out.value.assign(static_cast<const char*>(kvEntry_Value(entry)),
                     static_cast<size_t>(kvEntry_ValueLen(entry)));
    out.revision = kvEntry_Revision(entry);
    out.created_ns = kvEntry_Created(entry);
    kvEntry_Destroy(entry);
    return out;
  }

  absl::StatusOr<uint64_t> Put(absl::string_view key, absl::string_view value) override {
    uint64_t revision = 0;
    const std::string k(key);
    natsStatus s =
        kvStore_Put(&revision, kv_, k.c_str(), value.data(), static_cast<int>(value.size()));
    if (s != NATS_OK) return FromNats(s, Where("put", k));
    return revision;
  }

  absl::StatusOr<uint64_t> Create(absl::string_view key, absl::string_view value) override {
    uint64_t revision = 0;
    const std::string k(key);
    natsStatus s =
        kvStore_Create(&revision, kv_, k.c_str(), value.data(), static_cast<int>(value.size()));
    if (s != NATS_OK) {
      absl::Status status = FromNats(s, Where("create", k));
      if (status.code() == absl::StatusCode::kFailedPrecondition) {
        return absl::AlreadyExistsError(status.message());
      }
      return status;
    }
    return revision;
  }

  absl::StatusOr<uint64_t> Update(absl::string_view key, absl::string_view value,
                                  uint64_t last) override {
    uint64_t revision = 0;
    const std::string k(key);
    natsStatus s = kvStore_Update(&revision, kv_, k.c_str(), value.data(),
                                  static_cast<int>(value.size()), last);
    if (s != NATS_OK) return FromNats(s, Where("update", k));
    return revision;
  }

  absl::Status Delete(absl::string_view key) override {
    const std::string k(key);
    return FromNats(kvStore_Delete(kv_, k.c_str()), Where("delete", k));
  }

  absl::Status Purge(absl::string_view key) override {
    const std::string k(key);
    return FromNats(kvStore_Purge(kv_, k.c_str(), nullptr), Where("purge", k));
  }

  absl::StatusOr<std::vector<std::string>> Keys() override {
    kvKeysList list{};
    natsStatus s = kvStore_Keys(&list, kv_, nullptr);
    std::vector<std::string> out;
    if (s == NATS_NOT_FOUND) return out;  // No keys.
    if (s != NATS_OK) return FromNats(s, "listing keys of bucket " + bucket_);
    for (int i = 0; i < list.Count; ++i) out.emplace_back(list.Keys[i]);
    kvKeysList_Destroy(&list);
    return out;
  }

  absl::StatusOr<std::unique_ptr<KvWatcher>> Watch(absl::string_view pattern) override {
    auto watcher = std::make_unique<KvWatcherImpl>(shared_, bucket_, std::string(pattern));
    if (absl::Status s = watcher->Start(); !s.ok()) return s;
    return std::unique_ptr<KvWatcher>(std::move(watcher));
  }

  const std::string& bucket() const override { return bucket_; }

 private:
  std::string Where(const char* op, const std::string& key) const {
    return absl::StrCat("kv ", op, " ", bucket_, "/", key);
  }

  std::shared_ptr<Shared> shared_;
  kvStore* kv_;
  const std::string bucket_;
};

}  // namespace

std::unique_ptr<KeyValue> NewKeyValue(std::shared_ptr<Shared> shared, kvStore* kv,
                                      std::string bucket) {
  return std::make_unique<KeyValueImpl>(std::move(shared), kv, std::move(bucket));
}

}  // namespace bn::nats::internal
