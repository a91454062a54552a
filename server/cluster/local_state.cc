#include "server/cluster/local_state.h"

#include <filesystem>

#include "engine/util/atomic_file.h"

namespace bn::cluster {

absl::StatusOr<std::unique_ptr<LocalState>> LocalState::Load(const std::string& data_dir) {
  const std::filesystem::path dir = std::filesystem::path(data_dir) / "cluster";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::PermissionDeniedError("cannot create " + dir.string() + ": " + ec.message());
  std::unique_ptr<LocalState> state(new LocalState((dir / "local.pb").string()));
  auto bytes = ReadFileToString(state->path_);
  if (!bytes.ok()) {
    if (bytes.status().code() == absl::StatusCode::kNotFound) return state;
    return bytes.status();
  }
  if (!state->state_.ParseFromString(*bytes)) {
    return absl::DataLossError(state->path_ +
                               " is corrupt (remove it: the node then rebuilds its "
                               "shards from snapshots and logs)");
  }
  return state;
}

std::optional<bottleneck::cluster::LocalCollection> LocalState::Get(
    const std::string& local_name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = state_.collections().find(local_name);
  if (it == state_.collections().end()) return std::nullopt;
  return it->second;
}

std::map<std::string, bottleneck::cluster::LocalCollection> LocalState::All() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {state_.collections().begin(), state_.collections().end()};
}

absl::Status LocalState::Put(const std::string& local_name,
                             const bottleneck::cluster::LocalCollection& collection) {
  std::lock_guard<std::mutex> lock(mutex_);
  (*state_.mutable_collections())[local_name] = collection;
  return SaveLocked();
}

absl::Status LocalState::Erase(const std::string& local_name) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_.mutable_collections()->erase(local_name) == 0) return absl::OkStatus();
  return SaveLocked();
}

absl::Status LocalState::SaveLocked() {
  return WriteFileAtomically(path_, state_.SerializeAsString());
}

}  // namespace bn::cluster
