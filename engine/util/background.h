// Cooperative yielding for background threads (training jobs, ingest, index maintenance).
//
// The service runs background work at SCHED_IDLE so that queries take the CPU first. On Linux's
// EEVDF scheduler (6.6 and later) that is not strict: a query thread that wakes while its lag is
// negative is not yet eligible, the CPU may pick a SCHED_IDLE thread instead, and nothing picks
// again until something else wakes on that CPU or the next scheduler tick (4 ms at HZ=250).
// `perf sched` showed exactly that: search threads queued for 2-4 ms behind a SCHED_IDLE ingest
// thread while the other core was halted. BackgroundYield() between short units of work (one
// oneDNN primitive, one index insert) makes the scheduler choose again, which bounds such a
// wait by the unit's length instead of the tick.
//
// Thread safety: the mark is per thread (thread_local); threads a marked thread starts are not
// marked. BackgroundYield() is cheap: a thread-local load when unmarked, one sched_yield()
// system call (about a microsecond) when marked.
#ifndef BOTTLENECK_ENGINE_UTIL_BACKGROUND_H_
#define BOTTLENECK_ENGINE_UTIL_BACKGROUND_H_

#include <cstdint>

namespace bn {

// Marks (or unmarks) the calling thread as running background work.
void SetBackgroundThread(bool background);
[[nodiscard]] bool IsBackgroundThread();

// Offers the CPU to other runnable threads if the calling thread is marked; no-op otherwise.
void BackgroundYield();

// How many times the calling thread has yielded in BackgroundYield() (for tests).
[[nodiscard]] uint64_t BackgroundYieldCount();

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_UTIL_BACKGROUND_H_
