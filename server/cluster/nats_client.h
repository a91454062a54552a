// A small C++ layer over the NATS C client (Debian's libnats 3.4) with what cluster mode needs
// from NATS JetStream: a connection to a NATS cluster, streams, publishing with the stream's
// acknowledgement, reading stored messages by sequence, durable pull consumers, and key-value
// buckets with watches. Nothing here knows about Bottleneck.
//
// Ownership: a Connection owns the libnats connection and JetStream context. PullConsumer,
// KeyValue and KvWatcher keep that state alive through a shared reference, so they may outlive
// the Connection object (they then fail with UNAVAILABLE once it is closed).
//
// Thread safety: Connection and KeyValue may be used from any number of threads at once.
// A PullConsumer or KvWatcher is used by one thread at a time (its owner's); Stop() on a
// KvWatcher may come from another thread and wakes a blocked Next().
//
// Errors (absl::Status), mapped from libnats' status and JetStream's error codes, with libnats'
// text in the message:
//   UNAVAILABLE        no server reachable, connection closed, no JetStream quorum or responder
//   DEADLINE_EXCEEDED  a request got no answer in time (Fetch with nothing to deliver returns an
//                      empty list instead)
//   NOT_FOUND          stream, consumer, bucket, key or message not found
//   ALREADY_EXISTS     KeyValue::Create of a key that has a value
//   FAILED_PRECONDITION KeyValue::Update with a stale revision; Publish whose expectation failed
//   INVALID_ARGUMENT   a malformed name, subject or option; RESOURCE_EXHAUSTED a message larger
//                      than the server's max_payload
//   INTERNAL           anything else
#ifndef BOTTLENECK_SERVER_CLUSTER_NATS_CLIENT_H_
#define BOTTLENECK_SERVER_CLUSTER_NATS_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bn::nats {

struct ConnectOptions {
  // "nats://host:port" URLs of the cluster's servers (any subset; the rest are discovered).
  std::vector<std::string> servers;
  std::string name;  // Client name shown by the server's monitoring.
  // How long the first connection may take before Connect fails.
  std::chrono::milliseconds connect_timeout{2000};
  // After a disconnection, retry every reconnect_wait, forever (the cluster is the source of
  // truth: a node without it cannot do anything useful).
  std::chrono::milliseconds reconnect_wait{250};
  // Default wait for JetStream API requests (publish acknowledgements, KV operations).
  std::chrono::milliseconds request_timeout{5000};
  // Optional credentials: user + password, or a token.
  std::string user;
  std::string password;
  std::string token;
};

// A message read from a stream (by sequence, or from a consumer).
struct Message {
  std::string subject;
  std::string data;
  uint64_t stream_sequence = 0;
  uint64_t consumer_sequence = 0;  // From a consumer only: its delivery number (1, 2, ...).
  uint64_t num_pending = 0;        // From a consumer only: messages left after this one.
  int64_t timestamp_ns = 0;        // When the stream stored it (Unix epoch).
  std::string reply;               // From a consumer only: where its acknowledgement goes.
  std::vector<std::pair<std::string, std::string>> headers;
};

struct StreamConfig {
  std::string name;                   // [A-Za-z0-9_-], no dots.
  std::vector<std::string> subjects;  // e.g. "bn.items.coll.>"
  int replicas = 1;                   // 1..5; 3 survives the loss of any one server.
  int64_t max_bytes = -1;             // -1: unlimited.
  int32_t max_message_bytes = -1;     // -1: the server's max_payload.
  bool memory_storage = false;        // Default: file storage.
  // Window within which a repeated message id is dropped as a duplicate.
  std::chrono::milliseconds duplicate_window{120000};
};

struct StreamState {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  int replicas = 0;
};

struct PublishOptions {
  // Sets Nats-Msg-Id: a message with an id the stream stored within its duplicate window is
  // acknowledged (PubAck::duplicate) without being stored again, so retries are idempotent.
  std::string message_id;
  // Non-zero: the stream stores the message only if the last message on its subject has this
  // sequence (FAILED_PRECONDITION otherwise).
  uint64_t expect_last_subject_sequence = 0;
  std::chrono::milliseconds timeout{0};  // 0: the connection's request_timeout.
};

struct PubAck {
  std::string stream;
  uint64_t sequence = 0;
  bool duplicate = false;
};

// A durable pull consumer of one subject of a stream, created at a start sequence, with
// cumulative acknowledgements (acknowledging a message acknowledges every earlier one).
class PullConsumer {
 public:
  virtual ~PullConsumer() = default;
  // Up to `max_messages` messages (at most `max_bytes` bytes when > 0) in stream order, waiting
  // up to `timeout` for the first; an empty list when none arrived in time. UNAVAILABLE while
  // the connection is down, and when the consumer answered none of its last 2 pull requests
  // (each expires after max(timeout, 1 s) + 0.5 s: deleted, or lost with a NATS server), after
  // which it must be created again; NOT_FOUND when the server says it was deleted.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Message>> Fetch(
      int max_messages, std::chrono::milliseconds timeout, int64_t max_bytes = 0) = 0;
  // Acknowledges `message` and every earlier one of this consumer (fire and forget).
  [[nodiscard]] virtual absl::Status AckUpTo(const Message& message) = 0;
  // Pending messages not yet delivered, as the server reports them.
  [[nodiscard]] virtual absl::StatusOr<uint64_t> NumPending() = 0;
  virtual const std::string& name() const = 0;
};

struct KvEntry {
  enum class Op { kPut, kDelete, kPurge };
  std::string key;
  std::string value;
  uint64_t revision = 0;  // The bucket stream's sequence of this entry.
  Op op = Op::kPut;
  int64_t created_ns = 0;
};

struct KvConfig {
  std::string bucket;  // [A-Za-z0-9_-]
  int replicas = 1;
  int history = 1;  // Values kept per key, 1..64.
  // Entries older than this disappear (0: never). Heartbeats use it as their lease.
  std::chrono::milliseconds ttl{0};
  int32_t max_value_bytes = -1;
  bool memory_storage = false;
};

// Receives the changes of a bucket (or of keys matching a pattern), from the current values on.
// It survives the loss of a NATS server: it notices a lost delivery or a consumer that stopped
// answering and continues after the last revision it returned. Entries that expire (a bucket's
// ttl) produce no change: a watcher of leases must judge their age itself.
class KvWatcher {
 public:
  virtual ~KvWatcher() = default;
  // The next entry; nullopt after `timeout` without one. The first entries are the current
  // values; after them Next() returns one entry with an empty key and revision 0 (the marker
  // "initial values done"), then live changes. CANCELLED after Stop().
  [[nodiscard]] virtual absl::StatusOr<std::optional<KvEntry>> Next(
      std::chrono::milliseconds timeout) = 0;
  virtual void Stop() = 0;
};

class KeyValue {
 public:
  virtual ~KeyValue() = default;
  // nullopt when the key has no value (never set, deleted or purged).
  [[nodiscard]] virtual absl::StatusOr<std::optional<KvEntry>> Get(absl::string_view key) = 0;
  // Returns the new revision.
  [[nodiscard]] virtual absl::StatusOr<uint64_t> Put(absl::string_view key,
                                                     absl::string_view value) = 0;
  // Only if the key has no value: ALREADY_EXISTS otherwise.
  [[nodiscard]] virtual absl::StatusOr<uint64_t> Create(absl::string_view key,
                                                        absl::string_view value) = 0;
  // Only if the key's current revision is `revision`: FAILED_PRECONDITION otherwise.
  [[nodiscard]] virtual absl::StatusOr<uint64_t> Update(absl::string_view key,
                                                        absl::string_view value,
                                                        uint64_t revision) = 0;
  [[nodiscard]] virtual absl::Status Delete(absl::string_view key) = 0;
  // Removes the key's history too.
  [[nodiscard]] virtual absl::Status Purge(absl::string_view key) = 0;
  // Keys with a value (not deleted), in no particular order.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> Keys() = 0;
  // `pattern` is a NATS subject pattern over keys ("a.*", "a.>", or ">" for every key).
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<KvWatcher>> Watch(
      absl::string_view pattern) = 0;
  virtual const std::string& bucket() const = 0;
};

class Connection {
 public:
  // Connects to any of options.servers and checks that JetStream answers. UNAVAILABLE naming
  // the servers when none can be reached within connect_timeout, or when JetStream is not
  // enabled; INVALID_ARGUMENT for a malformed URL.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Connection>> Connect(
      const ConnectOptions& options);
  virtual ~Connection() = default;

  virtual bool connected() const = 0;
  // The server currently connected to ("" while disconnected).
  virtual std::string connected_url() const = 0;
  // The largest message the servers accept (their max_payload).
  virtual int64_t max_payload() const = 0;

  // --- Streams ---
  // Creates the stream, or updates it to `config` when it exists (replicas and subjects can
  // change; storage cannot).
  [[nodiscard]] virtual absl::StatusOr<StreamState> EnsureStream(const StreamConfig& config) = 0;
  [[nodiscard]] virtual absl::StatusOr<StreamState> GetStream(absl::string_view name) = 0;
  // The subjects of the stream's messages that match `filter`, with their message counts.
  [[nodiscard]] virtual absl::StatusOr<std::map<std::string, uint64_t>> StreamSubjects(
      absl::string_view stream, absl::string_view filter) = 0;
  [[nodiscard]] virtual absl::Status DeleteStream(absl::string_view name) = 0;
  // Removes every message of `subject` from the stream.
  [[nodiscard]] virtual absl::Status PurgeSubject(absl::string_view stream,
                                                  absl::string_view subject) = 0;
  // Removes the message stored at `sequence` (NOT_FOUND when there is none). Unlike a purge, a
  // restarted nats-server 2.9 replays it exactly (docs/notes/cluster-log-trimming.md).
  [[nodiscard]] virtual absl::Status DeleteMessage(absl::string_view stream, uint64_t sequence) = 0;
  // Deletes the messages stored at sequences [from, to) as DeleteMessage does, with up to
  // `window` requests in flight; sequences without a message are skipped. Sets `*deleted` to the
  // messages removed and `*done_below` to the sequence below which every one is handled (`to`
  // when all are). Stops at the first other error (or a request unanswered within the request
  // timeout) and returns it; the caller resumes from `*done_below`.
  [[nodiscard]] virtual absl::Status DeleteMessages(absl::string_view stream, uint64_t from,
                                                    uint64_t to, int window, uint64_t* deleted,
                                                    uint64_t* done_below) = 0;
  // Removes the messages of `subject` ("": of every subject) stored before `sequence` (a trim;
  // later ones stay). Unsafe on nats-server 2.9.10: a restarted server may replay it as a
  // compaction of the whole stream (nats-io/nats-server#4196).
  [[nodiscard]] virtual absl::Status PurgeSubjectBelow(absl::string_view stream,
                                                       absl::string_view subject,
                                                       uint64_t sequence) = 0;

  // Publishes to the stream that holds `subject` and waits for its acknowledgement (stored on a
  // quorum of its replicas).
  [[nodiscard]] virtual absl::StatusOr<PubAck> Publish(absl::string_view subject,
                                                       absl::string_view data,
                                                       const PublishOptions& options = {}) = 0;
  // The message stored at `sequence` (NOT_FOUND when deleted or out of range).
  [[nodiscard]] virtual absl::StatusOr<Message> GetMessage(absl::string_view stream,
                                                           uint64_t sequence) = 0;
  // The first message of `subject` at or after `sequence`; nullopt when there is none. Answered
  // by the stream's leader (not a direct get, which any replica may answer, including one that
  // is still catching up after a restart and would report a stored message as missing).
  // Headers are not returned.
  // The last message of `subject` (with its timestamp), read from the stream's leader; nullopt
  // when the subject has none.
  [[nodiscard]] virtual absl::StatusOr<std::optional<Message>> LastMessage(
      absl::string_view stream, absl::string_view subject) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::optional<Message>> NextMessage(
      absl::string_view stream, absl::string_view subject, uint64_t sequence) = 0;

  // --- Consumers ---
  // (Re)creates the durable pull consumer `durable` of `stream` for `subject`, delivering from
  // stream sequence `start_sequence` (an existing consumer of that name is deleted first).
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<PullConsumer>> CreatePullConsumer(
      absl::string_view stream, absl::string_view durable, absl::string_view subject,
      uint64_t start_sequence) = 0;
  [[nodiscard]] virtual absl::Status DeleteConsumer(absl::string_view stream,
                                                    absl::string_view durable) = 0;

  // --- Key-value buckets ---
  // Opens the bucket, creating it with `config` if it does not exist (an existing bucket keeps
  // its configuration).
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<KeyValue>> EnsureKeyValue(
      const KvConfig& config) = 0;
};

}  // namespace bn::nats

#endif  // BOTTLENECK_SERVER_CLUSTER_NATS_CLIENT_H_
