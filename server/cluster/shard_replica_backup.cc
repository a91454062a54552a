// ShardReplica's part in a cluster backup (cluster_backups.h): the hold of its apply loop and
// the cut snapshot. The apply loop itself is in shard_replica.cc.
#include <ctime>

#include "absl/strings/str_cat.h"
#include "engine/store/collection_store.h"
#include "engine/util/log.h"
#include "server/cluster/blob_channel.h"
#include "server/cluster/nats_client.h"
#include "server/cluster/shard_replica.h"
#include "server/cluster/snapshot_blob.h"
#include "server/core/runtime.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;
using Clock = std::chrono::steady_clock;

}  // namespace

bool ShardReplica::WaitWhileHeld(uint64_t sequence) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopped_ && hold_id_ != 0 && (!hold_limit_.has_value() || sequence > *hold_limit_)) {
    if (Clock::now() >= hold_until_) {
      BN_LOG(WARNING) << "shard " << local_ << ": backup hold " << Hex(hold_id_)
                      << " expired before its cut; applying the log again";
      hold_id_ = 0;
      hold_limit_.reset();
      break;
    }
    applied_cv_.wait_until(lock, hold_until_);
  }
  return !stopped_;
}

absl::Status ShardReplica::Hold(uint64_t backup_id, std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_) return absl::UnavailableError("the replica is stopping");
  if (hold_id_ != 0 && hold_id_ != backup_id && Clock::now() < hold_until_) {
    return absl::UnavailableError(absl::StrCat("shard ", shard_, " of collection '", collection_,
                                               "' on node ", context_.options->node_id,
                                               " is held by another backup; retry"));
  }
  hold_id_ = backup_id;
  hold_limit_.reset();
  hold_start_ = Clock::now();
  hold_until_ = hold_start_ + timeout;
  return absl::OkStatus();
}

void ShardReplica::Release(uint64_t backup_id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (hold_id_ != backup_id) return;
    hold_id_ = 0;
    hold_limit_.reset();
  }
  applied_cv_.notify_all();
}

absl::StatusOr<pb::SnapshotEntry> ShardReplica::Cut(
    uint64_t backup_id, uint64_t cut, std::chrono::system_clock::time_point deadline) {
  const auto started = Clock::now();
  Clock::time_point hold_start;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (hold_id_ != backup_id) {
      return absl::FailedPreconditionError(
          absl::StrCat("shard ", shard_, " of collection '", collection_, "' on node ",
                       context_.options->node_id,
                       " is no longer held for this backup (the hold expired); retry the backup"));
    }
    hold_limit_ = cut;
    hold_start = hold_start_;
    hold_until_ = started + std::chrono::duration_cast<Clock::duration>(
                                deadline - std::chrono::system_clock::now());
  }
  applied_cv_.notify_all();
  auto fail = [&](absl::Status s) {
    Release(backup_id);
    return s;
  };
  if (applied_.load() > cut) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("shard ", shard_, " of collection '", collection_, "' has applied ",
                     applied_.load(), ", past the cut ", cut, "; retry the backup")));
  }
  // Every message of this shard up to the cut applied (the cut is a sequence the log had when
  // it was read, so every message at or below it is stored). Not WaitForSequence: its shortcut
  // (complete_through_) trusts sequences that searches name.
  while (true) {
    auto next = context_.nats->NextMessage(stream_, subject_, applied_.load() + 1);
    if (!next.ok()) return fail(absl::UnavailableError(std::string(next.status().message())));
    if (!next->has_value() || (*next)->stream_sequence > cut) break;
    const uint64_t target = (*next)->stream_sequence;
    std::unique_lock<std::mutex> lock(mutex_);
    if (!applied_cv_.wait_until(lock, deadline,
                                [&] { return stopped_ || applied_.load() >= target; }) ||
        stopped_) {
      lock.unlock();
      return fail(absl::UnavailableError(
          absl::StrCat("shard ", shard_, " of collection '", collection_, "' on node ",
                       context_.options->node_id, " has applied its log up to ", applied_.load(),
                       ", not yet the backup's cut ", cut)));
    }
  }
  auto runtime = this->runtime();
  if (runtime == nullptr) return fail(absl::UnavailableError("the replica is not prepared"));
  const pb::SnapshotHeader header = SnapshotHeaderAt(cut, *runtime);
  SnapshotBlobWriter writer(context_.snapshot_blobs, header);
  Clock::time_point taken;
  CollectionStore store(context_.store);
  absl::Status scanned = store.ScanItemsWithCodes(
      local_, header.code_version(),
      [&](const Item& item, absl::string_view code) {
        return writer.Add(item.id, item.record, code);
      },
      nullptr,
      [&] {
        // The store's snapshot holds exactly the log up to `cut`: the loop may go on.
        taken = Clock::now();
        Release(backup_id);
      });
  Release(backup_id);
  if (!scanned.ok()) return scanned;
  auto entry = writer.Finish(context_.options->node_id);
  if (!entry.ok()) return entry.status();
  const uint64_t items = entry->items();
  BN_LOG(INFO)
      << "shard " << local_ << ": backup cut at log position " << cut << ": " << items << " items, "
      << entry->blob().size() << " bytes; apply held for "
      << std::chrono::duration_cast<std::chrono::milliseconds>(taken - hold_start).count()
      << " ms (" << std::chrono::duration_cast<std::chrono::milliseconds>(taken - started).count()
      << " ms after the cut arrived), blob written "
      << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - taken).count()
      << " ms later";
  return entry;
}

}  // namespace bn::cluster
