#include "client/lib/raw_input.h"

#include <cmath>
#include <string>

namespace bn {

bottleneck::v1::Input GreyRowToInput(const FloatMatrix& images, int64_t row, int height,
                                     int width) {
  bottleneck::v1::Input input;
  bottleneck::v1::RawImage* raw = input.mutable_image()->mutable_raw();
  raw->set_height(height);
  raw->set_width(width);
  raw->set_channels(1);
  raw->set_pixel_type(bottleneck::v1::PIXEL_TYPE_UINT8);
  std::string bytes(images.cols, '\0');
  for (int64_t j = 0; j < images.cols; ++j) {
    bytes[j] = static_cast<char>(std::lround(images.at(row, j) * 255.0f));
  }
  raw->set_data(std::move(bytes));
  return input;
}

}  // namespace bn
