// The Prometheus endpoint, request ids and structured logs of the real server.
#include <httplib.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

using Labels = std::map<std::string, std::string>;

// The value of the sample `name` with exactly `labels`, read from the text format; -1 when absent.
double SampleValue(const std::string& text, const std::string& name, const Labels& labels) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t name_end = line.find_first_of("{ ");
    if (line.substr(0, name_end) != name) continue;
    Labels found;
    size_t i = name_end;
    if (line[i] == '{') {
      ++i;
      while (line[i] != '}') {
        const size_t eq = line.find('=', i);
        const std::string key = line.substr(i, eq - i);
        i = eq + 2;  // Past '="'.
        std::string value;
        while (line[i] != '"') {
          if (line[i] == '\\') ++i;
          value += line[i++];
        }
        ++i;
        if (line[i] == ',') ++i;
        found[key] = value;
      }
      ++i;
    }
    if (found == labels) return std::stod(line.substr(i + 1));
  }
  return -1;
}

// "127.0.0.1:PORT" from the banner's "http://127.0.0.1:PORT/metrics (metrics)".
std::string MetricsAddress(const std::string& banner) {
  const size_t start = banner.find("http://");
  if (start == std::string::npos) return "";
  const size_t host = start + 7;
  return banner.substr(host, banner.find("/metrics", host) - host);
}

struct HttpResult {
  int status = -1;
  std::string body;
  std::string content_type;
};

HttpResult HttpGet(const std::string& address, const std::string& path) {
  const size_t colon = address.rfind(':');
  httplib::Client client(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(10, 0);
  HttpResult result;
  if (auto response = client.Get(path.c_str())) {
    result.status = response->status;
    result.body = response->body;
    result.content_type = response->get_header_value("Content-Type");
  }
  return result;
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& request_id = "",
                                             const std::string& token = "") {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  if (!request_id.empty()) context->AddMetadata("x-request-id", request_id);
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  return context;
}

std::string ResponseRequestId(const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  auto it = metadata.find("x-request-id");
  return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
}

v1::CreateCollectionRequest SmallImageCollection(const std::string& name) {
  v1::CreateCollectionRequest request;
  request.set_name(name);
  request.mutable_spec()->mutable_image()->set_height(4);
  request.mutable_spec()->mutable_image()->set_width(4);
  request.mutable_spec()->mutable_image()->set_channels(1);
  return request;
}

TEST(MetricsTest, ScrapeShowsRpcCountsLatencyCollectionsAndProcess) {
  TempDir dir;
  std::string error;
  auto server = ServerProcess::Start(dir.Sub("data"), {"--metrics-listen", "127.0.0.1:0"}, &error);
  ASSERT_NE(server, nullptr) << error;
  const std::string metrics = MetricsAddress(server->banner());
  ASSERT_FALSE(metrics.empty()) << server->banner();
  EXPECT_NE(server->Stderr().find("metrics on http://" + metrics + "/metrics"), std::string::npos)
      << server->Stderr();

  auto channel = server->Channel();
  auto collections = v1::CollectionService::NewStub(channel);
  auto items = v1::ItemService::NewStub(channel);
  {
    auto context = Context("req-create-1");
    v1::Collection created;
    ASSERT_TRUE(
        collections->CreateCollection(context.get(), SmallImageCollection("m"), &created).ok());
    EXPECT_EQ(ResponseRequestId(*context), "req-create-1");
  }
  auto add_items = [](v1::UpsertRequest* upsert, int first, int count) {
    for (int i = first; i < first + count; ++i) {
      v1::Item* item = upsert->add_items();
      item->set_id("item-" + std::to_string(i));
      v1::RawImage* raw = item->mutable_input()->mutable_image()->mutable_raw();
      raw->set_height(4);
      raw->set_width(4);
      raw->set_channels(1);
      raw->set_pixel_type(v1::PIXEL_TYPE_UINT8);
      raw->set_data(std::string(16, static_cast<char>(i * 30)));
    }
  };
  constexpr int kUnary = 7;
  {
    v1::UpsertRequest upsert;
    upsert.set_collection("m");
    add_items(&upsert, 0, kUnary);
    v1::UpsertResponse response;
    auto context = Context();
    const grpc::Status status = items->Upsert(context.get(), upsert, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.upserted(), static_cast<uint64_t>(kUnary));
  }
  // A client stream of three messages is one call.
  constexpr int kStreamed = 3 * 4;
  {
    auto context = Context();
    v1::UpsertResponse response;
    auto writer = items->StreamUpsert(context.get(), &response);
    for (int batch = 0; batch < 3; ++batch) {
      v1::UpsertRequest upsert;
      upsert.set_collection("m");
      add_items(&upsert, kUnary + batch * 4, 4);
      ASSERT_TRUE(writer->Write(upsert));
    }
    ASSERT_TRUE(writer->WritesDone());
    const grpc::Status status = writer->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  constexpr int kItems = kUnary + kStreamed;
  constexpr int kLists = 3;
  for (int i = 0; i < kLists; ++i) {
    auto context = Context();
    v1::ListCollectionsResponse response;
    ASSERT_TRUE(collections->ListCollections(context.get(), {}, &response).ok());
    // Without x-request-id the server makes one: 16 hex digits.
    EXPECT_EQ(ResponseRequestId(*context).size(), 16u);
  }
  constexpr int kMissing = 2;
  for (int i = 0; i < kMissing; ++i) {
    auto context = Context("req-missing-" + std::to_string(i));
    v1::GetCollectionRequest request;
    request.set_name("no-such-collection");
    v1::Collection response;
    EXPECT_EQ(collections->GetCollection(context.get(), request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(ResponseRequestId(*context), "req-missing-" + std::to_string(i));
  }

  const HttpResult scrape = HttpGet(metrics, "/metrics");
  ASSERT_EQ(scrape.status, 200);
  EXPECT_EQ(scrape.content_type.rfind("text/plain; version=0.0.4", 0), 0u) << scrape.content_type;
  const std::string& text = scrape.body;
  const std::string kCollections = "bottleneck.v1.CollectionService";
  auto requests = [&](const std::string& service, const std::string& method,
                      const std::string& code) {
    return SampleValue(text, "bottleneck_rpc_requests_total",
                       {{"service", service}, {"method", method}, {"code", code}});
  };
  EXPECT_EQ(requests(kCollections, "CreateCollection", "OK"), 1) << text;
  EXPECT_EQ(requests(kCollections, "ListCollections", "OK"), kLists) << text;
  EXPECT_EQ(requests(kCollections, "GetCollection", "NOT_FOUND"), kMissing) << text;
  EXPECT_EQ(requests(kCollections, "GetCollection", "OK"), -1) << text;  // None succeeded.
  EXPECT_EQ(requests("bottleneck.v1.ItemService", "Upsert", "OK"), 1) << text;
  EXPECT_EQ(requests("bottleneck.v1.ItemService", "StreamUpsert", "OK"), 1) << text;
  const Labels list = {{"service", kCollections}, {"method", "ListCollections"}};
  EXPECT_EQ(SampleValue(text, "bottleneck_rpc_latency_seconds_count", list), kLists);
  EXPECT_EQ(SampleValue(text, "bottleneck_rpc_latency_seconds_bucket",
                        {{"service", kCollections}, {"method", "ListCollections"}, {"le", "+Inf"}}),
            kLists);
  EXPECT_GT(SampleValue(text, "bottleneck_rpc_latency_seconds_sum", list), 0);
  EXPECT_EQ(SampleValue(text, "bottleneck_collection_items", {{"collection", "m"}}), kItems)
      << text;
  // No model serves yet: every item is pending and there is no index.
  EXPECT_EQ(SampleValue(text, "bottleneck_collection_pending_items", {{"collection", "m"}}),
            kItems);
  EXPECT_EQ(SampleValue(text, "bottleneck_collection_index_bytes", {{"collection", "m"}}), 0);
  // No search yet: the neighbour-head cache is empty and was never asked.
  EXPECT_EQ(SampleValue(text, "bottleneck_neighbour_cache_items", {{"collection", "m"}}), 0);
  EXPECT_EQ(SampleValue(text, "bottleneck_neighbour_cache_lookups_total",
                        {{"collection", "m"}, {"result", "miss"}}),
            0);
  EXPECT_EQ(SampleValue(text, "bottleneck_jobs", {{"state", "running"}}), 0);
  EXPECT_GT(SampleValue(text, "process_resident_memory_bytes", {}), 0);
  // Admission control: nothing in flight between calls, nothing refused at the default limits.
  EXPECT_EQ(SampleValue(text, "bottleneck_admission_in_flight", {{"kind", "query"}}), 0);
  EXPECT_EQ(SampleValue(text, "bottleneck_admission_refused_total", {{"kind", "write"}}), 0);
  EXPECT_GT(SampleValue(text, "process_virtual_memory_bytes", {}), 0);

  const HttpResult health = HttpGet(metrics, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_EQ(HttpGet(metrics, "/nothing-here").status, 404);

  // Access lines carry the request id, the method and the code; so do the handler's own lines
  // ("created collection m" is logged by the core while handling CreateCollection).
  const std::string log = server->Stderr();
  EXPECT_NE(log.find("msg=\"created collection m\" request_id=req-create-1"), std::string::npos)
      << log;
  EXPECT_NE(log.find("msg=\"rpc\" request_id=req-missing-1 "
                     "method=/bottleneck.v1.CollectionService/GetCollection"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("code=NOT_FOUND"), std::string::npos) << log;
  // Shutdown stops the metrics endpoint too and exits cleanly.
  const int status = server->SignalAndWait(SIGTERM, 30);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(MetricsTest, TokensNeverReachTheLogsInEitherFormat) {
  for (const std::string format : {"text", "json"}) {
    SCOPED_TRACE(format);
    TempDir dir;
    const std::string admin = "admin-SECRET-token-7f3a";
    const std::string query = "query-SECRET-token-91bc";
    const std::string wrong = "wrong-SECRET-token-0000";
    std::ofstream(dir.Sub("admin")) << admin << "\n";
    std::ofstream(dir.Sub("query")) << query << "\n";
    std::string error;
    auto server = ServerProcess::Start(
        dir.Sub("data"),
        {"--admin-token-file", dir.Sub("admin"), "--query-token-file", dir.Sub("query"),
         "--log-level", "debug", "--log-format", format, "--metrics-listen", "127.0.0.1:0"},
        &error);
    ASSERT_NE(server, nullptr) << error;
    auto collections = v1::CollectionService::NewStub(server->Channel());
    v1::Collection created;
    EXPECT_TRUE(
        collections
            ->CreateCollection(Context("tok-1", admin).get(), SmallImageCollection("c"), &created)
            .ok());
    v1::ListCollectionsResponse listed;
    EXPECT_TRUE(collections->ListCollections(Context("tok-2", query).get(), {}, &listed).ok());
    EXPECT_EQ(collections->ListCollections(Context("tok-3", wrong).get(), {}, &listed).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(
        collections
            ->CreateCollection(Context("tok-4", query).get(), SmallImageCollection("d"), &created)
            .error_code(),
        grpc::StatusCode::PERMISSION_DENIED);
    // A token-like value sent as the request id is not accepted as one (spaces are not allowed)
    // and therefore not echoed into the logs either.
    EXPECT_EQ(collections->ListCollections(Context("Bearer " + wrong, "").get(), {}, &listed)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);

    const HttpResult scrape = HttpGet(MetricsAddress(server->banner()), "/metrics");
    ASSERT_EQ(scrape.status, 200);
    EXPECT_EQ(SampleValue(scrape.body, "bottleneck_rpc_requests_total",
                          {{"service", "bottleneck.v1.CollectionService"},
                           {"method", "ListCollections"},
                           {"code", "UNAUTHENTICATED"}}),
              2);

    const std::string log = server->Stderr();
    // The calls were logged (so the check below covers them) ...
    const std::string tok3 = format == "json" ? "\"request_id\":\"tok-3\"" : "request_id=tok-3";
    const std::string code =
        format == "json" ? "\"code\":\"UNAUTHENTICATED\"" : "code=UNAUTHENTICATED";
    EXPECT_NE(log.find(tok3), std::string::npos) << log;
    EXPECT_NE(log.find(code), std::string::npos) << log;
    // ... and no token appears anywhere.
    for (const std::string& secret : {admin, query, wrong}) {
      EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in:\n" << log;
    }
    EXPECT_EQ(log.find("SECRET"), std::string::npos) << log;
    if (format == "json") {
      // Every line is one JSON object.
      std::istringstream lines(log);
      std::string line;
      while (std::getline(lines, line)) {
        EXPECT_TRUE(line.size() >= 2 && line.front() == '{' && line.back() == '}') << line;
      }
    }
  }
}

TEST(MetricsTest, BadMetricsAddressIsAUsageError) {
  TempDir dir;
  std::string output;
  const int status = RunProgram(
      {BN_BOTTLENECKD, "--data-dir", dir.Sub("data"), "--metrics-listen", "no-port"}, &output);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 2) << output;
  EXPECT_NE(output.find("--metrics-listen needs HOST:PORT"), std::string::npos) << output;
}

TEST(MetricsTest, MetricsPortInUseFailsStartup) {
  TempDir dir;
  std::string error;
  auto first = ServerProcess::Start(dir.Sub("a"), {"--metrics-listen", "127.0.0.1:0"}, &error);
  ASSERT_NE(first, nullptr) << error;
  const std::string taken = MetricsAddress(first->banner());
  std::string output;
  const int status = RunProgram({BN_BOTTLENECKD, "--listen", "127.0.0.1:0", "--data-dir",
                                 dir.Sub("b"), "--metrics-listen", taken},
                                &output);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 1) << output;
  EXPECT_NE(output.find("cannot listen on " + taken + " for metrics"), std::string::npos) << output;
}

}  // namespace
}  // namespace bn::testing
