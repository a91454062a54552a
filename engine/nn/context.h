// The oneDNN CPU engine and stream every nn layer executes on.
//
// Thread safety: a NnContext (its stream) must be used by one thread at a time; give each
// concurrently running network its own context. Creation never throws.
#ifndef BOTTLENECK_ENGINE_NN_CONTEXT_H_
#define BOTTLENECK_ENGINE_NN_CONTEXT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace bn {

struct NnContext {
  dnnl::engine engine;
  dnnl::stream stream;
};

// A new CPU engine + in-order stream. Internal if oneDNN fails.
[[nodiscard]] absl::StatusOr<std::shared_ptr<NnContext>> NewNnContext();

// Sets the number of OpenMP threads oneDNN uses from the calling thread (n <= 0: unchanged).
void SetNnThreads(int n);

// Converts a caught dnnl::error into an Internal status naming `what`.
absl::Status DnnlError(const char* what, const dnnl::error& e);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_NN_CONTEXT_H_
