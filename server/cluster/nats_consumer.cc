#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/cluster/nats_internal.h"

namespace bn::nats::internal {

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

std::optional<std::string> JsonField(absl::string_view json, absl::string_view key, size_t from) {
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

namespace {

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
      if (request_open_ && now >= request_deadline_) {
        // Neither messages nor the server's end of the request by its deadline: it was lost
        // (with a failed server, or sent to a consumer that no longer exists). Counted here as
        // well as below: a Fetch that ends before the deadline leaves it to the next one.
        ++lost_requests_;
        request_open_ = false;
      }
      if (lost_requests_ >= kLostRequestsLimit && out.empty()) return ConsumerSilent();
      if (!request_open_) {
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
          if (lost_requests_ >= kLostRequestsLimit) return ConsumerSilent();
        }
        continue;
      }
      if (s != NATS_OK) return FromNats(s, "fetching from consumer " + name_);
      const char* status = nullptr;
      if (natsMsgGetStatus(msg, &status)) {
        // A status ends the request it answers (404 no messages, 408 expired, 409 leadership
        // change or consumer deleted); one of an earlier request means nothing now (and does not
        // show that the consumer still answers).
        const bool current = current_reply_ == natsMsg_GetSubject(msg);
        if (current) lost_requests_ = 0;
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
      lost_requests_ = 0;
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

 private:
  // Pull requests in a row that end with no answer at all before Fetch gives the consumer up.
  static constexpr int kLostRequestsLimit = 2;

  absl::Status ConsumerSilent() const {
    return absl::UnavailableError(absl::StrCat("consumer ", name_, " of ", stream_,
                                               " answered none of its last ", lost_requests_,
                                               " pull requests (deleted, or lost with a NATS "
                                               "server): create it again"));
  }

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
  int lost_requests_ = 0;  // Requests in a row that ended with no answer at all.
  std::chrono::steady_clock::time_point request_deadline_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PullConsumer>> NewConsumer(const std::shared_ptr<Shared>& shared,
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

}  // namespace bn::nats::internal
