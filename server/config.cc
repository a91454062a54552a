#include "server/config.h"

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/util/log.h"

namespace bn {
namespace {

struct Flag {
  enum Kind { kString, kInt, kBool, kUint64 } kind;
  std::function<void*(ServerConfig*)> field;
  const char* help;
};

const std::map<std::string, Flag>& Flags() {
  static const auto* flags = new std::map<std::string, Flag>{
      {"listen",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->listen; },
        "HOST:PORT of the query endpoint (and of every service unless --training-listen is set); "
        "port 0 picks a free port. Default 127.0.0.1:50051"}},
      {"training-listen",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->training_listen; },
        "HOST:PORT of the training/admin endpoint; default: the --listen address"}},
      {"data-dir",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->data_dir; },
        "directory of the embedded RocksDB store and index snapshots. Default ./data"}},
      {"training",
       {Flag::kBool, [](ServerConfig* c) -> void* { return &c->training_enabled; },
        "serve the training endpoint (--no-training: a query replica). Default true"}},
      {"follow",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->follow; },
        "DIR: serve as a read-only follower (query replica) of the primary whose --data-dir is "
        "DIR (a shared volume): its collections, promoted models and items, refreshed every "
        "--follow-interval-ms; no training endpoint; --data-dir holds the follower's own index "
        "snapshots"}},
      {"follow-interval-ms",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->follow_interval_ms; },
        "how often a follower applies the primary's writes. Default 1000"}},
      {"inference-threads",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->inference_threads; },
        "OpenMP threads per encode (queries, ingest, promotion); 0 = all cores. Concurrent "
        "requests already spread over the cores, and a multi-thread team stalls whenever one of "
        "its threads is descheduled. Default 1"}},
      {"inference-precision",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->inference_precision; },
        "f32 or bf16: with bf16, dense auto-encoders encode (queries, ingest, re-encoding) with "
        "bfloat16 weights and activations, about 2x faster at batch 1, codes within ~0.5 % of "
        "f32 (bench/RESULTS.md); CPUs without AVX-512 BF16 keep f32 and log a warning. Decoding "
        "stays f32. Default f32"}},
      {"training-threads",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->training_threads; },
        "OpenMP threads per training job; 0 = all cores but one (at least 1), leaving a core "
        "for queries. Default 0"}},
      {"max-concurrent-jobs",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->max_concurrent_jobs; },
        "training jobs running at once; others queue. Default 1"}},
      {"grpc-max-threads",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->grpc_max_threads; },
        "upper bound on gRPC handler threads; 0 = gRPC's default. Default 0"}},
      {"grpc-max-pollers",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->grpc_max_pollers; },
        "idle gRPC handler threads kept waiting for requests (gRPC's default of 2 makes a busy "
        "server start and end a thread per request). Default 8"}},
      {"tls-cert",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->tls_cert_file; },
        "PEM certificate chain; with --tls-key, serve TLS instead of plaintext"}},
      {"tls-key",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->tls_key_file; },
        "PEM private key for --tls-cert"}},
      {"admin-token-file",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->admin_token_file; },
        "file of bearer tokens (one per line) allowed to call every service"}},
      {"query-token-file",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->query_token_file; },
        "file of bearer tokens allowed to call the query endpoint only"}},
      {"log-level",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->log_level; },
        "debug, info, warning or error. Default info"}},
      {"log-format",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->log_format; },
        "text (logfmt: ts=.. level=.. msg=\"..\" key=value) or json (one object per line). "
        "Default text"}},
      {"metrics-listen",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->metrics_listen; },
        "HOST:PORT of the Prometheus metrics endpoint over HTTP (GET /metrics, GET /healthz); "
        "port 0 picks a free port. Default: off"}},
      {"snapshot-interval-seconds",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->snapshot_interval_seconds; },
        "save index snapshots of changed collections this often (restarts then load instead of "
        "rebuilding). Default 60"}},
      {"checkpoint-interval-seconds",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->checkpoint_interval_seconds; },
        "save a running job's checkpoint (weights and optimiser state, tens of MB for large "
        "nets) at most this often, at the end of an epoch; an interrupted job resumes from the "
        "last one. 0 = after every epoch. Default 60"}},
      {"encode-batch-max",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->encode_batch_max; },
        "most concurrent single-item encodes merged into one model call; 1 turns micro-batching "
        "off. Default 64"}},
      {"neighbour-cache-items",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->neighbour_cache_items; },
        "per collection, the most search results' item heads (id, label, metadata) kept in "
        "memory instead of read from the store for every search (about 100-200 bytes each); "
        "0 turns the cache off. Default 262144"}},
      {"max-inflight-queries",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->max_inflight_queries; },
        "Search/Encode/Decode/Classify requests handled at once; more are refused with "
        "RESOURCE_EXHAUSTED. Default 256"}},
      {"max-write-streams",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->max_write_streams; },
        "Upsert/DeleteItems calls handled at once (a stream counts once); more are refused with "
        "RESOURCE_EXHAUSTED. Default 8"}},
      {"max-dataset-uploads",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->max_dataset_uploads; },
        "UploadDataset streams at once; more are refused with RESOURCE_EXHAUSTED. Default 2"}},
      {"max-queued-jobs",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->max_queued_jobs; },
        "training jobs waiting for a slot; more are refused with RESOURCE_EXHAUSTED. Default 16"}},
      {"max-dataset-mib",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->max_dataset_mib; },
        "largest dataset (examples x features x 4 bytes, the memory a job loads) in MiB; larger "
        "uploads are refused with RESOURCE_EXHAUSTED. Default 4096"}},
      {"ingest-threads",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->ingest_threads; },
        "threads that run upserts and deletes (encode, store, index); more concurrent write "
        "calls wait for one. Default 2"}},
      {"ingest-nice",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->ingest_nice; },
        "priority of the ingest threads (upserts, deletes), so that queries keep their latency "
        "during bulk loads: 0 = as queries, 1-19 = that niceness, 20 = SCHED_IDLE (runs on CPU "
        "time queries leave; a waking query preempts it at once). Default 20"}},
      {"training-nice",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->training_nice; },
        "priority of training threads, as --ingest-nice. Default 20: a job takes the CPU that "
        "queries leave (under a saturating query load it nearly stops; 10 gives it a share)"}},
      {"background-nice",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->background_nice; },
        "priority of index maintenance (snapshots, compaction, promotion re-encoding, a "
        "follower's catch-up), as --ingest-nice. Default 20"}},
      {"block-cache-mib",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->block_cache_mib; },
        "RocksDB block cache in MiB (searches read their neighbours' records from it). "
        "Default 256"}},
      {"backup-dir",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->backup_dir; },
        "directory of the backups CreateBackup writes (each a subdirectory: the store's "
        "checkpoint, the index snapshots and a manifest). On the data directory's filesystem "
        "the store's files are hard-linked, so a backup costs little space until the store "
        "compacts them away; copy it elsewhere to survive the loss of the disk. Default "
        "DATA_DIR/backups"}},
      {"restore",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->restore; },
        "BACKUP_DIR: restore that backup (a directory CreateBackup wrote) into --data-dir, "
        "which must not exist or be empty, then serve it. A non-empty --data-dir is refused "
        "(exit status 1, nothing changed). With --cluster: restore a cluster backup into the "
        "fresh cluster those NATS servers and --cluster-name hold, then exit (docs/cluster.md)"}},
      {"check",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->check_dir; },
        "DIR: verify the data directory DIR offline and exit (the server must not be running on "
        "it): every SST block checksum, every record of every column family, every index "
        "snapshot's CRCs; prints what it found; exit status 0 when the store is intact, 1 when "
        "it is damaged (a damaged snapshot is rebuilt from the store at the next start)"}},
      {"disk-flood-free-bytes",
       {Flag::kUint64, [](ServerConfig* c) -> void* { return &c->disk_flood_free_bytes; },
        "disk flood stage: while the data directory's filesystem has less free space than this "
        "(or than --disk-flood-free-percent), writes that add data (upserts, dataset uploads, "
        "training jobs, checkpoints, model saves) are refused with RESOURCE_EXHAUSTED; searches "
        "and reads go on, and writes resume by themselves once space is freed. The space kept "
        "free lets the store flush, compact, recover and restart. 0 with a 0 percent: off. "
        "Default 268435456 (256 MiB)"}},
      {"disk-flood-free-percent",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->disk_flood_free_percent; },
        "the flood stage as a percentage of the filesystem's size; the larger of the two "
        "thresholds applies. Default 2"}},
      {"disk-check-interval-ms",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->disk_check_interval_ms; },
        "how often free space is measured for health, metrics and recovery from storage errors "
        "(writes measure it themselves). Default 1000"}},
      {"sync-writes",
       {Flag::kBool, [](ServerConfig* c) -> void* { return &c->sync_writes; },
        "sync the write-ahead log before acknowledging writes. Default true"}},
      {"cluster",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->cluster; },
        "NATS_URLS: run as a node of a cluster on NATS JetStream (nats://HOST:PORT of any of "
        "its servers, comma-separated; docs/cluster.md): collections are sharded and "
        "replicated, any node answers any request, --data-dir holds this node's shard caches. "
        "Default: a single node"}},
      {"cluster-name",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->cluster_name; },
        "the cluster's name, prefix of its NATS streams and buckets (several clusters can share "
        "one NATS). Default bottleneck"}},
      {"node-id",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->node_id; },
        "this node's id in the cluster, 1-64 characters of [A-Za-z0-9_-], stable across "
        "restarts (shards are placed by it). Default: the host name"}},
      {"advertise",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->advertise; },
        "HOST:PORT at which other nodes reach this node's query endpoint. Default: the --listen "
        "address (with the host name for 0.0.0.0)"}},
      {"default-shards",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->default_shards; },
        "shards of a collection created without CreateCollectionRequest.shards (1..256). "
        "Default 1"}},
      {"replicas-per-shard",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->replicas_per_shard; },
        "replicas of each shard of a collection created without "
        "CreateCollectionRequest.replicas (1..16). Default 2"}},
      {"stream-replicas",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->stream_replicas; },
        "JetStream replicas of the cluster's logs, buckets and blobs (1..5; 3 survives the "
        "loss of any one NATS server). Default 3"}},
      {"heartbeat-ms",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->heartbeat_ms; },
        "how often the node announces itself and its shards. Default 1000"}},
      {"node-lease-ms",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->node_lease_ms; },
        "a node without a new heartbeat for this long is down: requests go to other replicas. "
        "Default 5000"}},
      {"shard-snapshot-interval-seconds",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->shard_snapshot_interval_seconds; },
        "how often a shard's snapshot (from which new or wiped replicas restore) is refreshed "
        "when its log moved. Default 300"}},
      {"log-trim",
       {Flag::kBool, [](ServerConfig* c) -> void* { return &c->log_trim; },
        "delete the messages of a collection's log that its shards' snapshots hold, every "
        "snapshot interval (docs/cluster.md, Log trimming). Default true"}},
      {"blob-gc-grace-seconds",
       {Flag::kInt, [](ServerConfig* c) -> void* { return &c->blob_gc_grace_seconds; },
        "delete blob chunks (models, datasets, snapshots) that no metadata names once their last "
        "chunk is this old: what a node killed while it wrote a blob left behind. 0: never. "
        "Default 3600"}},
      {"nats-user",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->nats_user; },
        "user name for NATS (with --nats-password-file)"}},
      {"nats-password-file",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->nats_password_file; },
        "file holding the NATS password (first line)"}},
      {"nats-token-file",
       {Flag::kString, [](ServerConfig* c) -> void* { return &c->nats_token_file; },
        "file holding a NATS authentication token (first line)"}},
  };
  return *flags;
}

absl::Status SetFlag(ServerConfig* config, const std::string& name, const std::string& value,
                     const std::string& where) {
  auto it = Flags().find(name);
  if (it == Flags().end()) {
    return absl::InvalidArgumentError(absl::StrCat(where, "unknown flag --", name));
  }
  const Flag& flag = it->second;
  void* field = flag.field(config);
  switch (flag.kind) {
    case Flag::kString:
      *static_cast<std::string*>(field) = value;
      return absl::OkStatus();
    case Flag::kInt: {
      int v = 0;
      if (!absl::SimpleAtoi(value, &v) || v < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "--", name, " needs a non-negative integer, got '", value, "'"));
      }
      *static_cast<int*>(field) = v;
      return absl::OkStatus();
    }
    case Flag::kUint64: {
      uint64_t v = 0;
      if (!absl::SimpleAtoi(value, &v)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "--", name, " needs a non-negative integer, got '", value, "'"));
      }
      *static_cast<uint64_t*>(field) = v;
      return absl::OkStatus();
    }
    case Flag::kBool: {
      bool v = false;
      if (!absl::SimpleAtob(value, &v)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "--", name, " needs true or false, got '", value, "'"));
      }
      *static_cast<bool*>(field) = v;
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unreachable");
}

absl::Status ReadConfigFile(const std::string& path, ServerConfig* config) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError("cannot read config file '" + path + "'");
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    absl::string_view text = line;
    if (auto hash = text.find('#'); hash != absl::string_view::npos) text = text.substr(0, hash);
    text = absl::StripAsciiWhitespace(text);
    if (text.empty()) continue;
    size_t sep = text.find_first_of("= \t");
    if (sep == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": expected 'name = value'"));
    }
    std::string name(absl::StripAsciiWhitespace(text.substr(0, sep)));
    absl::string_view rest = absl::StripAsciiWhitespace(text.substr(sep));
    if (!rest.empty() && rest.front() == '=') rest = absl::StripAsciiWhitespace(rest.substr(1));
    absl::Status s =
        SetFlag(config, name, std::string(rest), absl::StrCat(path, ":", number, ": "));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

bool ValidHostPort(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port)) return false;
  return port >= 0 && port <= 65535;
}

}  // namespace

absl::StatusOr<ServerConfig> ParseServerFlags(const std::vector<std::string>& args) {
  ServerConfig config;
  // Two passes: --config first, then every other flag overrides it.
  std::vector<std::pair<std::string, std::string>> flags;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      config.show_help = true;
      continue;
    }
    if (arg == "--version") {
      config.show_version = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError("unexpected argument '" + arg + "' (see --help)");
    }
    std::string name = arg.substr(2);
    std::string value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (name != "config" && Flags().count(name) > 0 &&
               Flags().at(name).kind == Flag::kBool) {
      value = "true";
    } else if (name.rfind("no-", 0) == 0 && Flags().count(name.substr(3)) > 0 &&
               Flags().at(name.substr(3)).kind == Flag::kBool) {
      name = name.substr(3);
      value = "false";
    } else {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError("flag --" + name + " needs a value");
      }
      value = args[++i];
    }
    flags.emplace_back(name, value);
  }
  for (const auto& [name, value] : flags) {
    if (name != "config") continue;
    absl::Status s = ReadConfigFile(value, &config);
    if (!s.ok()) return s;
  }
  for (const auto& [name, value] : flags) {
    if (name == "config") continue;
    absl::Status s = SetFlag(&config, name, value, "");
    if (!s.ok()) return s;
  }
  return config;
}

absl::Status ValidateServerConfig(const ServerConfig& config) {
  if (!ValidHostPort(config.listen)) {
    return absl::InvalidArgumentError("--listen needs HOST:PORT, got '" + config.listen + "'");
  }
  if (!config.training_listen.empty() && !ValidHostPort(config.training_listen)) {
    return absl::InvalidArgumentError("--training-listen needs HOST:PORT, got '" +
                                      config.training_listen + "'");
  }
  if (config.data_dir.empty()) return absl::InvalidArgumentError("--data-dir must not be empty");
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  if (config.inference_precision != "f32" && config.inference_precision != "bf16") {
    return absl::InvalidArgumentError("--inference-precision must be f32 or bf16");
  }
  if (config.checkpoint_interval_seconds < 0) {
    return absl::InvalidArgumentError("--checkpoint-interval-seconds must be at least 0");
  }
  if (config.grpc_max_pollers < 1) {
    return absl::InvalidArgumentError("--grpc-max-pollers must be at least 1");
  }
  if (config.snapshot_interval_seconds < 1) {
    return absl::InvalidArgumentError("--snapshot-interval-seconds must be at least 1");
  }
  if (config.max_concurrent_jobs < 1) {
    return absl::InvalidArgumentError("--max-concurrent-jobs must be at least 1");
  }
  if (!config.follow.empty() && config.follow == config.data_dir) {
    return absl::InvalidArgumentError(
        "--follow must name the primary's data directory, not "
        "this server's own --data-dir");
  }
  if (config.follow_interval_ms < 10) {
    return absl::InvalidArgumentError("--follow-interval-ms must be at least 10");
  }
  if (config.encode_batch_max < 1) {
    return absl::InvalidArgumentError("--encode-batch-max must be at least 1");
  }
  if (config.neighbour_cache_items < 0) {
    return absl::InvalidArgumentError("--neighbour-cache-items must not be negative");
  }
  if (config.max_inflight_queries < 1 || config.max_write_streams < 1 ||
      config.max_dataset_uploads < 1 || config.max_dataset_mib < 1) {
    return absl::InvalidArgumentError(
        "--max-inflight-queries, --max-write-streams, --max-dataset-uploads and "
        "--max-dataset-mib must be at least 1");
  }
  if (config.training_nice < 0 || config.training_nice > 20 || config.ingest_nice < 0 ||
      config.ingest_nice > 20 || config.background_nice < 0 || config.background_nice > 20) {
    return absl::InvalidArgumentError(
        "--training-nice, --ingest-nice and --background-nice must be between 0 and 20 (20: "
        "SCHED_IDLE)");
  }
  if (config.disk_flood_free_percent > 50) {
    return absl::InvalidArgumentError("--disk-flood-free-percent must be between 0 and 50");
  }
  if (config.disk_check_interval_ms < 10) {
    return absl::InvalidArgumentError("--disk-check-interval-ms must be at least 10");
  }
  if (config.ingest_threads < 1) {
    return absl::InvalidArgumentError("--ingest-threads must be at least 1");
  }
  if (!config.metrics_listen.empty() && !ValidHostPort(config.metrics_listen)) {
    return absl::InvalidArgumentError("--metrics-listen needs HOST:PORT, got '" +
                                      config.metrics_listen + "'");
  }
  if (!config.restore.empty() && !config.follow.empty()) {
    return absl::InvalidArgumentError(
        "--restore restores a single-node server's data directory or, with --cluster, a cluster "
        "backup into a fresh cluster: it cannot be combined with --follow");
  }
  if (!config.cluster.empty()) {
    if (!config.follow.empty()) {
      return absl::InvalidArgumentError(
          "--follow and --cluster cannot be combined: cluster replicas replace followers");
    }
    for (absl::string_view url : absl::StrSplit(config.cluster, ',')) {
      if (!absl::StartsWith(url, "nats://") && !absl::StartsWith(url, "tls://")) {
        return absl::InvalidArgumentError("--cluster needs nats://HOST:PORT URLs, got '" +
                                          std::string(url) + "'");
      }
    }
    if (!config.advertise.empty() && !ValidHostPort(config.advertise)) {
      return absl::InvalidArgumentError("--advertise needs HOST:PORT, got '" + config.advertise +
                                        "'");
    }
    if (config.default_shards < 1 || config.default_shards > 256) {
      return absl::InvalidArgumentError("--default-shards must be in 1..256");
    }
    if (config.replicas_per_shard < 1 || config.replicas_per_shard > 16) {
      return absl::InvalidArgumentError("--replicas-per-shard must be in 1..16");
    }
    if (config.stream_replicas < 1 || config.stream_replicas > 5) {
      return absl::InvalidArgumentError("--stream-replicas must be in 1..5");
    }
    if (config.heartbeat_ms < 50 || config.node_lease_ms < 2 * config.heartbeat_ms) {
      return absl::InvalidArgumentError(
          "--heartbeat-ms must be at least 50 and --node-lease-ms at least twice it");
    }
    if (config.shard_snapshot_interval_seconds < 1) {
      return absl::InvalidArgumentError("--shard-snapshot-interval-seconds must be at least 1");
    }
    if (config.blob_gc_grace_seconds < 0) {
      return absl::InvalidArgumentError("--blob-gc-grace-seconds must not be negative");
    }
  }
  LogFormat format;
  if (!ParseLogFormat(config.log_format, &format)) {
    return absl::InvalidArgumentError("--log-format must be text or json, got '" +
                                      config.log_format + "'");
  }
  LogLevel level;
  if (!ParseLogLevel(config.log_level, &level)) {
    return absl::InvalidArgumentError("--log-level must be debug, info, warning or error, got '" +
                                      config.log_level + "'");
  }
  return absl::OkStatus();
}

std::string ServerUsage() {
  std::ostringstream out;
  out << "bottleneckd: the Bottleneck retrieval service (auto-encoder codes + HNSW search).\n\n"
         "usage: bottleneckd [--config FILE] [flags]\n\n"
         "flags:\n";
  for (const auto& [name, flag] : Flags()) {
    out << "  --" << name << (flag.kind == Flag::kBool ? "" : " VALUE") << "\n      " << flag.help
        << "\n";
  }
  out << "  --config FILE\n      read 'name = value' lines first; flags override them\n"
         "  --help, --version\n";
  return out.str();
}

}  // namespace bn
