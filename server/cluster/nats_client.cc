#include "server/cluster/nats_client.h"

#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bn::nats {
namespace {

constexpr int64_t kNanosPerMilli = 1000000;

// libnats' own description of the last error on this thread (it keeps one per thread).
std::string LastErrorText() {
  natsStatus status = NATS_OK;
  const char* text = nats_GetLastError(&status);
  return text == nullptr ? std::string() : std::string(text);
}

absl::Status FromNats(natsStatus s, jsErrCode js_error, absl::string_view what) {
  if (s == NATS_OK) return absl::OkStatus();
  std::string text = absl::StrCat(what, ": ", natsStatus_GetText(s));
  const std::string detail = LastErrorText();
  if (!detail.empty()) absl::StrAppend(&text, " (", detail, ")");
  if (js_error != 0) absl::StrAppend(&text, " [JetStream error ", static_cast<int>(js_error), "]");
  switch (js_error) {
    case JSStreamNotFoundErr:
    case JSConsumerNotFoundErr:
      return absl::NotFoundError(text);
    case JSStreamWrongLastSequenceErr:
      return absl::FailedPreconditionError(text);
    case JSClusterNoPeersErr:
    case JSClusterNotAvailErr:
    case JSNotEnabledForAccountErr:
    case JSInsufficientResourcesErr:
      return absl::UnavailableError(text);
    case JSStreamMessageExceedsMaximumErr:
      return absl::ResourceExhaustedError(text);
    default:
      break;
  }
  switch (s) {
    case NATS_TIMEOUT:
      return absl::DeadlineExceededError(text);
    case NATS_NOT_FOUND:
      return absl::NotFoundError(text);
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NOT_YET_CONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_NO_RESPONDERS:
    case NATS_IO_ERROR:
    case NATS_PROTOCOL_ERROR:
    case NATS_SECURE_CONNECTION_REQUIRED:
    case NATS_SECURE_CONNECTION_WANTED:
    case NATS_CONNECTION_AUTH_FAILED:
      return absl::UnavailableError(text);
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
    case NATS_ADDRESS_MISSING:
      return absl::InvalidArgumentError(text);
    case NATS_MAX_PAYLOAD:
      return absl::ResourceExhaustedError(text);
    default:
      break;
  }
  // KV create/update report a failed expectation as a generic error with this text.
  if (detail.find("wrong last sequence") != std::string::npos) {
    return absl::FailedPreconditionError(text);
  }
  return absl::InternalError(text);
}

absl::Status FromNats(natsStatus s, absl::string_view what) {
  return FromNats(s, static_cast<jsErrCode>(0), what);
}

// The state shared by a Connection and everything it hands out.
struct Shared {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  int64_t request_timeout_ms = 5000;
  ~Shared() {
    if (js != nullptr) jsCtx_Destroy(js);
    if (nc != nullptr) {
      natsConnection_Close(nc);
      natsConnection_Destroy(nc);
    }
  }
};

// The raw value after `"key":` in a JetStream API reply (a string without its quotes, or a
// number), searching from `from`; nullopt when absent. The replies' strings (subjects, base64,
// times, descriptions) hold no escaped quotes.
std::optional<std::string> JsonField(absl::string_view json, absl::string_view key,
                                     size_t from = 0) {
  const std::string needle = absl::StrCat("\"", key, "\":");
  const size_t at = json.find(needle, from);
  if (at == absl::string_view::npos) return std::nullopt;
  size_t start = at + needle.size();
  if (start < json.size() && json[start] == '"') {
    const size_t end = json.find('"', start + 1);
    if (end == absl::string_view::npos) return std::nullopt;
    return std::string(json.substr(start + 1, end - start - 1));
  }
  size_t end = start;
  while (end < json.size() && json[end] != ',' && json[end] != '}') ++end;
  return std::string(json.substr(start, end - start));
}

Message FromNatsMsg(natsMsg* msg) {
  Message out;
  if (const char* subject = natsMsg_GetSubject(msg)) out.subject = subject;
  if (const char* data = natsMsg_GetData(msg)) {
    out.data.assign(data, static_cast<size_t>(natsMsg_GetDataLength(msg)));
  }
  if (const char* reply = natsMsg_GetReply(msg)) out.reply = reply;
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK && keys != nullptr) {
    for (int i = 0; i < count; ++i) {
      const char* value = nullptr;
      if (natsMsgHeader_Get(msg, keys[i], &value) == NATS_OK && value != nullptr) {
        out.headers.emplace_back(keys[i], value);
      }
    }
    free(static_cast<void*>(keys));
  }
  jsMsgMetaData* meta = nullptr;
  if (!out.reply.empty() && natsMsg_GetMetaData(&meta, msg) == NATS_OK && meta != nullptr) {
    out.stream_sequence = meta->Sequence.Stream;
    out.consumer_sequence = meta->Sequence.Consumer;
    out.num_pending = meta->NumPending;
    out.timestamp_ns = meta->Timestamp;
    jsMsgMetaData_Destroy(meta);
  } else {
    out.stream_sequence = natsMsg_GetSequence(msg);
    out.timestamp_ns = natsMsg_GetTime(msg);
  }
  return out;
}

// A durable pull consumer driven by raw pull requests ($JS.API.CONSUMER.MSG.NEXT) on an inbox of
// its own, so that a fetch returns as soon as messages arrive (libnats' Fetch waits for a full
// batch) and a late status of an earlier request is told apart (each request has its own reply
// subject). At most one request is open at a time; messages arrive in consumer order whichever
// request they answer.
class PullConsumerImpl final : public PullConsumer {
 public:
  static constexpr int kRequestBatch = 1024;
  static constexpr int64_t kRequestBytes = int64_t{64} << 20;

  PullConsumerImpl(std::shared_ptr<Shared> shared, natsSubscription* sub, std::string inbox,
                   std::string stream, std::string name)
      : shared_(std::move(shared)),
        sub_(sub),
        inbox_(std::move(inbox)),
        stream_(std::move(stream)),
        name_(std::move(name)),
        next_subject_("$JS.API.CONSUMER.MSG.NEXT." + stream_ + "." + name_) {}
  ~PullConsumerImpl() override {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }

  absl::StatusOr<std::vector<Message>> Fetch(int max_messages, std::chrono::milliseconds timeout,
                                             int64_t max_bytes) override {
    std::vector<Message> out;
    int64_t bytes = 0;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (static_cast<int>(out.size()) < max_messages && (max_bytes <= 0 || bytes < max_bytes)) {
      const auto now = std::chrono::steady_clock::now();
      if (!request_open_ || now >= request_deadline_) {
        if (absl::Status s = SendRequest(std::max(timeout, std::chrono::milliseconds(1000)));
            !s.ok()) {
          return s;
        }
      }
      // Wait for the first message until the deadline; after it, for what follows within 1 ms.
      int64_t wait_ms = 1;
      if (out.empty()) {
        wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
        if (wait_ms <= 0) break;
        wait_ms = std::min<int64_t>(
            wait_ms,
            std::chrono::duration_cast<std::chrono::milliseconds>(request_deadline_ - now).count() +
                1);
      }
      natsMsg* msg = nullptr;
      natsStatus s = natsSubscription_NextMsg(&msg, sub_, std::max<int64_t>(1, wait_ms));
      if (s == NATS_TIMEOUT) {
        if (!out.empty()) break;
        if (request_open_ && std::chrono::steady_clock::now() >= request_deadline_) {
          // Neither messages nor the server's end of the request: it was lost with a server.
          ++lost_requests_;
          request_open_ = false;
        }
        continue;
      }
      lost_requests_ = 0;
      if (s != NATS_OK) return FromNats(s, "fetching from consumer " + name_);
      const char* status = nullptr;
      if (natsMsgGetStatus(msg, &status)) {
        // A status ends the request it answers (404 no messages, 408 expired, 409 leadership
        // change or consumer deleted); one of an earlier request means nothing now.
        const bool current = current_reply_ == natsMsg_GetSubject(msg);
        std::string description;
        const char* text = nullptr;
        if (natsMsgHeader_Get(msg, "Description", &text) == NATS_OK && text != nullptr) {
          description = text;
        }
        const std::string code = status;
        natsMsg_Destroy(msg);
        if (current && code != "100") request_open_ = false;
        if (current && code == "409" && description.find("Deleted") != std::string::npos) {
          return absl::NotFoundError("consumer " + name_ + " of " + stream_ + " was deleted");
        }
        continue;
      }
      Message message = FromNatsMsg(msg);
      natsMsg_Destroy(msg);
      bytes += static_cast<int64_t>(message.data.size());
      if (--request_remaining_ <= 0) request_open_ = false;
      out.push_back(std::move(message));
    }
    return out;
  }

  absl::Status AckUpTo(const Message& message) override {
    if (message.reply.empty()) return absl::InvalidArgumentError("message has no reply subject");
    return FromNats(natsConnection_PublishString(shared_->nc, message.reply.c_str(), "+ACK"),
                    "acknowledging on consumer " + name_);
  }

  absl::StatusOr<uint64_t> NumPending() override {
    jsConsumerInfo* info = nullptr;
    jsErrCode js_error = static_cast<jsErrCode>(0);
    natsStatus s =
        js_GetConsumerInfo(&info, shared_->js, stream_.c_str(), name_.c_str(), nullptr, &js_error);
    if (s != NATS_OK) return FromNats(s, js_error, "consumer info of " + name_);
    const uint64_t pending = info->NumPending;
    jsConsumerInfo_Destroy(info);
    return pending;
  }

  const std::string& name() const override { return name_; }
  // Requests in a row that ended with no answer at all (the consumer's server may be gone).
  int lost_requests() const { return lost_requests_; }

 private:
  // True (and *status set) for a header-only status message ("NATS/1.0 408 ...").
  static bool natsMsgGetStatus(natsMsg* msg, const char** status) {
    return natsMsg_GetDataLength(msg) == 0 && natsMsg_GetReply(msg) == nullptr &&
           natsMsgHeader_Get(msg, "Status", status) == NATS_OK && *status != nullptr;
  }

  absl::Status SendRequest(std::chrono::milliseconds expires) {
    current_reply_ = inbox_ + "." + std::to_string(++request_id_);
    const std::string body =
        absl::StrCat("{\"batch\":", kRequestBatch, ",\"max_bytes\":", kRequestBytes,
                     ",\"expires\":", expires.count() * kNanosPerMilli, "}");
    natsStatus s =
        natsConnection_PublishRequest(shared_->nc, next_subject_.c_str(), current_reply_.c_str(),
                                      body.data(), static_cast<int>(body.size()));
    if (s != NATS_OK) {
      request_open_ = false;
      return FromNats(s, "requesting messages of consumer " + name_);
    }
    request_open_ = true;
    request_remaining_ = kRequestBatch;
    // The server ends the request by then; a request lost with a failed server is given up.
    request_deadline_ = std::chrono::steady_clock::now() + expires + std::chrono::milliseconds(500);
    return absl::OkStatus();
  }

  std::shared_ptr<Shared> shared_;
  natsSubscription* sub_;  // On inbox_ + ".*".
  const std::string inbox_;
  const std::string stream_;
  const std::string name_;
  const std::string next_subject_;
  uint64_t request_id_ = 0;
  std::string current_reply_;
  bool request_open_ = false;
  int request_remaining_ = 0;
  int lost_requests_ = 0;
  std::chrono::steady_clock::time_point request_deadline_;
};

// How a consumer starts (internal to this file).
struct ConsumerSpec {
  std::string durable;  // Empty: ephemeral (removed by the server after inactive_threshold).
  std::string subject;
  jsDeliverPolicy deliver = js_DeliverAll;
  uint64_t start_sequence = 0;  // With js_DeliverByStartSequence.
  std::chrono::milliseconds inactive_threshold{30000};
};

// Creates a pull consumer of `stream` and the inbox subscription it delivers to.
absl::StatusOr<std::unique_ptr<PullConsumerImpl>> NewConsumer(const std::shared_ptr<Shared>& shared,
                                                              const std::string& stream,
                                                              const ConsumerSpec& spec,
                                                              uint64_t* initial_pending) {
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  if (!spec.durable.empty()) {
    cc.Durable = spec.durable.c_str();
  } else {
    cc.InactiveThreshold = spec.inactive_threshold.count() * kNanosPerMilli;
  }
  cc.FilterSubject = spec.subject.c_str();
  cc.AckPolicy = js_AckAll;
  cc.AckWait = int64_t{30000} * kNanosPerMilli;
  cc.MaxAckPending = 65536;
  cc.DeliverPolicy = spec.deliver;
  if (spec.deliver == js_DeliverByStartSequence) cc.OptStartSeq = spec.start_sequence;
  jsConsumerInfo* info = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus s = js_AddConsumer(&info, shared->js, stream.c_str(), &cc, nullptr, &js_error);
  if (s != NATS_OK) {
    return FromNats(s, js_error, "creating a consumer of " + stream + " for " + spec.subject);
  }
  const std::string name = info->Name != nullptr ? info->Name : spec.durable;
  if (initial_pending != nullptr) *initial_pending = info->NumPending;
  jsConsumerInfo_Destroy(info);
  natsInbox* inbox = nullptr;
  if (natsStatus is = natsInbox_Create(&inbox); is != NATS_OK) {
    return FromNats(is, "creating an inbox");
  }
  const std::string inbox_subject = inbox;
  natsInbox_Destroy(inbox);
  natsSubscription* sub = nullptr;
  s = natsConnection_SubscribeSync(&sub, shared->nc, (inbox_subject + ".*").c_str());
  if (s == NATS_OK) s = natsSubscription_SetPendingLimits(sub, -1, -1);
  if (s != NATS_OK) {
    if (sub != nullptr) natsSubscription_Destroy(sub);
    return FromNats(s, "subscribing for consumer " + name);
  }
  return std::make_unique<PullConsumerImpl>(shared, sub, inbox_subject, stream, name);
}

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
      bool reset = !batch.ok() || consumer_->lost_requests() >= 2;
      if (batch.ok()) {
        for (Message& message : *batch) {
          if (message.consumer_sequence != consumer_sequence_ + 1) {
            reset = true;  // A delivery was lost: start again after what was delivered.
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
  std::unique_ptr<PullConsumerImpl> consumer_;
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

class ConnectionImpl final : public Connection {
 public:
  explicit ConnectionImpl(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  bool connected() const override {
    return natsConnection_Status(shared_->nc) == NATS_CONN_STATUS_CONNECTED;
  }

  std::string connected_url() const override {
    char buffer[512];
    if (natsConnection_GetConnectedUrl(shared_->nc, buffer, sizeof(buffer)) != NATS_OK) return "";
    return buffer;
  }

  int64_t max_payload() const override { return natsConnection_GetMaxPayload(shared_->nc); }

  absl::StatusOr<StreamState> EnsureStream(const StreamConfig& config) override {
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = config.name.c_str();
    std::vector<const char*> subjects;
    for (const auto& subject : config.subjects) subjects.push_back(subject.c_str());
    cfg.Subjects = subjects.data();
    cfg.SubjectsLen = static_cast<int>(subjects.size());
    cfg.Replicas = config.replicas;
    cfg.MaxBytes = config.max_bytes;
    cfg.MaxMsgSize = config.max_message_bytes;
    cfg.Storage = config.memory_storage ? js_MemoryStorage : js_FileStorage;
    cfg.Duplicates = config.duplicate_window.count() * kNanosPerMilli;
    cfg.AllowDirect = true;
    jsStreamInfo* info = nullptr;
    jsErrCode js_error = static_cast<jsErrCode>(0);
    natsStatus s = js_AddStream(&info, shared_->js, &cfg, nullptr, &js_error);
    if (s != NATS_OK && js_error == JSStreamNameExistErr) {
      js_error = static_cast<jsErrCode>(0);
      s = js_UpdateStream(&info, shared_->js, &cfg, nullptr, &js_error);
    }
    if (s != NATS_OK) return FromNats(s, js_error, "creating stream " + config.name);
    StreamState state = ToState(info);
    jsStreamInfo_Destroy(info);
    return state;
  }

  absl::StatusOr<StreamState> GetStream(absl::string_view name) override {
    jsStreamInfo* info = nullptr;
    jsErrCode js_error = static_cast<jsErrCode>(0);
    const std::string n(name);
    natsStatus s = js_GetStreamInfo(&info, shared_->js, n.c_str(), nullptr, &js_error);
    if (s != NATS_OK) return FromNats(s, js_error, "stream info of " + n);
    StreamState state = ToState(info);
    jsStreamInfo_Destroy(info);
    return state;
  }

  absl::Status DeleteStream(absl::string_view name) override {
    jsErrCode js_error = static_cast<jsErrCode>(0);
    const std::string n(name);
    return FromNats(js_DeleteStream(shared_->js, n.c_str(), nullptr, &js_error), js_error,
                    "deleting stream " + n);
  }

  absl::Status PurgeSubject(absl::string_view stream, absl::string_view subject) override {
    jsOptions options;
    jsOptions_Init(&options);
    const std::string n(stream), subj(subject);
    options.Stream.Purge.Subject = subj.c_str();
    jsErrCode js_error = static_cast<jsErrCode>(0);
    return FromNats(js_PurgeStream(shared_->js, n.c_str(), &options, &js_error), js_error,
                    "purging " + subj + " from " + n);
  }

  absl::StatusOr<PubAck> Publish(absl::string_view subject, absl::string_view data,
                                 const PublishOptions& options) override {
    if (static_cast<int64_t>(data.size()) > max_payload()) {
      return absl::ResourceExhaustedError(absl::StrCat("a message of ", data.size(),
                                                       " bytes exceeds the NATS servers' ",
                                                       "max_payload of ", max_payload(), " bytes"));
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    if (!options.message_id.empty()) po.MsgId = options.message_id.c_str();
    po.ExpectLastSubjectSeq = options.expect_last_subject_sequence;
    if (options.timeout.count() > 0) po.MaxWait = options.timeout.count();
    jsPubAck* ack = nullptr;
    jsErrCode js_error = static_cast<jsErrCode>(0);
    const std::string subj(subject);
    natsStatus s = js_Publish(&ack, shared_->js, subj.c_str(), data.data(),
                              static_cast<int>(data.size()), &po, &js_error);
    if (s != NATS_OK) return FromNats(s, js_error, "publishing to " + subj);
    PubAck out;
    out.stream = ack->Stream == nullptr ? "" : ack->Stream;
    out.sequence = ack->Sequence;
    out.duplicate = ack->Duplicate;
    jsPubAck_Destroy(ack);
    return out;
  }

  absl::StatusOr<Message> GetMessage(absl::string_view stream, uint64_t sequence) override {
    natsMsg* msg = nullptr;
    jsErrCode js_error = static_cast<jsErrCode>(0);
    const std::string n(stream);
    natsStatus s = js_GetMsg(&msg, shared_->js, n.c_str(), sequence, nullptr, &js_error);
    if (s != NATS_OK) {
      return FromNats(s, js_error, absl::StrCat("reading message ", sequence, " of ", n));
    }
    Message out = FromNatsMsg(msg);
    natsMsg_Destroy(msg);
    return out;
  }

  absl::StatusOr<std::optional<Message>> NextMessage(absl::string_view stream,
                                                     absl::string_view subject,
                                                     uint64_t sequence) override {
    const std::string subj(subject);
    const std::string what = absl::StrCat("reading ", subj, " from ", sequence);
    const std::string api = absl::StrCat("$JS.API.STREAM.MSG.GET.", stream);
    const std::string body = absl::StrCat("{\"seq\":", std::max<uint64_t>(sequence, 1),
                                          ",\"next_by_subj\":\"", subj, "\"}");
    natsMsg* reply = nullptr;
    natsStatus s =
        natsConnection_Request(&reply, shared_->nc, api.c_str(), body.data(),
                               static_cast<int>(body.size()), shared_->request_timeout_ms);
    if (s != NATS_OK) return FromNats(s, what);
    const std::string json(natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
    natsMsg_Destroy(reply);
    if (const size_t error = json.find("\"error\":"); error != std::string::npos) {
      if (JsonField(json, "code", error) == "404") return std::nullopt;
      return absl::UnavailableError(
          absl::StrCat(what, ": ", JsonField(json, "description", error).value_or(json)));
    }
    const size_t message = json.find("\"message\":");
    Message out;
    auto seq = JsonField(json, "seq", message);
    if (message == std::string::npos || !seq.has_value() ||
        !absl::SimpleAtoi(*seq, &out.stream_sequence)) {
      return absl::UnavailableError(absl::StrCat(what, ": unexpected reply ", json));
    }
    out.subject = JsonField(json, "subject", message).value_or("");
    if (auto data = JsonField(json, "data", message);
        data.has_value() && !absl::Base64Unescape(*data, &out.data)) {
      return absl::DataLossError(absl::StrCat(what, ": message data is not base64"));
    }
    return out;
  }

  absl::StatusOr<std::unique_ptr<PullConsumer>> CreatePullConsumer(
      absl::string_view stream, absl::string_view durable, absl::string_view subject,
      uint64_t start_sequence) override {
    const std::string n(stream), name(durable);
    if (absl::Status s = DeleteConsumer(n, name);
        !s.ok() && s.code() != absl::StatusCode::kNotFound) {
      return s;
    }
    ConsumerSpec spec;
    spec.durable = name;
    spec.subject = std::string(subject);
    if (start_sequence > 1) {
      spec.deliver = js_DeliverByStartSequence;
      spec.start_sequence = start_sequence;
    }
    auto consumer = NewConsumer(shared_, n, spec, nullptr);
    if (!consumer.ok()) return consumer.status();
    return std::unique_ptr<PullConsumer>(std::move(*consumer));
  }

  absl::Status DeleteConsumer(absl::string_view stream, absl::string_view durable) override {
    const std::string n(stream), name(durable);
    jsErrCode js_error = static_cast<jsErrCode>(0);
    return FromNats(js_DeleteConsumer(shared_->js, n.c_str(), name.c_str(), nullptr, &js_error),
                    js_error, "deleting consumer " + name + " of " + n);
  }

  absl::StatusOr<std::unique_ptr<KeyValue>> EnsureKeyValue(const KvConfig& config) override {
    kvStore* kv = nullptr;
    natsStatus s = js_KeyValue(&kv, shared_->js, config.bucket.c_str());
    if (s == NATS_NOT_FOUND) {
      kvConfig cfg;
      kvConfig_Init(&cfg);
      cfg.Bucket = config.bucket.c_str();
      cfg.Replicas = config.replicas;
      cfg.History = static_cast<uint8_t>(config.history);
      cfg.TTL = config.ttl.count() * kNanosPerMilli;  // libnats 3.4 takes nanoseconds.
      cfg.MaxValueSize = config.max_value_bytes;
      cfg.StorageType = config.memory_storage ? js_MemoryStorage : js_FileStorage;
      s = js_CreateKeyValue(&kv, shared_->js, &cfg);
      if (s != NATS_OK) {
        const absl::Status created = FromNats(s, "creating bucket " + config.bucket);
        // Another client created it meanwhile (with another configuration): open theirs.
        s = js_KeyValue(&kv, shared_->js, config.bucket.c_str());
        // Neither: creation failed, typically while a new JetStream cluster is still forming.
        // Transient, so that callers retry; the message says why it failed.
        if (s == NATS_NOT_FOUND) return absl::UnavailableError(created.message());
      }
    }
    if (s != NATS_OK) return FromNats(s, "opening bucket " + config.bucket);
    // libnats creates buckets that allow direct gets, and then reads entries through them: any
    // replica answers, including one that has not yet applied an acknowledged put (a model
    // published a moment ago read as missing) or is still catching up after a restart. Reads
    // must see every acknowledged write, so the bucket's stream is switched to leader reads and
    // the bucket reopened (libnats decides at opening).
    const std::string stream = "KV_" + config.bucket;
    jsStreamInfo* info = nullptr;
    jsErrCode js_error = static_cast<jsErrCode>(0);
    s = js_GetStreamInfo(&info, shared_->js, stream.c_str(), nullptr, &js_error);
    if (s == NATS_OK && info->Config != nullptr && info->Config->AllowDirect) {
      info->Config->AllowDirect = false;
      jsStreamInfo* updated = nullptr;
      s = js_UpdateStream(&updated, shared_->js, info->Config, nullptr, &js_error);
      if (updated != nullptr) jsStreamInfo_Destroy(updated);
      if (s == NATS_OK) {
        kvStore_Destroy(kv);
        kv = nullptr;
        s = js_KeyValue(&kv, shared_->js, config.bucket.c_str());
      }
    }
    if (info != nullptr) jsStreamInfo_Destroy(info);
    if (s != NATS_OK) {
      if (kv != nullptr) kvStore_Destroy(kv);
      // A bucket created a moment ago (here or by another node) may not take an update yet:
      // transient, so that callers retry.
      return absl::UnavailableError(
          FromNats(s, js_error, "switching bucket " + config.bucket + " to leader reads")
              .message());
    }
    return std::unique_ptr<KeyValue>(new KeyValueImpl(shared_, kv, config.bucket));
  }

 private:
  static StreamState ToState(const jsStreamInfo* info) {
    StreamState state;
    state.messages = info->State.Msgs;
    state.bytes = info->State.Bytes;
    state.first_sequence = info->State.FirstSeq;
    state.last_sequence = info->State.LastSeq;
    state.replicas = info->Config != nullptr ? static_cast<int>(info->Config->Replicas) : 0;
    return state;
  }

  std::shared_ptr<Shared> shared_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> Connection::Connect(const ConnectOptions& options) {
  if (options.servers.empty()) return absl::InvalidArgumentError("no NATS server given");
  for (const std::string& url : options.servers) {
    if (url.rfind("nats://", 0) != 0 && url.rfind("tls://", 0) != 0) {
      return absl::InvalidArgumentError("NATS server '" + url +
                                        "' must be a nats://HOST:PORT or tls://HOST:PORT URL");
    }
  }
  const std::string servers = absl::StrJoin(options.servers, ",");
  natsOptions* opts = nullptr;
  if (natsStatus s = natsOptions_Create(&opts); s != NATS_OK) {
    return FromNats(s, "creating NATS options");
  }
  std::vector<const char*> urls;
  for (const auto& url : options.servers) urls.push_back(url.c_str());
  natsStatus s = natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK && !options.name.empty()) s = natsOptions_SetName(opts, options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, options.connect_timeout.count());
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, options.reconnect_wait.count());
  // While disconnected, requests (publish acknowledgements, KV operations) fail at once instead
  // of waiting out their timeout.
  if (s == NATS_OK) s = natsOptions_SetFailRequestsOnDisconnect(opts, true);
  if (s == NATS_OK && !options.user.empty()) {
    s = natsOptions_SetUserInfo(opts, options.user.c_str(), options.password.c_str());
  }
  if (s == NATS_OK && !options.token.empty()) s = natsOptions_SetToken(opts, options.token.c_str());
  if (s != NATS_OK) {
    natsOptions_Destroy(opts);
    return FromNats(s, "setting NATS options");
  }
  auto shared = std::make_shared<Shared>();
  shared->request_timeout_ms = options.request_timeout.count();
  s = natsConnection_Connect(&shared->nc, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    shared->nc = nullptr;
    absl::Status status = FromNats(s, "cannot connect to NATS at " + servers);
    return absl::UnavailableError(status.message());
  }
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = options.request_timeout.count();
  s = natsConnection_JetStream(&shared->js, shared->nc, &js_options);
  if (s != NATS_OK) return FromNats(s, "creating a JetStream context");
  // JetStream must answer: a NATS server without it (or a cluster without a quorum) would
  // accept the connection and fail every later request.
  jsAccountInfo* account = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  s = js_GetAccountInfo(&account, shared->js, nullptr, &js_error);
  if (s != NATS_OK) {
    absl::Status status = FromNats(s, js_error, "JetStream at " + servers);
    return absl::UnavailableError(
        absl::StrCat(status.message(),
                     ": is JetStream enabled (jetstream {} in the server "
                     "configuration) and does the cluster have a quorum?"));
  }
  jsAccountInfo_Destroy(account);
  return std::unique_ptr<Connection>(new ConnectionImpl(std::move(shared)));
}

}  // namespace bn::nats
