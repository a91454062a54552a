#include "engine/util/background.h"

#include <sched.h>

namespace bn {
namespace {

thread_local bool background_thread = false;
thread_local uint64_t yields = 0;

}  // namespace

void SetBackgroundThread(bool background) { background_thread = background; }

bool IsBackgroundThread() { return background_thread; }

void BackgroundYield() {
  if (!background_thread) return;
  ++yields;
  sched_yield();
}

uint64_t BackgroundYieldCount() { return yields; }

}  // namespace bn
