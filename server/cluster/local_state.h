// Which cluster shard (or training workspace) each of a node's local collections holds, kept in
// <data-dir>/cluster/local.pb (written atomically). A local collection of another incarnation
// than the cluster's (the collection was deleted and created again while this node was down) is
// recognised by it and dropped.
//
// Thread safety: every method may be called from any thread.
#ifndef BOTTLENECK_SERVER_CLUSTER_LOCAL_STATE_H_
#define BOTTLENECK_SERVER_CLUSTER_LOCAL_STATE_H_

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "bottleneck/cluster/internal.pb.h"

namespace bn::cluster {

class LocalState {
 public:
  // Loads <data_dir>/cluster/local.pb (empty when missing). DataLoss for a corrupt file.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<LocalState>> Load(
      const std::string& data_dir);

  std::optional<bottleneck::cluster::LocalCollection> Get(const std::string& local_name) const;
  std::map<std::string, bottleneck::cluster::LocalCollection> All() const;
  // Records (or forgets) a local collection and writes the file.
  [[nodiscard]] absl::Status Put(const std::string& local_name,
                                 const bottleneck::cluster::LocalCollection& collection);
  [[nodiscard]] absl::Status Erase(const std::string& local_name);

 private:
  explicit LocalState(std::string path) : path_(std::move(path)) {}
  absl::Status SaveLocked();

  const std::string path_;
  mutable std::mutex mutex_;
  bottleneck::cluster::LocalState state_;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_LOCAL_STATE_H_
