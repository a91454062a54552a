// Disk watermark of a data directory, in the spirit of Elasticsearch's flood stage: when the free
// space of the directory's filesystem falls below a threshold, writes that add data are refused
// with ResourceExhausted (naming the free space and the flags) while reads go on. The space kept
// free is the reserve that RocksDB's flushes, compactions, error recovery and a restart's WAL
// replay need. The block lifts by itself once space returns: every check measures afresh, and a
// watcher thread measures every poll interval, reports changes and lets the store recover.
//
// Thread safety: every method may be called from any thread.
#ifndef BOTTLENECK_ENGINE_STORE_DISK_GUARD_H_
#define BOTTLENECK_ENGINE_STORE_DISK_GUARD_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bn {

struct DiskSpace {
  uint64_t free_bytes = 0;   // Available to unprivileged writers (statvfs f_bavail).
  uint64_t total_bytes = 0;  // Size of the filesystem.
};

// statvfs of `dir`. Errors: ErrnoStatus of the call.
[[nodiscard]] absl::StatusOr<DiskSpace> MeasureDiskSpace(const std::string& dir);

struct DiskWatermarks {
  // Writes are refused while the free space is below max(flood_free_bytes, flood_free_percent %
  // of the filesystem). 0 and 0: no watermark.
  uint64_t flood_free_bytes = uint64_t{256} << 20;
  int flood_free_percent = 2;
  // How often the watcher measures (and the store retries recovery from a background error).
  std::chrono::milliseconds poll_interval{1000};
  // How free space is measured; null: MeasureDiskSpace. Tests simulate a small disk with it.
  std::function<absl::StatusOr<DiskSpace>(const std::string& dir)> measure;
};

class DiskGuard {
 public:
  DiskGuard(std::string dir, DiskWatermarks watermarks);
  ~DiskGuard();  // Stop().
  DiskGuard(const DiskGuard&) = delete;
  DiskGuard& operator=(const DiskGuard&) = delete;

  // Measures now. OK when a write of about `bytes` leaves at least the flood threshold free;
  // otherwise ResourceExhausted "<dir> has N free of T, below the flood threshold ...". A failed
  // measurement lets the write through (RocksDB reports a real ENOSPC itself).
  [[nodiscard]] absl::Status CheckWrite(uint64_t bytes);

  // The threshold for a filesystem of `total_bytes`.
  uint64_t FloodThreshold(uint64_t total_bytes) const;
  // From the last measurement. below_flood: free space is below the threshold, or too close to
  // it for the last refused write.
  uint64_t free_bytes() const { return free_bytes_.load(); }
  uint64_t total_bytes() const { return total_bytes_.load(); }
  bool below_flood() const { return below_flood_.load(); }

  // Starts the watcher: every poll interval it measures, then calls on_poll(below_flood) (the
  // store recovers from background errors there and reports its state). Once.
  void Start(std::function<void(bool below_flood)> on_poll);
  // Stops and joins the watcher. Idempotent.
  void Stop();

 private:
  // Measures and records; logs one line when the state changes. False when the measurement
  // failed (nothing recorded).
  bool Measure(DiskSpace* space);

  const std::string dir_;
  const DiskWatermarks watermarks_;
  std::atomic<uint64_t> free_bytes_{0};
  std::atomic<uint64_t> total_bytes_{0};
  std::atomic<bool> below_flood_{false};
  std::atomic<uint64_t> refused_bytes_{0};  // Size of the last refused write, until it would pass.
  std::mutex log_mutex_;                    // Orders the state-change log lines.
  bool logged_below_ = false;

  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::thread watcher_;
};

// "12.3 MiB" style.
std::string HumanBytes(uint64_t bytes);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_STORE_DISK_GUARD_H_
