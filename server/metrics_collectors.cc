#include "server/metrics_collectors.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include "engine/store/store.h"
#include "engine/util/log.h"
#include "server/core/core.h"

namespace bn {
namespace {

namespace v1 = ::bottleneck::v1;

CollectedFamily Family(const char* name, const char* help, MetricType type = MetricType::kGauge) {
  CollectedFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  return family;
}

void AddSample(CollectedFamily* family, double value,
               std::vector<std::pair<std::string, std::string>> labels = {}) {
  family->samples.push_back({std::move(labels), value});
}

int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // The descriptor opendir itself holds.
}

std::string JobStateName(v1::JobState state) {
  std::string name = v1::JobState_Name(state);
  constexpr char kPrefix[] = "JOB_STATE_";
  if (name.rfind(kPrefix, 0) == 0) name = name.substr(sizeof(kPrefix) - 1);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

void CollectProcess(double start_unix_seconds, std::chrono::steady_clock::time_point start,
                    std::vector<CollectedFamily>* out) {
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  unsigned long long size_pages = 0;
  unsigned long long resident_pages = 0;
  if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%llu %llu", &size_pages, &resident_pages) != 2) {
      size_pages = resident_pages = 0;
    }
    std::fclose(statm);
  }
  CollectedFamily rss =
      Family("process_resident_memory_bytes", "Resident memory size in bytes (/proc/self/statm).");
  AddSample(&rss, static_cast<double>(resident_pages) * page);
  out->push_back(std::move(rss));
  CollectedFamily vms =
      Family("process_virtual_memory_bytes", "Virtual memory size in bytes (/proc/self/statm).");
  AddSample(&vms, static_cast<double>(size_pages) * page);
  out->push_back(std::move(vms));

  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 + usage.ru_stime.tv_sec +
                     usage.ru_stime.tv_usec * 1e-6;
  CollectedFamily cpu_family =
      Family("process_cpu_seconds_total", "User and system CPU time spent in seconds.",
             MetricType::kCounter);
  AddSample(&cpu_family, cpu);
  out->push_back(std::move(cpu_family));

  if (int fds = CountOpenFds(); fds >= 0) {
    CollectedFamily open_fds = Family("process_open_fds", "Open file descriptors.");
    AddSample(&open_fds, fds);
    out->push_back(std::move(open_fds));
  }
  CollectedFamily started =
      Family("process_start_time_seconds", "When the metrics were set up, in Unix seconds.");
  AddSample(&started, start_unix_seconds);
  out->push_back(std::move(started));
  CollectedFamily uptime = Family("bottleneck_uptime_seconds", "Seconds since the server started.");
  AddSample(&uptime,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  out->push_back(std::move(uptime));
}

void CollectCollections(Core* core, std::vector<CollectedFamily>* out) {
  CollectedFamily items = Family("bottleneck_collection_items", "Items stored per collection.");
  CollectedFamily pending = Family("bottleneck_collection_pending_items",
                                   "Items stored but not yet in the serving index.");
  CollectedFamily index_bytes = Family("bottleneck_collection_index_bytes",
                                       "Memory held by the collection's in-memory HNSW index.");
  CollectedFamily store_bytes = Family("bottleneck_collection_store_bytes",
                                       "Estimated bytes in storage (items, codes, models).");
  CollectedFamily models = Family("bottleneck_collection_models", "Trained model versions kept.");
  CollectedFamily serving = Family("bottleneck_collection_serving_model_version",
                                   "Version of the serving model; 0 when none serves yet.");
  CollectedFamily promotion = Family("bottleneck_collection_promotion_progress_ratio",
                                     "Items re-encoded / items to re-encode of a running "
                                     "promotion (present only while one runs).");
  auto collections = core->collections().List();
  if (!collections.ok()) {
    BN_LOG(WARNING) << "metrics: cannot list collections: " << collections.status().message();
  } else {
    for (const v1::Collection& c : collections->collections()) {
      const std::vector<std::pair<std::string, std::string>> labels = {{"collection", c.name()}};
      const v1::CollectionStats& stats = c.stats();
      AddSample(&items, static_cast<double>(stats.item_count()), labels);
      AddSample(&pending, static_cast<double>(stats.pending_item_count()), labels);
      AddSample(&index_bytes, static_cast<double>(stats.index_bytes()), labels);
      AddSample(&store_bytes, static_cast<double>(stats.store_bytes()), labels);
      AddSample(&models, static_cast<double>(stats.model_count()), labels);
      AddSample(&serving, static_cast<double>(stats.serving_model_version()), labels);
      if (stats.has_promotion() && stats.promotion().items_total() > 0) {
        AddSample(&promotion,
                  static_cast<double>(stats.promotion().items_done()) /
                      static_cast<double>(stats.promotion().items_total()),
                  labels);
      }
    }
  }
  for (CollectedFamily* f :
       {&items, &pending, &index_bytes, &store_bytes, &models, &serving, &promotion}) {
    out->push_back(std::move(*f));
  }
  CollectedFamily heads =
      Family("bottleneck_neighbour_cache_items",
             "Neighbour heads (id, label, metadata) a collection keeps in memory for searches "
             "(at most --neighbour-cache-items).");
  CollectedFamily lookups = Family("bottleneck_neighbour_cache_lookups_total",
                                   "Neighbour-head lookups by searches: result=hit (from memory) "
                                   "or miss (read from the store).",
                                   MetricType::kCounter);
  for (const auto& [name, stats] : core->collections().NeighbourCacheStats()) {
    AddSample(&heads, static_cast<double>(stats.items), {{"collection", name}});
    AddSample(&lookups, static_cast<double>(stats.hits), {{"collection", name}, {"result", "hit"}});
    AddSample(&lookups, static_cast<double>(stats.misses),
              {{"collection", name}, {"result", "miss"}});
  }
  out->push_back(std::move(heads));
  out->push_back(std::move(lookups));
}

void CollectJobs(Core* core, std::vector<CollectedFamily>* out) {
  CollectedFamily by_state = Family("bottleneck_jobs", "Training jobs known, by state.");
  CollectedFamily ratio = Family("bottleneck_job_progress_ratio",
                                 "Fraction of a running job done, over all its phases (0..1).");
  CollectedFamily phase = Family("bottleneck_job_phase", "1-based phase index of a running job.");
  CollectedFamily epoch =
      Family("bottleneck_job_epoch", "1-based epoch within the current phase of a running job.");
  CollectedFamily loss =
      Family("bottleneck_job_loss", "Mean training loss of the current epoch of a running job.");
  CollectedFamily speed =
      Family("bottleneck_job_samples_per_second", "Training throughput of a running job.");
  auto jobs = core->jobs().List("");
  if (!jobs.ok()) {
    BN_LOG(WARNING) << "metrics: cannot list jobs: " << jobs.status().message();
  } else {
    std::map<std::string, int> counts;
    for (int s = v1::JOB_STATE_QUEUED; s <= v1::JOB_STATE_INTERRUPTED; ++s) {
      if (v1::JobState_IsValid(s)) counts[JobStateName(static_cast<v1::JobState>(s))] = 0;
    }
    for (const v1::Job& job : jobs->jobs()) {
      ++counts[JobStateName(job.state())];
      if (job.state() != v1::JOB_STATE_RUNNING) continue;
      const std::vector<std::pair<std::string, std::string>> labels = {
          {"job_id", job.id()}, {"collection", job.collection()}};
      const v1::JobProgress& p = job.progress();
      AddSample(&ratio, JobProgressRatio(p), labels);
      AddSample(&phase, p.phase_index(), labels);
      AddSample(&epoch, p.epoch(), labels);
      AddSample(&loss, p.loss(), labels);
      AddSample(&speed, p.samples_per_second(), labels);
    }
    for (const auto& [state, count] : counts) AddSample(&by_state, count, {{"state", state}});
  }
  for (CollectedFamily* f : {&by_state, &ratio, &phase, &epoch, &loss, &speed}) {
    out->push_back(std::move(*f));
  }
}

}  // namespace

double JobProgressRatio(const v1::JobProgress& p) {
  if (p.phase_count() == 0) return 0;
  double within_epoch = 0;
  if (p.steps_per_epoch() > 0) {
    within_epoch = static_cast<double>(p.step()) / static_cast<double>(p.steps_per_epoch());
  }
  double within_phase = 0;
  if (p.epochs() > 0) {
    const double epochs_done = p.epoch() > 0 ? p.epoch() - 1 : 0;
    within_phase = (epochs_done + std::min(1.0, within_epoch)) / p.epochs();
  }
  const double phases_done = p.phase_index() > 0 ? p.phase_index() - 1 : 0;
  const double ratio = (phases_done + std::min(1.0, within_phase)) / p.phase_count();
  return std::clamp(ratio, 0.0, 1.0);
}

void AddProcessCollector(MetricsRegistry* registry) {
  const auto start = std::chrono::steady_clock::now();
  const double start_unix =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  registry->AddCollector([start, start_unix](std::vector<CollectedFamily>* out) {
    CollectProcess(start_unix, start, out);
  });
}

void AddCoreCollector(MetricsRegistry* registry, Core* core) {
  registry->AddCollector([core](std::vector<CollectedFamily>* out) {
    CollectCollections(core, out);
    CollectJobs(core, out);
  });
}

void AddStorageCollector(MetricsRegistry* registry, const Store* store) {
  registry->AddCollector([store](std::vector<CollectedFamily>* out) {
    const StoreWriteState state = store->write_state();
    out->push_back({"bottleneck_disk_free_bytes",
                    "Free bytes of the data directory's filesystem (last measured).",
                    MetricType::kGauge,
                    {{{}, double(state.free_bytes)}}});
    out->push_back({"bottleneck_disk_flood_stage",
                    "1 while free space is below the flood threshold (--disk-flood-free-bytes, "
                    "--disk-flood-free-percent).",
                    MetricType::kGauge,
                    {{{}, state.below_flood ? 1.0 : 0.0}}});
    out->push_back({"bottleneck_storage_write_blocked",
                    "1 while writes are refused: disk below the flood threshold, a storage error "
                    "not yet recovered from, or a database opened read-only.",
                    MetricType::kGauge,
                    {{{}, state.blocked ? 1.0 : 0.0}}});
  });
}

}  // namespace bn
