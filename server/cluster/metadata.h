// The cluster's metadata in JetStream key-value buckets (names.h lists them; internal.proto
// their records): the cluster's protocol version, collections, members (the nodes shards are
// placed on), node heartbeats, model versions, snapshots, datasets, jobs, aliases and backups.
//
// Metadata keeps a local view of collections, members and heartbeats, updated by watcher threads,
// so that routing reads memory. Liveness (liveness.h): a node is live while this node keeps
// receiving new heartbeats from it within the lease, counting only time during which this
// node's own view is fresh (its own heartbeat comes back through the watch on time), so that an
// outage of NATS or a slow watch does not declare peers dead, during it or right after it.
//
// Thread safety: every method may be called from any thread.
// Errors: those of nats_client.h; FAILED_PRECONDITION from Open when the cluster runs another
// protocol version; DATA_LOSS for a record that does not parse.
#ifndef BOTTLENECK_SERVER_CLUSTER_METADATA_H_
#define BOTTLENECK_SERVER_CLUSTER_METADATA_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "bottleneck/cluster/internal.pb.h"
#include "server/cluster/liveness.h"
#include "server/cluster/names.h"
#include "server/cluster/nats_client.h"

namespace bn::cluster {

class Metadata {
 public:
  struct Options {
    std::string node;         // This node's id.
    int bucket_replicas = 3;  // JetStream replicas of every bucket.
    std::chrono::milliseconds lease{5000};
    std::chrono::milliseconds heartbeat{1000};  // The interval every node heartbeats at.
  };

  // Opens (creating when missing) every bucket, checks the cluster's protocol version (the first
  // node records it), and loads the current collections, members and heartbeats before returning.
  // `connection` must outlive the Metadata.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Metadata>> Open(nats::Connection* connection,
                                                                      const Names& names,
                                                                      const Options& options);
  ~Metadata();  // Stop().
  Metadata(const Metadata&) = delete;
  Metadata& operator=(const Metadata&) = delete;
  void Stop();  // Ends the watcher threads. Idempotent.

  nats::KeyValue& collections() { return *collections_; }
  nats::KeyValue& members() { return *members_; }
  nats::KeyValue& nodes() { return *nodes_; }
  nats::KeyValue& models() { return *models_; }
  nats::KeyValue& snapshots() { return *snapshots_; }
  nats::KeyValue& datasets() { return *datasets_; }
  nats::KeyValue& jobs() { return *jobs_; }
  nats::KeyValue& aliases() { return *aliases_; }  // Not watched: read through a cache.
  nats::KeyValue& backups() { return *backups_; }  // Not watched (cluster_backups.h).

  // --- The local view ---
  struct CollectionView {
    bottleneck::cluster::CollectionEntry entry;
    uint64_t revision = 0;  // For KeyValue::Update.
  };
  std::optional<CollectionView> Collection(const std::string& name) const;
  std::vector<CollectionView> Collections() const;  // By name.
  std::vector<std::string> Members() const;         // Sorted.

  struct NodeView {
    bottleneck::cluster::NodeEntry entry;
    bool live = false;
    uint64_t age_ms = 0;  // Since its last new heartbeat arrived here.
  };
  std::vector<NodeView> Nodes() const;  // By id.
  std::optional<NodeView> Node(const std::string& id) const;

  // Counts every change of the view; WaitForChange blocks until it passes `seen` or `timeout`.
  uint64_t generation() const;
  uint64_t WaitForChange(uint64_t seen, std::chrono::milliseconds timeout) const;

  // Reads a collection straight from its bucket (not the view): for read-modify-write.
  [[nodiscard]] absl::StatusOr<std::optional<CollectionView>> ReadCollection(
      const std::string& name);
  // Applies the collection's latest heartbeat-independent entry to the view at once (after a
  // write by this node, so that its next request sees it).
  void Remember(const CollectionView& view);
  // Drops a collection this node deleted from the view at once (entries up to `revision`, the
  // deleted record's, are ignored from now on).
  void Forget(const std::string& name, uint64_t revision);

  const Options& options() const { return options_; }

 private:
  Metadata(nats::Connection* connection, Options options)
      : connection_(connection),
        options_(std::move(options)),
        liveness_(options_.node, options_.lease, options_.heartbeat) {}
  absl::Status CheckProtocol(nats::KeyValue* meta);
  // Runs a watcher over `kv` on its own thread, calling `apply` under mutex_ for each entry.
  absl::Status StartWatch(nats::KeyValue* kv, std::function<void(const nats::KvEntry&)> apply);
  void ApplyCollection(const nats::KvEntry& entry);
  void ApplyMember(const nats::KvEntry& entry);
  void ApplyNode(const nats::KvEntry& entry);
  bool LiveLocked(const std::string& node, std::chrono::steady_clock::time_point now,
                  uint64_t* age_ms) const;

  nats::Connection* const connection_;
  const Options options_;
  std::unique_ptr<nats::KeyValue> collections_, members_, nodes_, models_, snapshots_, datasets_,
      jobs_, aliases_, backups_;

  mutable std::mutex mutex_;  // Guards the view.
  mutable std::condition_variable changed_;
  uint64_t generation_ = 0;
  std::map<std::string, CollectionView> collection_view_;
  std::map<std::string, uint64_t> deleted_collections_;  // Revision of the deletion.
  std::map<std::string, bottleneck::cluster::MemberEntry> member_view_;
  std::map<std::string, bottleneck::cluster::NodeEntry> node_view_;  // Latest heartbeats.
  Liveness liveness_;

  struct Watch {
    std::unique_ptr<nats::KvWatcher> watcher;
    std::thread thread;
  };
  std::vector<std::unique_ptr<Watch>> watches_;
  bool stopped_ = false;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_METADATA_H_
