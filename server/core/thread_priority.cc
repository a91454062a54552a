#include "server/core/thread_priority.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/util/background.h"
#include "engine/util/log.h"

namespace bn {

void LowerThisThreadPriority(int level) {
  if (level <= 0) return;
  SetBackgroundThread(true);
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  if (level >= kIdlePriority) {
    sched_param param{};
    param.sched_priority = 0;
    if (sched_setscheduler(tid, SCHED_IDLE, &param) != 0) {
      BN_LOG(WARNING) << "cannot make a background thread SCHED_IDLE: " << std::strerror(errno);
    }
    return;
  }
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(tid), level) != 0) {
    BN_LOG(WARNING) << "cannot lower a background thread's priority: " << std::strerror(errno);
  }
}

}  // namespace bn
