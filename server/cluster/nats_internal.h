// Internal to the NATS client (nats_client.cc, nats_consumer.cc, nats_kv.cc): the state a
// Connection shares with what it hands out, libnats status conversion, and the factories of the
// pull consumers and key-value buckets. Not for use outside server/cluster/nats_*.cc.
#ifndef BOTTLENECK_SERVER_CLUSTER_NATS_INTERNAL_H_
#define BOTTLENECK_SERVER_CLUSTER_NATS_INTERNAL_H_

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/cluster/nats_client.h"

namespace bn::nats::internal {

constexpr int64_t kNanosPerMilli = 1000000;

// libnats' own description of the last error on this thread (it keeps one per thread).
std::string LastErrorText();
// OK for NATS_OK; otherwise a status naming `what` with libnats' text and the JetStream error.
absl::Status FromNats(natsStatus s, jsErrCode js_error, absl::string_view what);
absl::Status FromNats(natsStatus s, absl::string_view what);

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
                                     size_t from = 0);

// A received message with its headers and JetStream metadata.
Message FromNatsMsg(natsMsg* msg);

// How a consumer starts.
struct ConsumerSpec {
  std::string durable;  // Empty: ephemeral (removed by the server after inactive_threshold).
  std::string subject;
  jsDeliverPolicy deliver = js_DeliverAll;
  uint64_t start_sequence = 0;  // With js_DeliverByStartSequence.
  std::chrono::milliseconds inactive_threshold{30000};
};

// Creates a pull consumer of `stream` and the inbox subscription it delivers to; sets
// *initial_pending (if given) to the consumer's pending count.
absl::StatusOr<std::unique_ptr<PullConsumer>> NewConsumer(const std::shared_ptr<Shared>& shared,
                                                          const std::string& stream,
                                                          const ConsumerSpec& spec,
                                                          uint64_t* initial_pending);

// The KeyValue of an opened bucket; takes ownership of `kv`.
std::unique_ptr<KeyValue> NewKeyValue(std::shared_ptr<Shared> shared, kvStore* kv,
                                      std::string bucket);

}  // namespace bn::nats::internal

#endif  // BOTTLENECK_SERVER_CLUSTER_NATS_INTERNAL_H_
