// Trims a collection's log: deletes the messages every shard's latest snapshot already holds,
// so the log keeps about one snapshot interval of writes instead of every write ever made.
//
// Messages are deleted one by one ($JS.API.STREAM.MSG.DELETE), never purged: on nats-server
// 2.9.10 a restarted server may replay a purge as a compaction of the whole stream and lose
// later messages (nats-io/nats-server#4196; docs/notes/cluster-log-trimming.md).
//
// Why it is safe. A shard's snapshot at log position P holds every write of the shard up to P.
// If the shard has no message in the log between P and C (the next message of the shard, or the
// end of the log), every message below C is either in the snapshot or another shard's. The
// trimmer takes T = min over shards of C and works in two steps, each stored in the collection's
// LogTrimEntry (snapshots bucket) before it acts:
//   1. trimmed_below = T with each shard's P (shard_positions); then it waits one node lease, so
//      that every live replica has reported in a heartbeat how far it has applied;
//   2. deleting_below = D = min(T, applied + 1 of every live replica that still needs messages
//      below T), then it deletes the messages below D.
// A replica that applied its shard's log up to A may have lost messages to the trim exactly
// when A + 1 < deleting_below and A < the shard's position P under which deleting_below was set
// (deleting_positions; TrimmedPast). Replicas check that
// when they start (Prepare) and after every fetch that skips sequences (the consumer cannot tell
// a deleted message from another shard's): a replica that was down, or too slow to be counted,
// restores the shard's latest snapshot instead of replaying a log with holes. The heartbeat cap
// only keeps live replicas from being forced to do that. Nothing is trimmed while a member node
// (dead ones too, by their last heartbeat) runs a build without these checks
// (NodeEntry.checks_log_trim).
//
// Thread safety: every method may be called from any thread.
#ifndef BOTTLENECK_SERVER_CLUSTER_LOG_TRIMMER_H_
#define BOTTLENECK_SERVER_CLUSTER_LOG_TRIMMER_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "bottleneck/cluster/internal.pb.h"
#include "server/cluster/context.h"

namespace bn::cluster {

// The collection's trim record; nullopt when its log was never trimmed.
[[nodiscard]] absl::StatusOr<std::optional<bottleneck::cluster::LogTrimEntry>> ReadLogTrim(
    const ClusterContext& context, const std::string& collection, uint64_t incarnation);

// True when a replica of `shard` that has applied the shard's log up to `applied` may have lost
// messages to `trim` (it must restore the shard's snapshot instead of following the log).
bool TrimmedPast(const bottleneck::cluster::LogTrimEntry& trim, uint32_t shard, uint64_t applied);

class LogTrimmer {
 public:
  explicit LogTrimmer(const ClusterContext& context);
  ~LogTrimmer();  // Stop().
  LogTrimmer(const LogTrimmer&) = delete;
  LogTrimmer& operator=(const LogTrimmer&) = delete;

  void Start();
  void Stop();  // Idempotent; interrupts a trim in progress (it resumes from its record).

  // Asks the trimmer's thread to trim `entry`'s log (a request already waiting for the same
  // collection is replaced). The thread announces every waiting collection's bound, waits one
  // lease for all of them, then deletes.
  void Request(const bottleneck::cluster::CollectionEntry& entry);

 private:
  struct Result {
    uint64_t deleting_below = 0;  // The bound of this run (0: nothing to trim).
    uint64_t deleted = 0;         // Messages deleted by this run.
  };
  // One collection's trim between its two steps.
  struct Pass {
    bottleneck::cluster::CollectionEntry entry;
    std::string key;  // Of its LogTrimEntry.
    bottleneck::cluster::LogTrimEntry trim;
    uint64_t revision = 0;        // The record's, 0 when it has none yet.
    uint64_t first_sequence = 0;  // The log's, when the pass began.
  };
  // Step 1: reads the snapshots and the record, and stores a higher trimmed_below (then sets
  // `*announced`). False when nothing is to be trimmed (a member of an older build, no shard).
  absl::StatusOr<bool> Announce(Pass* pass, bool* announced);
  // Step 2, one lease after an announcement: stores deleting_below and deletes below it.
  // FAILED_PRECONDITION when another node updated the record meanwhile (it trims), UNAVAILABLE
  // when NATS does not answer; a trim stopped midway resumes from the record's deleted_below.
  absl::StatusOr<Result> Delete(Pass* pass);
  void Run();
  bool Sleep(std::chrono::milliseconds duration);  // False when stopped.
  // Stores `trim` over `*revision` (Create when 0) and updates `*revision`.
  absl::Status Store(const std::string& key, bottleneck::cluster::LogTrimEntry* trim,
                     uint64_t* revision);

  const ClusterContext context_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, bottleneck::cluster::CollectionEntry> pending_;  // By collection.
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_LOG_TRIMMER_H_
