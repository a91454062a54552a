// Builds API inputs from decoded datasets: a grey image row of a FloatMatrix (pixels in [0, 1])
// as a RawImage of uint8 pixels. Shared by the CLI, the integration tests and the benchmarks.
#ifndef BOTTLENECK_CLIENT_LIB_RAW_INPUT_H_
#define BOTTLENECK_CLIENT_LIB_RAW_INPUT_H_

#include <cstdint>

#include "bottleneck/v1/common.pb.h"
#include "engine/util/matrix.h"

namespace bn {

// Row `row` of `images` (height * width grey pixels in [0, 1]) as an Input.
bottleneck::v1::Input GreyRowToInput(const FloatMatrix& images, int64_t row, int height, int width);

}  // namespace bn

#endif  // BOTTLENECK_CLIENT_LIB_RAW_INPUT_H_
