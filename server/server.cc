#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "engine/store/store.h"
#include "engine/util/log.h"
#include "server/admission.h"
#include "server/auth.h"
#include "server/cluster/cluster_node.h"
#include "server/cluster/cluster_restore.h"
#include "server/cluster/cluster_services.h"
#include "server/core/core.h"
#include "server/metrics.h"
#include "server/metrics_collectors.h"
#include "server/metrics_http.h"
#include "server/rpc_observer.h"
#include "server/services.h"
#include "server/worker_pool.h"

namespace bn {
namespace {

namespace v1 = ::bottleneck::v1;

constexpr int kMaxMessageBytes = 64 << 20;

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError("cannot read '" + path + "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const ServerConfig& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  auto cert = ReadFile(config.tls_cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(config.tls_key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

// The first line of a file (a secret), without surrounding whitespace.
absl::StatusOr<std::string> ReadSecret(const std::string& path, const char* flag) {
  auto text = ReadFile(path);
  if (!text.ok())
    return absl::InvalidArgumentError(std::string(flag) + ": cannot read '" + path + "'");
  std::string line = text->substr(0, text->find('\n'));
  line.erase(0, line.find_first_not_of(" \t\r"));
  line.erase(line.find_last_not_of(" \t\r") + 1);
  if (line.empty())
    return absl::InvalidArgumentError(std::string(flag) + ": '" + path + "' is empty");
  return line;
}

absl::StatusOr<cluster::ClusterOptions> MakeClusterOptions(const ServerConfig& config) {
  cluster::ClusterOptions options;
  for (absl::string_view url : absl::StrSplit(config.cluster, ',', absl::SkipEmpty())) {
    options.nats_servers.emplace_back(url);
  }
  options.cluster_name = config.cluster_name;
  options.node_id = config.node_id;
  if (options.node_id.empty()) {
    char name[256] = {0};
    gethostname(name, sizeof(name) - 1);
    options.node_id = cluster::NodeIdFromHostname(name);
  }
  options.data_dir = config.data_dir;
  options.training = config.training_enabled;
  options.default_shards = static_cast<uint32_t>(config.default_shards);
  options.default_replicas = static_cast<uint32_t>(config.replicas_per_shard);
  options.stream_replicas = config.stream_replicas;
  options.heartbeat = std::chrono::milliseconds(config.heartbeat_ms);
  options.lease = std::chrono::milliseconds(config.node_lease_ms);
  options.snapshot_interval = std::chrono::seconds(config.shard_snapshot_interval_seconds);
  options.log_trim = config.log_trim;
  options.blob_gc_grace = std::chrono::seconds(config.blob_gc_grace_seconds);
  options.background_nice = config.background_nice;
  options.nats_user = config.nats_user;
  if (!config.nats_password_file.empty()) {
    auto password = ReadSecret(config.nats_password_file, "--nats-password-file");
    if (!password.ok()) return password.status();
    options.nats_password = *password;
  }
  if (!config.nats_token_file.empty()) {
    auto token = ReadSecret(config.nats_token_file, "--nats-token-file");
    if (!token.ok()) return token.status();
    options.nats_token = *token;
  }
  // Node-to-node calls carry the first admin token when the nodes require tokens.
  if (!config.admin_token_file.empty()) {
    auto text = ReadFile(config.admin_token_file);
    if (!text.ok()) return text.status();
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (line.empty() || line[0] == '#') continue;
      options.peer_token = std::string(line);
      break;
    }
  }
  if (!config.tls_cert_file.empty()) {
    auto roots = ReadFile(config.tls_cert_file);
    if (!roots.ok()) return roots.status();
    options.peer_tls = true;
    options.peer_tls_roots = *roots;
  }
  return options;
}

std::string WithPort(const std::string& address, int port) {
  return address.substr(0, address.rfind(':') + 1) + std::to_string(port);
}

// The services of one endpoint.
struct Endpoint {
  std::string address;
  std::vector<std::string> roles;
  std::vector<std::unique_ptr<grpc::Service>> services;
  std::unique_ptr<grpc::Server> server;
};

}  // namespace

struct Server::Impl {
  ServerConfig config;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<Store> store;
  std::unique_ptr<Core> core;
  std::unique_ptr<cluster::ClusterNode> cluster;  // Cluster mode only; over the local core.
  // Before the endpoints: the gRPC servers' interceptors point at these.
  std::unique_ptr<MetricsRegistry> metrics;
  std::unique_ptr<RpcObserver> rpc_observer;
  std::unique_ptr<MetricsHttpServer> metrics_http;  // Null when --metrics-listen is empty.
  std::atomic<bool> serving{false};                 // GET /healthz.
  std::unique_ptr<Admission> admission;
  std::unique_ptr<WorkerPool> ingest;  // Destroyed after the endpoints (declared later).
  std::vector<Endpoint> endpoints;     // [0] query (or all), [1] training when separate.
  std::mutex mutex;
  bool shut_down = false;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Shutdown(std::chrono::milliseconds(0)); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerConfig& given) {
  if (absl::Status s = ValidateServerConfig(given); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  impl->config = given;
  if (!given.follow.empty()) impl->config.training_enabled = false;  // A follower only serves.
  const ServerConfig& config = impl->config;
  auto auth = Authenticator::Load(config.admin_token_file, config.query_token_file);
  if (!auth.ok()) return auth.status();
  impl->auth = std::move(*auth);

  const bool cluster_mode = !config.cluster.empty();
  StoreOptions store_options;
  // In cluster mode the store is a cache of the logs (a replica replays what it lost).
  store_options.sync_writes = config.sync_writes && !cluster_mode;
  store_options.follow_primary = config.follow;
  store_options.block_cache_bytes = static_cast<size_t>(config.block_cache_mib) << 20;
  store_options.watermarks.flood_free_bytes = config.disk_flood_free_bytes;
  store_options.watermarks.flood_free_percent = config.disk_flood_free_percent;
  store_options.watermarks.poll_interval = std::chrono::milliseconds(config.disk_check_interval_ms);
  auto store = Store::Open(config.data_dir, store_options);
  if (!store.ok()) return store.status();
  impl->store = std::move(*store);
  CoreOptions core_options;
  core_options.data_dir = config.data_dir;
  core_options.backup_dir = config.backup_dir;
  core_options.training_enabled = config.training_enabled;
  core_options.follower = !config.follow.empty();
  core_options.follow_interval = std::chrono::milliseconds(config.follow_interval_ms);
  core_options.max_concurrent_jobs = config.max_concurrent_jobs;
  core_options.training_threads =
      config.training_threads > 0
          ? config.training_threads
          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1);
  core_options.snapshot_interval = std::chrono::seconds(config.snapshot_interval_seconds);
  core_options.encode_batch_max = config.encode_batch_max;
  core_options.neighbour_cache_items = static_cast<size_t>(config.neighbour_cache_items);
  core_options.bf16_encode = config.inference_precision == "bf16";
  core_options.max_queued_jobs = config.max_queued_jobs;
  core_options.max_dataset_bytes = static_cast<uint64_t>(config.max_dataset_mib) << 20;
  core_options.training_nice = config.training_nice;
  core_options.background_nice = config.background_nice;
  core_options.checkpoint_interval = std::chrono::seconds(config.checkpoint_interval_seconds);
  auto core = Core::Open(impl->store.get(), core_options);
  if (!core.ok()) return core.status();
  impl->core = std::move(*core);
  Core* c = impl->core.get();
  if (cluster_mode) {
    auto options = MakeClusterOptions(config);
    if (!options.ok()) return options.status();
    auto node = cluster::ClusterNode::Open(*options, c, impl->store.get());
    if (!node.ok()) return node.status();
    impl->cluster = std::move(*node);
  }
  const Authenticator* a = impl->auth.get();
  Admission::Limits limits;
  limits.queries = config.max_inflight_queries;
  limits.write_streams = config.max_write_streams;
  limits.dataset_uploads = config.max_dataset_uploads;
  impl->admission = std::make_unique<Admission>(limits);
  Admission* admit = impl->admission.get();
  impl->ingest = std::make_unique<WorkerPool>(config.ingest_threads, config.ingest_nice);
  WorkerPool* ingest = impl->ingest.get();

  auto credentials = MakeCredentials(config);
  if (!credentials.ok()) return credentials.status();

  // The same explicit address means one shared endpoint; port 0 always means a port of its own.
  const bool separate =
      config.training_enabled && !config.training_listen.empty() &&
      (config.training_listen != config.listen || WithPort(config.listen, 0) == config.listen);
  Endpoint query;
  query.address = config.listen;
  query.roles = {"query"};
  Endpoint training;
  training.address = config.training_listen;
  training.roles = {"training"};
  if (cluster_mode) {
    if (!separate) query.roles.push_back("training");
    cluster::AddClusterServices(impl->cluster.get(), a, admit, separate, &query.services,
                                separate ? &training.services : &query.services);
  } else {
    query.services.push_back(std::make_unique<QueryServiceImpl>(c, a, admit));
    query.services.push_back(std::make_unique<CollectionServiceImpl>(c, a));
    query.services.push_back(std::make_unique<ModelServiceImpl>(c, a));
    query.services.push_back(std::make_unique<cluster::ClusterServiceImpl>(nullptr, a));
  }
  if (config.training_enabled && !cluster_mode) {
    Endpoint& target = separate ? training : query;
    if (!separate) query.roles.push_back("training");
    target.services.push_back(std::make_unique<TrainingServiceImpl>(c, a, admit));
    target.services.push_back(std::make_unique<ItemServiceImpl>(c, a, admit, ingest));
    if (separate) {
      target.services.push_back(std::make_unique<CollectionServiceImpl>(c, a));
      target.services.push_back(std::make_unique<ModelServiceImpl>(c, a));
      target.services.push_back(std::make_unique<cluster::ClusterServiceImpl>(nullptr, a));
    }
  }
  impl->endpoints.push_back(std::move(query));
  if (separate) impl->endpoints.push_back(std::move(training));

  impl->metrics = std::make_unique<MetricsRegistry>();
  auto observer = RpcObserver::Create(impl->metrics.get());
  if (!observer.ok()) return observer.status();
  impl->rpc_observer = std::move(*observer);
  AddProcessCollector(impl->metrics.get());
  AddCoreCollector(impl->metrics.get(), c);
  AddStorageCollector(impl->metrics.get(), impl->store.get());
  impl->metrics->AddCollector([admit](std::vector<CollectedFamily>* out) {
    static const char* const kKinds[Admission::kKinds] = {"query", "write", "upload"};
    CollectedFamily in_flight{"bottleneck_admission_in_flight",
                              "Requests holding an admission slot, by kind.",
                              MetricType::kGauge,
                              {}};
    CollectedFamily refused{"bottleneck_admission_refused_total",
                            "Requests refused with RESOURCE_EXHAUSTED by admission control.",
                            MetricType::kCounter,
                            {}};
    for (int k = 0; k < Admission::kKinds; ++k) {
      const auto kind = static_cast<Admission::Kind>(k);
      in_flight.samples.push_back({{{"kind", kKinds[k]}}, double(admit->in_flight(kind))});
      refused.samples.push_back({{{"kind", kKinds[k]}}, double(admit->refused(kind))});
    }
    out->push_back(std::move(in_flight));
    out->push_back(std::move(refused));
  });

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  for (Endpoint& endpoint : impl->endpoints) {
    grpc::ServerBuilder builder;
    int port = -1;
    // Without this, gRPC sets SO_REUSEPORT and a second server would share the port silently.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddListeningPort(endpoint.address, *credentials, &port);
    // Larger messages fail with RESOURCE_EXHAUSTED before reaching a handler.
    builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
    for (auto& service : endpoint.services) builder.RegisterService(service.get());
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(impl->rpc_observer->NewFactory());
    builder.experimental().SetInterceptorCreators(std::move(creators));
    // Keep idle handler threads for the next requests instead of one thread per request.
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                                config.grpc_max_pollers);
    if (config.grpc_max_threads > 0) {
      grpc::ResourceQuota quota("bottleneckd");
      quota.SetMaxThreads(config.grpc_max_threads);
      builder.SetResourceQuota(quota);
    }
    endpoint.server = builder.BuildAndStart();
    if (endpoint.server == nullptr || port <= 0) {
      return absl::UnavailableError("cannot listen on " + endpoint.address +
                                    ": address in use or not available");
    }
    endpoint.address = WithPort(endpoint.address, port);
    if (auto* health = endpoint.server->GetHealthCheckService()) health->SetServingStatus(true);
  }
  if (!config.metrics_listen.empty()) {
    const MetricsRegistry* registry = impl->metrics.get();
    const std::atomic<bool>* serving = &impl->serving;
    auto http = MetricsHttpServer::Start(
        config.metrics_listen, [registry] { return registry->Render(); },
        [serving] { return serving->load(); });
    if (!http.ok()) return http.status();
    impl->metrics_http = std::move(*http);
    BN_LOG(INFO) << "metrics on http://" << impl->metrics_http->address() << "/metrics";
  }
  if (config.tls_cert_file.empty()) {
    BN_LOG(WARNING) << "serving plaintext (no --tls-cert): fine on loopback, not on a network";
  }
  if (!impl->auth->enabled()) {
    BN_LOG(WARNING) << "authentication is off (no --admin-token-file): every caller is admin";
  }
  if (impl->cluster != nullptr) {
    // Other nodes reach this one at its query endpoint (port 0 resolved by now).
    std::string advertise = config.advertise;
    if (advertise.empty()) {
      advertise = impl->endpoints[0].address;
      const std::string host = advertise.substr(0, advertise.rfind(':'));
      if (host == "0.0.0.0" || host == "[::]" || host == "::") {
        char name[256] = {0};
        gethostname(name, sizeof(name) - 1);
        advertise = std::string(name) + advertise.substr(advertise.rfind(':'));
      }
    }
    if (absl::Status s = impl->cluster->Start(advertise); !s.ok()) return s;
  }
  // Health per service: the write services are NOT_SERVING while the store refuses writes (a
  // full disk, a storage error); queries stay SERVING. Last in Start: the watcher thread calls
  // this until Shutdown.
  if (impl->config.follow.empty()) {
    std::vector<std::pair<grpc::HealthCheckServiceInterface*, bool>> healths;  // (, writes)
    for (Endpoint& endpoint : impl->endpoints) {
      const bool writes = std::find(endpoint.roles.begin(), endpoint.roles.end(), "training") !=
                          endpoint.roles.end();
      if (auto* health = endpoint.server->GetHealthCheckService()) {
        healths.emplace_back(health, writes);
        if (endpoint.roles[0] == "query") {
          health->SetServingStatus(v1::QueryService::service_full_name(), true);
        }
        health->SetServingStatus(v1::CollectionService::service_full_name(), true);
        health->SetServingStatus(v1::ModelService::service_full_name(), true);
      }
    }
    impl->store->SetWriteStateListener([healths](const StoreWriteState& state) {
      for (const auto& [health, writes] : healths) {
        if (!writes) continue;
        health->SetServingStatus(v1::ItemService::service_full_name(), !state.blocked);
        health->SetServingStatus(v1::TrainingService::service_full_name(), !state.blocked);
      }
    });
    impl->store->StartWatcher();
  }
  impl->serving.store(true);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

const std::string& Server::query_address() const { return impl_->endpoints[0].address; }

const std::string& Server::training_address() const {
  static const std::string kEmpty;
  if (!impl_->config.training_enabled) return kEmpty;
  return impl_->endpoints.size() > 1 ? impl_->endpoints[1].address : impl_->endpoints[0].address;
}

const std::string& Server::metrics_address() const {
  static const std::string kEmpty;
  return impl_->metrics_http != nullptr ? impl_->metrics_http->address() : kEmpty;
}

std::string Server::DescribeEndpoints() const {
  std::string out;
  for (const Endpoint& endpoint : impl_->endpoints) {
    if (!out.empty()) out += "; ";
    out += endpoint.address + " (";
    for (size_t i = 0; i < endpoint.roles.size(); ++i) {
      out += (i > 0 ? ", " : "") + endpoint.roles[i];
    }
    out += ")";
  }
  if (impl_->metrics_http != nullptr) {
    out += "; http://" + impl_->metrics_http->address() + "/metrics (metrics)";
  }
  return out;
}

void Server::Wait() {
  for (Endpoint& endpoint : impl_->endpoints) {
    if (endpoint.server != nullptr) endpoint.server->Wait();
  }
}

void Server::Shutdown(std::chrono::milliseconds grace) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->shut_down) return;
  impl_->shut_down = true;
  if (impl_->store != nullptr) impl_->store->SetWriteStateListener(nullptr);
  const auto deadline = std::chrono::system_clock::now() + grace;
  impl_->serving.store(false);
  for (Endpoint& endpoint : impl_->endpoints) {
    if (endpoint.server == nullptr) continue;
    if (auto* health = endpoint.server->GetHealthCheckService()) health->SetServingStatus(false);
    endpoint.server->Shutdown(deadline);
  }
  // Scrapes read the core: stop them first.
  if (impl_->metrics_http != nullptr) impl_->metrics_http->Stop();
  if (impl_->cluster != nullptr) impl_->cluster->Shutdown();  // Before the core it replicates into.
  impl_->cluster.reset();
  if (impl_->core != nullptr) impl_->core->Shutdown();
  impl_->core.reset();
  impl_->store.reset();
  BN_LOG(INFO) << "shut down";
}

absl::StatusOr<std::string> RestoreClusterBackup(const ServerConfig& config) {
  auto options = MakeClusterOptions(config);
  if (!options.ok()) return options.status();
  auto manifest = cluster::RestoreClusterBackup(*options, config.restore);
  if (!manifest.ok()) return manifest.status();
  uint64_t items = 0;
  for (const auto& c : manifest->backup().collections()) items += c.item_count();
  return absl::StrCat("restored backup ", manifest->backup().name(), " of cluster ",
                      manifest->cluster(), " into cluster ", options->cluster_name, ": ",
                      manifest->backup().collections_size(), " collections, ", items, " items, ",
                      manifest->aliases_size(), " aliases");
}

}  // namespace bn
