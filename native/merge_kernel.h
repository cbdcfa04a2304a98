// The fused HPA channel merge: 4 decoded channel images in, interleaved RGB uint8 out (and, in the
// same pass, an optional normalized float32 CHW tensor). Pure C++ (no N-API), so the kernel can be
// read, tested and benchmarked on its own; merge.cc binds it to JavaScript.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hpa {
namespace merge {

// How one channel's 8-bit value is taken from a decoded pixel (sharp's raw layout).
struct PlaneLayout {
  const uint8_t* data;  // width*height*channels samples, row-major, interleaved
  int channels;         // 1..4 samples per pixel (gray, gray+alpha, RGB, RGBA)
  int bytes_per_sample; // 1 (8-bit) or 2 (16-bit, native little-endian; reduced with v >> 8)
  // Component to read: 0..channels-1, or kAverageRG for floor((c0 + c1) / 2) (the yellow file of
  // a colour-tinted HPA field, whose yellow is drawn as red + green).
  int component;
};
constexpr int kAverageRG = -1;

enum class Mode { kSum = 0, kAverage = 1, kWeights = 2 };

struct Params {
  PlaneLayout planes[4];  // red, green, blue, yellow
  size_t width = 0;
  size_t height = 0;
  Mode mode = Mode::kSum;
  double weights[12] = {0};  // row-major 3x4 (output R,G,B x input R,G,B,Y), kWeights only
  uint8_t* rgb = nullptr;    // width*height*3 output
  float* tensor = nullptr;   // optional 3*width*height output, CHW
  double mean[3] = {0, 0, 0};
  double std[3] = {1, 1, 1};
  int threads = 1;  // 0: all hardware threads; large images are split by rows
};

// Runs the merge. Arguments are assumed valid (merge.cc validates them); never throws.
void Run(const Params& p);

// Images below this many pixels are merged on the calling thread: starting threads costs more.
constexpr size_t kMinPixelsPerThread = 512 * 512;

}  // namespace merge
}  // namespace hpa
