#include "server/cluster/nats_client.h"

#include <nats/nats.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "server/cluster/nats_internal.h"

namespace bn::nats {
namespace {

using internal::ConsumerSpec;
using internal::FromNats;
using internal::FromNatsMsg;
using internal::JsonField;
using internal::kNanosPerMilli;
using internal::NewConsumer;
using internal::Shared;

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

  absl::Status DeleteMessage(absl::string_view stream, uint64_t sequence) override {
    jsErrCode js_error = static_cast<jsErrCode>(0);
    const std::string n(stream);
    absl::Status s = FromNats(js_DeleteMsg(shared_->js, n.c_str(), sequence, nullptr, &js_error),
                              js_error, absl::StrCat("deleting message ", sequence, " of ", n));
    // libnats 3.4 with nats-server 2.9.10 reports a missing message as a plain error with no
    // JetStream error code: "sequence N not found", "no message found" (deleted) or "stream
    // store EOF" (past the last sequence).
    const bool missing = absl::StrContains(s.message(), "not found") ||
                         absl::StrContains(s.message(), "no message found") ||
                         absl::StrContains(s.message(), "stream store EOF");
    if (js_error == JSNoMessageFoundErr || (s.code() == absl::StatusCode::kInternal && missing)) {
      return absl::NotFoundError(s.message());
    }
    return s;
  }

  absl::Status DeleteMessages(absl::string_view stream, uint64_t from, uint64_t to, int window,
                              uint64_t* deleted, uint64_t* done_below) override {
    *deleted = 0;
    *done_below = from;
    if (from >= to) {
      *done_below = to;
      return absl::OkStatus();
    }
    const std::string api = absl::StrCat("$JS.API.STREAM.MSG.DELETE.", stream);
    natsInbox* inbox = nullptr;
    if (natsStatus is = natsInbox_Create(&inbox); is != NATS_OK) {
      return FromNats(is, "creating an inbox");
    }
    const std::string prefix = absl::StrCat(inbox, ".");
    natsInbox_Destroy(inbox);
    natsSubscription* sub = nullptr;
    natsStatus ns = natsConnection_SubscribeSync(&sub, shared_->nc, (prefix + "*").c_str());
    if (ns == NATS_OK) ns = natsSubscription_SetPendingLimits(sub, -1, -1);
    if (ns != NATS_OK) {
      if (sub != nullptr) natsSubscription_Destroy(sub);
      return FromNats(ns, "subscribing for message deletes");
    }
    std::set<uint64_t> open;  // Sent, not answered.
    uint64_t next = from;
    uint64_t failed_at = to;
    absl::Status status = absl::OkStatus();
    while ((status.ok() && next < to) || !open.empty()) {
      while (status.ok() && next < to && open.size() < static_cast<size_t>(std::max(1, window))) {
        const std::string body = absl::StrCat("{\"seq\":", next, ",\"no_erase\":true}");
        const std::string reply = absl::StrCat(prefix, next);
        ns = natsConnection_PublishRequest(shared_->nc, api.c_str(), reply.c_str(), body.data(),
                                           static_cast<int>(body.size()));
        if (ns != NATS_OK) {
          status = FromNats(ns, absl::StrCat("deleting message ", next, " of ", stream));
          break;
        }
        open.insert(next++);
      }
      if (open.empty()) break;
      natsMsg* msg = nullptr;
      ns = natsSubscription_NextMsg(&msg, sub, shared_->request_timeout_ms);
      if (ns != NATS_OK) {
        if (status.ok()) {
          status = ns == NATS_TIMEOUT
                       ? absl::UnavailableError(absl::StrCat("no answer to deleting message ",
                                                             *open.begin(), " of ", stream))
                       : FromNats(ns, absl::StrCat("deleting messages of ", stream));
        }
        failed_at = std::min(failed_at, *open.begin());
        break;
      }
      const std::string subject = natsMsg_GetSubject(msg);
      const std::string json(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
      natsMsg_Destroy(msg);
      uint64_t sequence = 0;
      if (!absl::SimpleAtoi(absl::string_view(subject).substr(prefix.size()), &sequence) ||
          open.erase(sequence) == 0) {
        continue;  // Not one of this call's (cannot happen: the inbox is new).
      }
      if (absl::StrContains(json, "\"success\":true")) {
        ++*deleted;
        continue;
      }
      // A missing message, as DeleteMessage reads it (nats-server 2.9.10 answers "no message
      // found", "sequence N not found" or "stream store EOF").
      const auto code = JsonField(json, "err_code");
      const std::string description = JsonField(json, "description").value_or(json);
      if (code == std::optional<std::string>("10037") ||
          absl::StrContains(description, "no message found") ||
          absl::StrContains(description, "stream store EOF") ||
          (absl::StartsWith(description, "sequence ") &&
           absl::StrContains(description, "not found"))) {
        continue;
      }
      failed_at = std::min(failed_at, sequence);
      if (status.ok()) {
        status = absl::UnavailableError(
            absl::StrCat("deleting message ", sequence, " of ", stream, ": ", description));
      }
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    *done_below = std::min({failed_at, next, open.empty() ? to : *open.begin()});
    return status;
  }

  absl::Status PurgeSubjectBelow(absl::string_view stream, absl::string_view subject,
                                 uint64_t sequence) override {
    jsOptions options;
    jsOptions_Init(&options);
    const std::string n(stream), subj(subject);
    if (!subj.empty()) options.Stream.Purge.Subject = subj.c_str();
    options.Stream.Purge.Sequence = sequence;
    jsErrCode js_error = static_cast<jsErrCode>(0);
    return FromNats(js_PurgeStream(shared_->js, n.c_str(), &options, &js_error), js_error,
                    absl::StrCat("trimming ", subj, " below ", sequence, " in ", n));
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
    return MessageGet(stream,
                      absl::StrCat("{\"seq\":", std::max<uint64_t>(sequence, 1),
                                   ",\"next_by_subj\":\"", subj, "\"}"),
                      absl::StrCat("reading ", subj, " from ", sequence));
  }

  absl::StatusOr<std::optional<Message>> LastMessage(absl::string_view stream,
                                                     absl::string_view subject) override {
    const std::string subj(subject);
    return MessageGet(stream, absl::StrCat("{\"last_by_subj\":\"", subj, "\"}"),
                      absl::StrCat("reading the last message of ", subj));
  }

  absl::StatusOr<std::map<std::string, uint64_t>> StreamSubjects(
      absl::string_view stream, absl::string_view filter) override {
    jsOptions options;
    jsOptions_Init(&options);
    const std::string n(stream), f(filter);
    options.Stream.Info.SubjectsFilter = f.c_str();
    jsStreamInfo* info = nullptr;
    jsErrCode js_error = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&info, shared_->js, n.c_str(), &options, &js_error);
    if (s != NATS_OK) return FromNats(s, js_error, "subjects of stream " + n);
    std::map<std::string, uint64_t> out;
    if (info->State.Subjects != nullptr) {
      for (int i = 0; i < info->State.Subjects->Count; ++i) {
        const jsStreamStateSubject& subject = info->State.Subjects->List[i];
        out[subject.Subject] = subject.Msgs;
      }
    }
    jsStreamInfo_Destroy(info);
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
    return internal::NewKeyValue(shared_, kv, config.bucket);
  }

 private:
  // $JS.API.STREAM.MSG.GET with `body` (a leader read, unlike a direct get): nullopt on 404.
  absl::StatusOr<std::optional<Message>> MessageGet(absl::string_view stream,
                                                    const std::string& body,
                                                    const std::string& what) {
    const std::string api = absl::StrCat("$JS.API.STREAM.MSG.GET.", stream);
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
    absl::Time time;
    std::string ignored;
    if (auto stamp = JsonField(json, "time", message);
        stamp.has_value() && absl::ParseTime(absl::RFC3339_full, *stamp, &time, &ignored)) {
      out.timestamp_ns = absl::ToUnixNanos(time);
    }
    return out;
  }

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