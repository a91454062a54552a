#include "tests/integration/client_util.h"

#include <chrono>

namespace bn::testing {

std::unique_ptr<grpc::ClientContext> Ctx(int seconds) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return c;
}

bottleneck::v1::Input RawGrey(int height, int width, std::string pixels) {
  bottleneck::v1::Input input;
  bottleneck::v1::RawImage* raw = input.mutable_image()->mutable_raw();
  raw->set_height(height);
  raw->set_width(width);
  raw->set_channels(1);
  raw->set_pixel_type(bottleneck::v1::PIXEL_TYPE_UINT8);
  raw->set_data(std::move(pixels));
  return input;
}

}  // namespace bn::testing
