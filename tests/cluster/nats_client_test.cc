// The NATS wrapper (server/cluster/nats_client.h) against real nats-server processes: a
// standalone JetStream server for the operations, a 3-server cluster for replication and
// failover.
#include "server/cluster/nats_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "tests/cluster/nats_cluster.h"
#include "tests/util/temp_dir.h"

namespace bn::nats {
namespace {

using ::bn::testing::NatsCluster;
using ::bn::testing::TempDir;
using std::chrono::milliseconds;

std::unique_ptr<Connection> MustConnect(const std::vector<std::string>& servers) {
  ConnectOptions options;
  options.servers = servers;
  auto connection = Connection::Connect(options);
  EXPECT_TRUE(connection.ok()) << connection.status();
  return connection.ok() ? std::move(*connection) : nullptr;
}

// Fetches until `n` messages arrived (a fetch returns what has arrived so far), for up to 5 s.
std::vector<Message> FetchN(PullConsumer* consumer, size_t n) {
  std::vector<Message> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    auto batch = consumer->Fetch(static_cast<int>(n - out.size()), milliseconds(500));
    if (!batch.ok()) break;
    for (auto& m : *batch) out.push_back(std::move(m));
  }
  return out;
}

class NatsStandaloneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(nats_.Start(dir_.path(), 1, &error)) << error;
    connection_ = MustConnect({nats_.url(0)});
    ASSERT_NE(connection_, nullptr);
  }
  TempDir dir_;
  NatsCluster nats_;
  std::unique_ptr<Connection> connection_;
};

TEST(NatsConnectTest, UnreachableAddressFailsWithUnavailableNamingIt) {
  const int port = ::bn::testing::FreePort();
  ConnectOptions options;
  options.servers = {"nats://127.0.0.1:" + std::to_string(port)};
  options.connect_timeout = milliseconds(500);
  const auto start = std::chrono::steady_clock::now();
  auto connection = Connection::Connect(options);
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(connection.status().message().find(std::to_string(port)), std::string::npos)
      << connection.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(NatsConnectTest, MalformedUrlIsInvalidArgument) {
  ConnectOptions options;
  options.servers = {"127.0.0.1:4222"};
  auto connection = Connection::Connect(options);
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(NatsConnectTest, ServerThatIsNotNatsFailsWithUnavailable) {
  // A socket that accepts connections and never speaks (e.g. some other service's port).
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ConnectOptions options;
  options.servers = {"nats://127.0.0.1:" + std::to_string(ntohs(addr.sin_port))};
  options.connect_timeout = milliseconds(500);
  auto connection = Connection::Connect(options);
  close(fd);
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kUnavailable) << connection.status();
}

TEST(NatsConnectTest, ServerWithoutJetStreamFailsWithUnavailableNamingJetStream) {
  TempDir dir;
  NatsCluster nats;
  std::string error;
  ASSERT_TRUE(nats.Start(dir.path(), 1, &error, /*jetstream=*/false)) << error;
  ConnectOptions options;
  options.servers = {nats.url(0)};
  options.request_timeout = milliseconds(1000);
  auto connection = Connection::Connect(options);
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(connection.status().message().find("JetStream"), std::string::npos)
      << connection.status();
}

TEST_F(NatsStandaloneTest, PublishAcknowledgesWithIncreasingSequencesAndDeduplicatesById) {
  StreamConfig config;
  config.name = "S";
  config.subjects = {"s.>"};
  ASSERT_TRUE(connection_->EnsureStream(config).ok());
  ASSERT_TRUE(connection_->EnsureStream(config).ok()) << "EnsureStream is idempotent";
  uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    auto ack = connection_->Publish(i % 2 == 0 ? "s.a" : "s.b", "m" + std::to_string(i));
    ASSERT_TRUE(ack.ok()) << ack.status();
    EXPECT_EQ(ack->stream, "S");
    EXPECT_EQ(ack->sequence, last + 1);
    last = ack->sequence;
  }
  PublishOptions once;
  once.message_id = "id-1";
  auto first = connection_->Publish("s.a", "x", once);
  auto again = connection_->Publish("s.a", "x", once);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_FALSE(first->duplicate);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->sequence, first->sequence);
  auto state = connection_->GetStream("S");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->messages, 6u);
  EXPECT_EQ(state->last_sequence, 6u);

  auto message = connection_->GetMessage("S", 3);
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_EQ(message->subject, "s.a");
  EXPECT_EQ(message->data, "m2");
  EXPECT_EQ(message->stream_sequence, 3u);
  EXPECT_EQ(connection_->GetMessage("S", 99).status().code(), absl::StatusCode::kNotFound);

  auto next = connection_->NextMessage("S", "s.b", 3);
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ((*next)->stream_sequence, 4u);
  auto none = connection_->NextMessage("S", "s.b", 5);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  PublishOptions expect;
  expect.expect_last_subject_sequence = 1;  // s.a's last is 6 now.
  EXPECT_EQ(connection_->Publish("s.a", "y", expect).status().code(),
            absl::StatusCode::kFailedPrecondition);
  expect.expect_last_subject_sequence = 4;
  EXPECT_TRUE(connection_->Publish("s.b", "y", expect).ok());

  ASSERT_TRUE(connection_->PurgeSubject("S", "s.a").ok());
  state = connection_->GetStream("S");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->messages, 3u);  // s.b: 2, 4, 7.
  EXPECT_EQ(connection_->GetStream("nope").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(connection_->DeleteStream("S").ok());
  EXPECT_EQ(connection_->GetStream("S").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(NatsStandaloneTest, PurgeSubjectBelowRemovesOnlyThatSubjectsEarlierMessages) {
  StreamConfig config;
  config.name = "L";
  config.subjects = {"l.>"};
  ASSERT_TRUE(connection_->EnsureStream(config).ok());
  for (int i = 1; i <= 6; ++i) {  // l.0: 1, 3, 5; l.1: 2, 4, 6.
    ASSERT_TRUE(connection_->Publish("l." + std::to_string((i + 1) % 2), "m").ok());
  }
  ASSERT_TRUE(connection_->PurgeSubjectBelow("L", "l.0", 5).ok());
  auto state = connection_->GetStream("L");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->messages, 4u);
  EXPECT_EQ(state->first_sequence, 2u);
  auto next = connection_->NextMessage("L", "l.0", 1);
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->stream_sequence, 5u);
  next = connection_->NextMessage("L", "l.1", 1);
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->stream_sequence, 2u);
}

TEST_F(NatsStandaloneTest, DeleteMessageRemovesOneMessageAndThenIsNotFound) {
  StreamConfig config;
  config.name = "D";
  config.subjects = {"d.>"};
  ASSERT_TRUE(connection_->EnsureStream(config).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(connection_->Publish("d.x", "m").ok());
  ASSERT_TRUE(connection_->DeleteMessage("D", 2).ok());
  const absl::Status again = connection_->DeleteMessage("D", 2);
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound) << again;
  const absl::Status never = connection_->DeleteMessage("D", 99);
  EXPECT_EQ(never.code(), absl::StatusCode::kNotFound) << never;
  EXPECT_EQ(connection_->GetMessage("D", 2).status().code(), absl::StatusCode::kNotFound);
  auto next = connection_->NextMessage("D", "d.x", 2);
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->stream_sequence, 3u);
  auto state = connection_->GetStream("D");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->messages, 2u);
}

TEST_F(NatsStandaloneTest, DeleteMessagesRemovesARangeSkippingMissingOnes) {
  StreamConfig config;
  config.name = "DR";
  config.subjects = {"dr.>"};
  ASSERT_TRUE(connection_->EnsureStream(config).ok());
  for (int i = 1; i <= 300; ++i) {
    ASSERT_TRUE(connection_->Publish(i % 3 == 0 ? "dr.a" : "dr.b", std::to_string(i)).ok());
  }
  ASSERT_TRUE(connection_->DeleteMessage("DR", 50).ok());  // Already gone: skipped.
  uint64_t deleted = 0, done_below = 0;
  // [10, 250) with 16 requests in flight: 239 of its 240 sequences hold a message.
  absl::Status s = connection_->DeleteMessages("DR", 10, 250, 16, &deleted, &done_below);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(deleted, 239u);
  EXPECT_EQ(done_below, 250u);
  auto state = connection_->GetStream("DR");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->messages, 300u - 240u);
  EXPECT_EQ(connection_->GetMessage("DR", 9)->data, "9");
  EXPECT_EQ(connection_->GetMessage("DR", 250)->data, "250");
  EXPECT_EQ(connection_->GetMessage("DR", 100).status().code(), absl::StatusCode::kNotFound);
  // Past the end and an empty range: nothing to delete, not an error.
  s = connection_->DeleteMessages("DR", 290, 400, 8, &deleted, &done_below);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(deleted, 11u);
  EXPECT_EQ(done_below, 400u);
  s = connection_->DeleteMessages("DR", 5, 5, 8, &deleted, &done_below);
  EXPECT_TRUE(s.ok() && deleted == 0 && done_below == 5u) << s;
  // A stream that does not exist: an error, and nothing counted as handled.
  s = connection_->DeleteMessages("NOPE", 1, 10, 4, &deleted, &done_below);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(done_below, 1u);
}

TEST_F(NatsStandaloneTest, OversizedMessageIsResourceExhausted) {
  StreamConfig config;
  config.name = "BIG";
  config.subjects = {"big"};
  ASSERT_TRUE(connection_->EnsureStream(config).ok());
  EXPECT_EQ(connection_->max_payload(), 8 << 20);
  std::string data(connection_->max_payload() + 1, 'x');
  EXPECT_EQ(connection_->Publish("big", data).status().code(),
            absl::StatusCode::kResourceExhausted);
  data.resize(connection_->max_payload() - 1024);
  EXPECT_TRUE(connection_->Publish("big", data).ok());
}

TEST_F(NatsStandaloneTest, PullConsumerDeliversItsSubjectInOrderFromTheStartSequence) {
  StreamConfig config;
  config.name = "P";
  config.subjects = {"p.>"};
  ASSERT_TRUE(connection_->EnsureStream(config).ok());
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(connection_->Publish(i % 2 == 0 ? "p.even" : "p.odd", std::to_string(i)).ok());
  }
  auto consumer = connection_->CreatePullConsumer("P", "even", "p.even", 5);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  auto pending = (*consumer)->NumPending();
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(*pending, 8u);  // 6, 8, ..., 20.
  auto batch = FetchN(consumer->get(), 3);
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].data, "6");
  EXPECT_EQ(batch[0].stream_sequence, 6u);
  EXPECT_EQ(batch[0].consumer_sequence, 1u);
  EXPECT_EQ(batch[2].stream_sequence, 10u);
  EXPECT_EQ(batch[2].consumer_sequence, 3u);
  EXPECT_EQ(batch[2].num_pending, 5u);
  ASSERT_TRUE((*consumer)->AckUpTo(batch.back()).ok());
  auto rest = FetchN(consumer->get(), 5);
  ASSERT_EQ(rest.size(), 5u);
  EXPECT_EQ(rest.back().stream_sequence, 20u);
  EXPECT_EQ(rest.back().consumer_sequence, 8u);
  ASSERT_TRUE((*consumer)->AckUpTo(rest.back()).ok());
  // Nothing left: an empty list after the timeout, not an error.
  const auto start = std::chrono::steady_clock::now();
  auto empty = (*consumer)->Fetch(10, milliseconds(300));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(250));
  // A message published now arrives.
  std::thread publisher([&] {
    std::this_thread::sleep_for(milliseconds(100));
    EXPECT_TRUE(connection_->Publish("p.even", "22").ok());
  });
  const auto waited = std::chrono::steady_clock::now();
  auto live = (*consumer)->Fetch(10, milliseconds(3000));
  publisher.join();
  EXPECT_LT(std::chrono::steady_clock::now() - waited, milliseconds(1000))
      << "a fetch returns as soon as a message arrives, not when its batch is full";
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].data, "22");
  EXPECT_EQ((*live)[0].consumer_sequence, 9u);

  // Re-creating the durable consumer restarts it at the given sequence.
  consumer->reset();
  auto again = connection_->CreatePullConsumer("P", "even", "p.even", 19);
  ASSERT_TRUE(again.ok()) << again.status();
  auto from19 = FetchN(again->get(), 2);
  ASSERT_EQ(from19.size(), 2u);
  EXPECT_EQ(from19[0].stream_sequence, 20u);
  EXPECT_EQ(from19[0].consumer_sequence, 1u);
  EXPECT_EQ(from19[1].data, "22");
  ASSERT_TRUE(connection_->DeleteConsumer("P", "even").ok());
  EXPECT_EQ(connection_->DeleteConsumer("P", "even").code(), absl::StatusCode::kNotFound);
}

TEST_F(NatsStandaloneTest, KeyValueCreateUpdateDeleteAndKeys) {
  KvConfig config;
  config.bucket = "KV";
  auto kv = connection_->EnsureKeyValue(config);
  ASSERT_TRUE(kv.ok()) << kv.status();
  auto missing = (*kv)->Get("a");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  auto keys = (*kv)->Keys();
  ASSERT_TRUE(keys.ok());
  EXPECT_TRUE(keys->empty());
  auto created = (*kv)->Create("a", "1");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*kv)->Create("a", "2").status().code(), absl::StatusCode::kAlreadyExists);
  auto updated = (*kv)->Update("a", "2", *created);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_GT(*updated, *created);
  EXPECT_EQ((*kv)->Update("a", "3", *created).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto got = (*kv)->Get("a");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "2");
  EXPECT_EQ((*got)->revision, *updated);
  ASSERT_TRUE((*kv)->Put("b.c", std::string("\0bin", 4)).ok());
  got = (*kv)->Get("b.c");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, std::string("\0bin", 4));
  keys = (*kv)->Keys();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(std::set<std::string>(keys->begin(), keys->end()), (std::set<std::string>{"a", "b.c"}));
  ASSERT_TRUE((*kv)->Delete("a").ok());
  got = (*kv)->Get("a");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  EXPECT_TRUE((*kv)->Create("a", "again").ok()) << "a deleted key can be created again";
  // Opening the bucket again (e.g. another node) sees the same data.
  auto other = connection_->EnsureKeyValue(config);
  ASSERT_TRUE(other.ok());
  got = (*other)->Get("a");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "again");
}

TEST_F(NatsStandaloneTest, WatcherSeesCurrentValuesThenTheMarkerThenChanges) {
  KvConfig config;
  config.bucket = "W";
  auto kv = connection_->EnsureKeyValue(config);
  ASSERT_TRUE(kv.ok());
  ASSERT_TRUE((*kv)->Put("x.1", "a").ok());
  ASSERT_TRUE((*kv)->Put("y.1", "b").ok());
  auto watcher = (*kv)->Watch("x.>");
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  auto entry = (*watcher)->Next(milliseconds(2000));
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->key, "x.1");
  EXPECT_EQ((*entry)->value, "a");
  entry = (*watcher)->Next(milliseconds(2000));
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_TRUE((*entry)->key.empty()) << "the initial-values marker";
  ASSERT_TRUE((*kv)->Put("y.2", "ignored").ok());
  ASSERT_TRUE((*kv)->Put("x.2", "c").ok());
  ASSERT_TRUE((*kv)->Delete("x.1").ok());
  entry = (*watcher)->Next(milliseconds(2000));
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->key, "x.2");
  EXPECT_EQ((*entry)->op, KvEntry::Op::kPut);
  entry = (*watcher)->Next(milliseconds(2000));
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->key, "x.1");
  EXPECT_EQ((*entry)->op, KvEntry::Op::kDelete);
  entry = (*watcher)->Next(milliseconds(200));
  ASSERT_TRUE(entry.ok());
  EXPECT_FALSE(entry->has_value()) << "timeout without changes";
  // Stop from another thread wakes a blocked Next.
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds(200));
    (*watcher)->Stop();
  });
  const auto start = std::chrono::steady_clock::now();
  entry = (*watcher)->Next(milliseconds(10000));
  stopper.join();
  EXPECT_EQ(entry.status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// The names of `stream`'s consumers, through libnats directly (the client has no listing).
std::vector<std::string> ConsumerNames(const std::string& url, const std::string& stream) {
  std::vector<std::string> names;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  jsConsumerNamesList* list = nullptr;
  if (natsConnection_ConnectTo(&nc, url.c_str()) == NATS_OK &&
      natsConnection_JetStream(&js, nc, nullptr) == NATS_OK &&
      js_ConsumerNames(&list, js, stream.c_str(), nullptr, nullptr) == NATS_OK) {
    for (int i = 0; i < list->Count; ++i) names.emplace_back(list->List[i]);
  }
  if (list != nullptr) jsConsumerNamesList_Destroy(list);
  if (js != nullptr) jsCtx_Destroy(js);
  if (nc != nullptr) natsConnection_Destroy(nc);
  return names;
}

// A watcher whose consumer disappears while no pull request is open (deleted by an operator,
// or removed by the server after its inactivity threshold while the process was stopped) still
// delivers the next change: it notices that the bucket moved on without it and continues with a
// new consumer from the last revision it delivered.
TEST_F(NatsStandaloneTest, WatcherContinuesWhenItsConsumerIsDeleted) {
  KvConfig config;
  config.bucket = "D";
  auto kv = connection_->EnsureKeyValue(config);
  ASSERT_TRUE(kv.ok());
  ASSERT_TRUE((*kv)->Put("a", "1").ok());
  auto watcher = (*kv)->Watch(">");
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  auto entry = (*watcher)->Next(milliseconds(2000));
  ASSERT_TRUE(entry.ok() && entry->has_value() && (*entry)->key == "a");
  entry = (*watcher)->Next(milliseconds(2000));
  ASSERT_TRUE(entry.ok() && entry->has_value() && (*entry)->key.empty()) << "the marker";
  // Let the open pull request expire (no Next meanwhile), then delete the consumer.
  std::this_thread::sleep_for(milliseconds(1500));
  const std::vector<std::string> names = ConsumerNames(nats_.url(0), "KV_D");
  ASSERT_EQ(names.size(), 1u);
  ASSERT_TRUE(connection_->DeleteConsumer("KV_D", names[0]).ok());
  ASSERT_TRUE((*kv)->Put("b", "2").ok());
  ASSERT_TRUE((*kv)->Put("a", "3").ok());
  std::vector<std::string> seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (seen.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    entry = (*watcher)->Next(milliseconds(500));
    ASSERT_TRUE(entry.ok()) << entry.status();
    if (entry->has_value()) seen.push_back((*entry)->key + "=" + (*entry)->value);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"b=2", "a=3"}));
}

TEST_F(NatsStandaloneTest, TtlBucketForgetsEntriesThatAreNotRenewed) {
  KvConfig config;
  config.bucket = "T";
  config.ttl = milliseconds(600);
  auto kv = connection_->EnsureKeyValue(config);
  ASSERT_TRUE(kv.ok()) << kv.status();
  ASSERT_TRUE((*kv)->Put("lease", "1").ok());
  for (int i = 0; i < 4; ++i) {  // Renewed every 300 ms: stays.
    std::this_thread::sleep_for(milliseconds(300));
    ASSERT_TRUE((*kv)->Put("lease", std::to_string(i)).ok());
  }
  auto got = (*kv)->Get("lease");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->has_value());
  std::this_thread::sleep_for(milliseconds(1500));
  got = (*kv)->Get("lease");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
}

TEST_F(NatsStandaloneTest, ConcurrentPublishersAllGetDistinctSequences) {
  StreamConfig config;
  config.name = "C";
  config.subjects = {"c.*"};
  ASSERT_TRUE(connection_->EnsureStream(config).ok());
  constexpr int kThreads = 8, kEach = 50;
  std::vector<std::vector<uint64_t>> sequences(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto ack = connection_->Publish("c." + std::to_string(t), "x");
        if (ack.ok()) sequences[t].push_back(ack->sequence);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<uint64_t> all;
  for (const auto& s : sequences) all.insert(s.begin(), s.end());
  EXPECT_EQ(all.size(), size_t{kThreads * kEach});
  EXPECT_EQ(*all.rbegin(), uint64_t{kThreads * kEach});
}

// Starts a 3-server JetStream cluster in `dir` and connects to it (3 s request timeout).
auto StartClusterAndConnect(const TempDir& dir, NatsCluster* nats)
    -> decltype(Connection::Connect(ConnectOptions{})) {
  std::string error;
  if (!nats->Start(dir.path(), 3, &error)) return absl::UnavailableError(error);
  ConnectOptions options;
  options.servers = nats->urls();
  options.request_timeout = milliseconds(3000);
  return Connection::Connect(options);
}

// SIGKILLs and restarts each server of a 3-server cluster in turn (1.5 s apart, each down for
// 2.5 s), then waits 3 s for the cluster to settle. Unavailable if a server does not restart.
absl::Status KillAndRestartEachServer(NatsCluster* nats) {
  for (int server : {0, 2, 1}) {
    std::this_thread::sleep_for(milliseconds(1500));
    nats->Kill(server);
    std::this_thread::sleep_for(milliseconds(2500));
    std::string error;
    if (!nats->Restart(server, &error)) return absl::UnavailableError(error);
  }
  std::this_thread::sleep_for(milliseconds(3000));
  return absl::OkStatus();
}

// Ensures stream `name` on `subjects` with 3 replicas. A cluster that just formed may refuse
// replicated streams for a moment: retries for up to 20 s.
absl::Status EnsureReplicatedStream(Connection* connection, const std::string& name,
                                    const std::string& subjects) {
  StreamConfig config;
  config.name = name;
  config.subjects = {subjects};
  config.replicas = 3;
  absl::Status status = connection->EnsureStream(config).status();
  for (int attempt = 0; attempt < 100 && !status.ok(); ++attempt) {
    std::this_thread::sleep_for(milliseconds(200));
    status = connection->EnsureStream(config).status();
  }
  return status;
}

// A 3-server JetStream cluster: R=3 streams and buckets keep working when one server is killed,
// through the same connection (it reconnects to a surviving server).
TEST(NatsClusterTest, ReplicatedStreamConsumerAndBucketSurviveAServerKill) {
  TempDir dir;
  NatsCluster nats;
  auto connected = StartClusterAndConnect(dir, &nats);
  ASSERT_TRUE(connected.ok()) << connected.status();
  Connection& connection = **connected;
  // Retried: a cluster that just formed may refuse replicated streams for a moment ("no
  // suitable peers for placement", seen once under the full CTest run).
  ASSERT_TRUE(EnsureReplicatedStream(&connection, "R", "r.>").ok());
  auto stream = connection.GetStream("R");
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_EQ(stream->replicas, 3);
  KvConfig kv_config;
  kv_config.bucket = "RKV";
  kv_config.replicas = 3;
  auto kv = connection.EnsureKeyValue(kv_config);
  ASSERT_TRUE(kv.ok()) << kv.status();
  auto watcher = (*kv)->Watch(">");
  ASSERT_TRUE(watcher.ok());
  auto marker = (*watcher)->Next(milliseconds(3000));
  ASSERT_TRUE(marker.ok() && marker->has_value() && (*marker)->key.empty());

  // Retries a call for up to 20 s while the cluster recovers.
  auto retry = [](auto call) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    auto result = call();
    while (!result.ok() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(100));
      result = call();
    }
    return result;
  };
  std::set<uint64_t> acked;
  for (int i = 0; i < 10; ++i) {
    auto ack = connection.Publish("r.x", "before-" + std::to_string(i));
    ASSERT_TRUE(ack.ok()) << ack.status();
    acked.insert(ack->sequence);
  }
  auto consumer = connection.CreatePullConsumer("R", "reader", "r.x", 1);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  auto first = FetchN(consumer->get(), 5);
  ASSERT_EQ(first.size(), 5u);
  ASSERT_TRUE((*consumer)->AckUpTo(first.back()).ok());

  // Kill the server this connection uses, so that it must fail over.
  int victim = 0;
  for (int i = 0; i < 3; ++i) {
    if (connection.connected_url() == nats.url(i)) victim = i;
  }
  nats.Kill(victim);
  for (int i = 0; i < 10; ++i) {
    const std::string data = "after-" + std::to_string(i);
    auto ack = retry([&] { return connection.Publish("r.x", data); });
    ASSERT_TRUE(ack.ok()) << ack.status();
    acked.insert(ack->sequence);
  }
  ASSERT_TRUE(retry([&] { return (*kv)->Put("k", "v"); }).ok());
  // The watcher sees the change made after the failover. If its consumer lived on the killed
  // server it needs a new one, which the JetStream API gives only once the survivors have
  // elected leaders. Under the full CTest on 2 busy cores this test failed twice (once here,
  // after 20 s; the other run's line is not known), never in 12 runs alone or 3 at a time; the
  // wait is 60 s now, and the log says when a watcher replaced its consumer and why.
  bool seen = false;
  const auto start = std::chrono::steady_clock::now();
  while (!seen && std::chrono::steady_clock::now() < start + std::chrono::seconds(60)) {
    auto entry = (*watcher)->Next(milliseconds(500));
    ASSERT_TRUE(entry.ok()) << entry.status();
    seen = entry->has_value() && (*entry)->key == "k" && (*entry)->value == "v";
  }
  EXPECT_TRUE(seen);
  std::cerr
      << "the watcher delivered the change made after the failover in "
      << std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start).count()
      << " ms\n";
  // The durable consumer continues where it was acknowledged (5 delivered and acknowledged, so
  // 15 remain). A delivery lost in the failover (a fetch whose reply went to the dead server)
  // shows as a gap in consumer sequences; acknowledging past it would skip that message for
  // good (acknowledgements cover everything below), so the reader does what ShardReplica::
  // Follow does: it re-creates the consumer after the last message it got in order. (Seen once
  // in a full cluster CTest run: stream sequence 10 missing without this rule.)
  std::vector<Message> rest;
  uint64_t expected = first.size() + 1;  // The next consumer sequence.
  uint64_t contiguous = first.back().stream_sequence;
  int gaps = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (rest.size() < 15 && std::chrono::steady_clock::now() < until) {
    auto batch = (*consumer)->Fetch(20, milliseconds(1000));
    if (!batch.ok()) {
      // E.g. "answered none of its last pull requests ... create it again": a consumer whose
      // leader died with the killed server can stay silent for good (two CI runs: nothing after
      // sequence 10 for 30 s). Like a replica, start a new one after the last message in order.
      std::this_thread::sleep_for(milliseconds(100));
      auto again = retry(
          [&] { return connection.CreatePullConsumer("R", "reader", "r.x", contiguous + 1); });
      if (again.ok()) {
        consumer = std::move(again);
        expected = 1;
      }
      continue;
    }
    bool gap = false;
    for (auto& m : *batch) {
      if (m.consumer_sequence != expected) {
        gap = true;
        break;
      }
      ++expected;
      contiguous = m.stream_sequence;
      rest.push_back(std::move(m));
    }
    if (gap) {
      ++gaps;
      auto again = retry(
          [&] { return connection.CreatePullConsumer("R", "reader", "r.x", contiguous + 1); });
      ASSERT_TRUE(again.ok()) << again.status();
      consumer = std::move(again);
      expected = 1;
      continue;
    }
    if (!rest.empty()) (void)(*consumer)->AckUpTo(rest.back());
  }
  std::cerr << "consumer re-created after " << gaps << " lost deliveries\n";
  std::set<uint64_t> delivered;
  for (const auto& m : first) delivered.insert(m.stream_sequence);
  for (const auto& m : rest) delivered.insert(m.stream_sequence);
  EXPECT_EQ(delivered, acked) << "every acknowledged publish is delivered";
  auto state = retry([&] { return connection.GetStream("R"); });
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->messages, 20u);
}

// Each server of a 3-server cluster SIGKILLed and restarted in turn while the subjects of
// another stream are written and purged (as shard snapshots are, on their own stream): a message
// written before (as a model blob is, once) must still be readable afterwards. With both on ONE
// stream, nats-server 2.9.10 lost the old message in 2 runs of 2 (and the cluster kill cycles
// found a model blob gone), hence the separate snapshot stream (names.h).
TEST(NatsClusterTest, OldMessageSurvivesServerKillsWhileAnotherStreamIsPurged) {
  TempDir dir;
  NatsCluster nats;
  auto connected = StartClusterAndConnect(dir, &nats);
  ASSERT_TRUE(connected.ok()) << connected.status();
  Connection& connection = **connected;
  ASSERT_TRUE(EnsureReplicatedStream(&connection, "B", "b.>").ok());
  ASSERT_TRUE(EnsureReplicatedStream(&connection, "S", "s.>").ok());
  auto old = connection.Publish("b.old", "kept");
  ASSERT_TRUE(old.ok()) << old.status();
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    // As shard snapshots do: each new blob replaces (purges) the previous one.
    for (int i = 0; !stop; ++i) {
      if (!connection.Publish("s." + std::to_string(i), std::string(2000, 'x')).ok()) continue;
      ++written;
      if (i > 0) (void)connection.PurgeSubject("S", "s." + std::to_string(i - 1));
    }
  });
  const absl::Status cycled = KillAndRestartEachServer(&nats);
  stop = true;
  writer.join();
  ASSERT_TRUE(cycled.ok()) << cycled;
  EXPECT_GT(written.load(), 10);
  absl::StatusOr<std::optional<Message>> read = absl::UnavailableError("not read");
  for (int attempt = 0; attempt < 100 && !read.ok(); ++attempt) {
    read = connection.NextMessage("B", "b.old", old->sequence);
    if (!read.ok()) std::this_thread::sleep_for(milliseconds(200));
  }
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE(read->has_value()) << "the message written before the kills is gone";
  EXPECT_EQ((*read)->data, "kept");
}

// The experiment log trimming would rest on (docs/notes/cluster-log-trimming.md; not in CI, as
// trimming is not implemented): one stream with a subject per shard, trimmed below points that
// trail the writes while each server of a 3-server cluster is SIGKILLed and restarted in turn.
// Every acknowledged message at or above its trim point must still be there. BN_NATS_TRIM_
// EXPERIMENT selects the trims:
//   whole    whole-stream purges below the lowest of the hot subjects' points;
//   subject  each hot subject purged below its own point (PurgeSubjectBelow with a subject), and
//            the single old message of a cold subject, never trimmed past, must stay too;
//   delete   each hot subject's messages below its point deleted one by one (DeleteMessage, as
//            BlobChannel::Delete does); the cold message must stay too;
//   none     no purges (the control: the same writes and kills).
// Measured with nats-server 2.9.10: `subject` lost the cold message in 5 runs of 5, `whole` lost
// messages above the trim point in 5 of 22, `none` nothing in 2 (nats-io/nats-server#4196: a
// restarted server replays such a purge as a compaction of the whole stream).
TEST(NatsClusterTest, TrimmedStreamKeepsEveryMessageAboveTheTrimThroughServerKills) {
  const char* mode_env = std::getenv("BN_NATS_TRIM_EXPERIMENT");
  if (mode_env == nullptr) {
    GTEST_SKIP() << "set BN_NATS_TRIM_EXPERIMENT=whole|subject|delete|none";
  }
  const std::string mode = mode_env;
  ASSERT_TRUE(mode == "whole" || mode == "subject" || mode == "delete" || mode == "none") << mode;
  const bool by_message = mode == "delete";
  TempDir dir;
  NatsCluster nats;
  auto connected = StartClusterAndConnect(dir, &nats);
  ASSERT_TRUE(connected.ok()) << connected.status();
  Connection& connection = **connected;
  const absl::Status ensured = EnsureReplicatedStream(&connection, "L", "l.>");
  ASSERT_TRUE(ensured.ok()) << ensured;
  auto cold = connection.Publish("l.cold", "kept");
  ASSERT_TRUE(cold.ok()) << cold.status();
  constexpr int kHot = 3;
  // A subject's point trails its writes by 40 messages. With whole-stream trims the cold message
  // falls below the trim point and is not checked.
  const uint64_t trail = mode == "none" ? 0 : 40;
  const bool whole = mode == "whole";
  std::mutex mutex;
  std::vector<std::vector<uint64_t>> acked(kHot);  // Per hot subject, in order.
  // The highest trim point asked for (one that timed out in a fail-over may still be applied).
  std::vector<uint64_t> trimmed(kHot, 0);
  std::vector<size_t> deleted(kHot, 0);  // "delete": acked[s][0..deleted[s]) were asked to go.
  std::atomic<bool> stop{false};
  std::atomic<int> trims{0};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      const int shard = i % kHot;
      const std::string subject = "l." + std::to_string(shard);
      auto ack = connection.Publish(subject, "m" + std::to_string(i));
      if (!ack.ok()) continue;
      uint64_t below = 0;
      {
        std::lock_guard<std::mutex> lock(mutex);
        acked[shard].push_back(ack->sequence);
        if (trail > 0 && acked[shard].size() % 10 == 0 && acked[shard].size() > trail) {
          below = acked[shard][acked[shard].size() - trail];
          if (whole) {
            for (int s = 0; s < kHot; ++s) {
              below = std::min<uint64_t>(
                  below, acked[s].size() > trail ? acked[s][acked[s].size() - trail] : 0);
            }
            for (int s = 0; s < kHot; ++s) trimmed[s] = std::max(trimmed[s], below);
          } else {
            trimmed[shard] = std::max(trimmed[shard], below);
          }
        }
      }
      if (below != 0 && by_message) {
        // Every acknowledged message of the subject below the point, one request each.
        std::vector<uint64_t> doomed;
        {
          std::lock_guard<std::mutex> lock(mutex);
          for (size_t& k = deleted[shard]; k < acked[shard].size() && acked[shard][k] < below;
               ++k) {
            doomed.push_back(acked[shard][k]);
          }
        }
        bool ok = true;
        for (uint64_t sequence : doomed) {
          absl::Status s = connection.DeleteMessage("L", sequence);
          ok = ok && (s.ok() || s.code() == absl::StatusCode::kNotFound);
        }
        if (ok) ++trims;
      } else if (below != 0 &&
                 connection.PurgeSubjectBelow("L", whole ? "" : subject, below).ok()) {
        ++trims;
      }
    }
  });
  const absl::Status cycled = KillAndRestartEachServer(&nats);
  stop = true;
  writer.join();
  ASSERT_TRUE(cycled.ok()) << cycled;
  if (trail > 0) {
    EXPECT_GT(trims.load(), 10);
  }
  auto read = [&](const std::string& subject, uint64_t sequence) {
    absl::StatusOr<std::optional<Message>> next = absl::UnavailableError("not read");
    for (int attempt = 0; attempt < 100 && !next.ok(); ++attempt) {
      next = connection.NextMessage("L", subject, sequence);
      if (!next.ok()) std::this_thread::sleep_for(milliseconds(200));
    }
    return next;
  };
  auto kept = read("l.cold", cold->sequence);
  ASSERT_TRUE(kept.ok()) << kept.status();
  const bool cold_kept = whole || (kept->has_value() && (*kept)->stream_sequence == cold->sequence);
  EXPECT_TRUE(cold_kept) << "the cold subject's message " << cold->sequence << " is gone";
  int checked = 0, lost = 0;
  for (int shard = 0; shard < kHot; ++shard) {
    const std::string subject = "l." + std::to_string(shard);
    for (uint64_t sequence : acked[shard]) {
      if (sequence < trimmed[shard]) continue;
      auto next = read(subject, sequence);
      ASSERT_TRUE(next.ok()) << next.status();
      ++checked;
      if (!next->has_value() || (*next)->stream_sequence != sequence) {
        ++lost;
        ADD_FAILURE() << subject << ": acknowledged message " << sequence
                      << " above the trim point " << trimmed[shard] << " is gone";
      }
    }
  }
  // Where the stream starts now, against the highest trim point asked for: a stream that starts
  // above it was purged further than any request said.
  uint64_t highest = 0;
  for (uint64_t t : trimmed) highest = std::max(highest, t);
  auto state = connection.GetStream("L");
  const std::string start = state.ok() ? std::to_string(state->first_sequence) + ".." +
                                             std::to_string(state->last_sequence)
                                       : state.status().ToString();
  std::cout << mode << ": " << trims.load() << " trims; cold message "
            << (whole       ? "not checked"
                : cold_kept ? "kept"
                            : "LOST")
            << "; " << checked << " hot messages above the trim points checked, " << lost
            << " lost; stream " << start << ", highest trim point asked " << highest << "\n";
}

}  // namespace
}  // namespace bn::nats
