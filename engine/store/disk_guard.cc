#include "engine/store/disk_guard.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstdio>

#include "engine/util/atomic_file.h"
#include "engine/util/log.h"

namespace bn {

std::string HumanBytes(uint64_t bytes) {
  char buffer[32];
  const double b = static_cast<double>(bytes);
  if (bytes >= (uint64_t{1} << 30)) {
    std::snprintf(buffer, sizeof(buffer), "%.2f GiB", b / (1 << 30));
  } else if (bytes >= (uint64_t{1} << 20)) {
    std::snprintf(buffer, sizeof(buffer), "%.1f MiB", b / (1 << 20));
  } else if (bytes >= 1024) {
    std::snprintf(buffer, sizeof(buffer), "%.1f KiB", b / 1024);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%llu B", static_cast<unsigned long long>(bytes));
  }
  return buffer;
}

absl::StatusOr<DiskSpace> MeasureDiskSpace(const std::string& dir) {
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0) return ErrnoStatus(errno, "statvfs '" + dir + "'");
  DiskSpace space;
  space.free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  space.total_bytes = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  return space;
}

DiskGuard::DiskGuard(std::string dir, DiskWatermarks watermarks)
    : dir_(std::move(dir)), watermarks_(std::move(watermarks)) {
  DiskSpace space;
  Measure(&space);
}

DiskGuard::~DiskGuard() { Stop(); }

uint64_t DiskGuard::FloodThreshold(uint64_t total_bytes) const {
  const uint64_t by_percent = static_cast<uint64_t>(static_cast<double>(total_bytes) *
                                                    watermarks_.flood_free_percent / 100);
  return std::max(watermarks_.flood_free_bytes, by_percent);
}

bool DiskGuard::Measure(DiskSpace* space) {
  absl::StatusOr<DiskSpace> measured =
      watermarks_.measure ? watermarks_.measure(dir_) : MeasureDiskSpace(dir_);
  if (!measured.ok()) return false;
  *space = *measured;
  free_bytes_.store(space->free_bytes);
  total_bytes_.store(space->total_bytes);
  const uint64_t threshold = FloodThreshold(space->total_bytes);
  // Blocked while the last refused write would still be refused (a write is refused when it
  // would take the free space below the threshold).
  const uint64_t pending = refused_bytes_.load();
  const bool below = space->free_bytes < threshold + pending;
  if (!below && pending > 0) refused_bytes_.store(0);
  below_flood_.store(below);
  std::lock_guard<std::mutex> lock(log_mutex_);
  if (below != logged_below_) {
    logged_below_ = below;
    if (below) {
      BN_LOG(WARNING) << "disk: writes blocked: " << dir_ << " has "
                      << HumanBytes(space->free_bytes) << " free of "
                      << HumanBytes(space->total_bytes) << ", below the flood threshold of "
                      << HumanBytes(threshold)
                      << " (--disk-flood-free-bytes, --disk-flood-free-percent); searches go on, "
                         "writes resume when space is freed";
    } else {
      BN_LOG(INFO) << "disk: writes resumed: " << dir_ << " has " << HumanBytes(space->free_bytes)
                   << " free, above the flood threshold of " << HumanBytes(threshold);
    }
  }
  return true;
}

absl::Status DiskGuard::CheckWrite(uint64_t bytes) {
  if (watermarks_.flood_free_bytes == 0 && watermarks_.flood_free_percent == 0) {
    return absl::OkStatus();
  }
  DiskSpace space;
  if (!Measure(&space)) return absl::OkStatus();
  const uint64_t threshold = FloodThreshold(space.total_bytes);
  if (space.free_bytes >= threshold && space.free_bytes - threshold >= bytes) {
    return absl::OkStatus();
  }
  if (!below_flood_.load()) {
    refused_bytes_.store(bytes);  // The state follows the refusal (see Measure).
    Measure(&space);
  }
  std::string message = "disk full: the data directory " + dir_ + " has " +
                        HumanBytes(space.free_bytes) + " free of " + HumanBytes(space.total_bytes);
  if (bytes > 0) message += " (this write needs about " + HumanBytes(bytes) + ")";
  message += ", below the flood threshold of " + HumanBytes(threshold) +
             " kept free for the store's recovery (--disk-flood-free-bytes=" +
             std::to_string(watermarks_.flood_free_bytes) +
             ", --disk-flood-free-percent=" + std::to_string(watermarks_.flood_free_percent) +
             "); writes are refused until space is freed, reads and searches go on";
  return absl::ResourceExhaustedError(message);
}

void DiskGuard::Start(std::function<void(bool below_flood)> on_poll) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (watcher_.joinable() || stopped_) return;
  watcher_ = std::thread([this, on_poll = std::move(on_poll)] {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopped_) {
      cv_.wait_for(lock, watermarks_.poll_interval);
      if (stopped_) break;
      lock.unlock();
      DiskSpace space;
      if (Measure(&space) && on_poll) on_poll(below_flood_.load());
      lock.lock();
    }
  });
}

void DiskGuard::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopped_ = true;
  }
  cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

}  // namespace bn
