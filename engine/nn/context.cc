#include "engine/nn/context.h"

#include <omp.h>

#include <string>

namespace bn {

absl::StatusOr<std::shared_ptr<NnContext>> NewNnContext() {
  try {
    auto ctx = std::make_shared<NnContext>();
    ctx->engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
    ctx->stream = dnnl::stream(ctx->engine);
    return ctx;
  } catch (const dnnl::error& e) {
    return DnnlError("creating the CPU engine", e);
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("creating the CPU engine: ") + e.what());
  }
}

void SetNnThreads(int n) {
  if (n > 0) omp_set_num_threads(n);
}

absl::Status DnnlError(const char* what, const dnnl::error& e) {
  return absl::InternalError(std::string("oneDNN error while ") + what + ": " + e.what() +
                             " (status " + std::to_string(static_cast<int>(e.status)) + ")");
}

}  // namespace bn
