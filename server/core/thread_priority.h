// Lowering the scheduling priority of the calling thread, for background work (training jobs,
// ingest) that must leave the CPU to queries.
//
// Thread safety: affects only the calling thread (and threads it starts later, which inherit it).
#ifndef BOTTLENECK_SERVER_CORE_THREAD_PRIORITY_H_
#define BOTTLENECK_SERVER_CORE_THREAD_PRIORITY_H_

namespace bn {

// The highest value: SCHED_IDLE, below every nice level (the thread runs only on a core that
// nothing else wants, and a waking query preempts it at once).
inline constexpr int kIdlePriority = 20;

// level 0: unchanged; 1..19: that niceness; kIdlePriority: SCHED_IDLE. Failures are logged (an
// unprivileged process may always lower its own priority, so they are not expected).
void LowerThisThreadPriority(int level);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_THREAD_PRIORITY_H_
