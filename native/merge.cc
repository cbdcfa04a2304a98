// JavaScript bindings of the fused channel merge (merge_kernel.h):
//   mergeChannelsSync(planes, layout, width, height, mode, weights, rgbOut, tensorOut, meanStd,
//                     threads) -> undefined
//   mergeChannels(...same...) -> Promise<undefined>   (runs on the libuv pool, off the event loop)
// planes: Array of 4 Uint8Array (red, green, blue, yellow) exactly as sharp's raw output gives them;
// layout: Int32Array(12), per plane [channels 1..4, bytesPerSample 1|2, component 0..channels-1 or
// -1 for floor((c0+c1)/2), which needs >= 3 channels]; mode: 0 sum, 1 average, 2 weights;
// weights: Float64Array(12) (row-major 3x4) for mode 2, else null; rgbOut: Uint8Array(w*h*3);
// tensorOut: Float32Array(3*w*h) or null; meanStd: Float64Array(6) [mean r,g,b, std r,g,b] when
// tensorOut is given, else null; threads: 0 (all cores) .. 256.
// Every argument is checked; a bad one throws TypeError/RangeError naming it.
#include <cstring>
#include <string>
#include <vector>

#include "async_work.h"
#include "merge_kernel.h"
#include "registry.h"
#include "validate.h"

namespace {

using hpa::ThrowRange;
using hpa::ThrowType;

constexpr int64_t kMaxSide = 1 << 20;
constexpr int64_t kMaxPixels = int64_t(1) << 30;

bool IsNullish(Napi::Value v) { return v.IsNull() || v.IsUndefined(); }

bool Overlaps(const void* a, size_t a_len, const void* b, size_t b_len) {
  const auto* pa = static_cast<const uint8_t*>(a);
  const auto* pb = static_cast<const uint8_t*>(b);
  return pa < pb + b_len && pb < pa + a_len;
}

// Parses and validates the 10 arguments; `keep` receives the objects the kernel touches.
hpa::merge::Params ParseMergeArgs(const Napi::CallbackInfo& info, std::vector<Napi::Value>* keep) {
  Napi::Env env = info.Env();
  hpa::merge::Params p;

  const int64_t width = hpa::IntArg(env, hpa::Arg(info, 2), "width", 1, kMaxSide);
  const int64_t height = hpa::IntArg(env, hpa::Arg(info, 3), "height", 1, kMaxSide);
  if (width * height > kMaxPixels) {
    ThrowRange(env, "width*height must be at most 2^30 pixels, got " +
                        std::to_string(width * height));
  }
  p.width = static_cast<size_t>(width);
  p.height = static_cast<size_t>(height);
  const size_t pixels = p.width * p.height;

  Napi::Value planes_v = hpa::Arg(info, 0);
  if (!planes_v.IsArray()) ThrowType(env, "planes must be an Array of 4 Uint8Array");
  Napi::Array planes = planes_v.As<Napi::Array>();
  if (planes.Length() != 4) {
    ThrowRange(env, "planes must have 4 entries (red, green, blue, yellow), got " +
                        std::to_string(planes.Length()));
  }
  Napi::Int32Array layout = hpa::TypedArrayArg<int32_t>(env, hpa::Arg(info, 1), "layout",
                                                        napi_int32_array, "Int32Array");
  if (layout.ElementLength() != 12) {
    ThrowRange(env, "layout must have 12 entries (3 per plane), got " +
                        std::to_string(layout.ElementLength()));
  }
  static const char* kNames[4] = {"planes[0] (red)", "planes[1] (green)", "planes[2] (blue)",
                                  "planes[3] (yellow)"};
  for (uint32_t k = 0; k < 4; ++k) {
    const std::string name = kNames[k];
    Napi::Value v = planes.Get(k);
    Napi::Uint8Array arr = hpa::TypedArrayArg<uint8_t>(env, v, name.c_str(), napi_uint8_array,
                                                       "Uint8Array");
    const int channels = layout[3 * k];
    const int bps = layout[3 * k + 1];
    const int component = layout[3 * k + 2];
    const std::string lname = "layout[" + std::to_string(3 * k);
    if (channels < 1 || channels > 4) {
      ThrowRange(env, lname + "] (channels of " + name + ") must be in [1, 4], got " +
                          std::to_string(channels));
    }
    if (bps != 1 && bps != 2) {
      ThrowRange(env, "layout[" + std::to_string(3 * k + 1) + "] (bytes per sample of " + name +
                          ") must be 1 or 2, got " + std::to_string(bps));
    }
    const bool average = component == hpa::merge::kAverageRG;
    if ((average && channels < 3) || (!average && (component < 0 || component >= channels))) {
      ThrowRange(env, "layout[" + std::to_string(3 * k + 2) + "] (component of " + name +
                          ") must be in [0, " + std::to_string(channels - 1) +
                          "] or -1 (mean of R and G, needs >= 3 channels), got " +
                          std::to_string(component));
    }
    const size_t expected = pixels * static_cast<size_t>(channels * bps);
    if (arr.ByteLength() != expected) {
      ThrowRange(env, name + " must hold width*height*channels*bytesPerSample = " +
                          std::to_string(expected) + " bytes, got " +
                          std::to_string(arr.ByteLength()));
    }
    p.planes[k] = {arr.Data(), channels, bps, component};
    keep->push_back(v);
  }

  const int64_t mode = hpa::IntArg(env, hpa::Arg(info, 4), "mode", 0, 2);
  p.mode = static_cast<hpa::merge::Mode>(mode);
  Napi::Value weights_v = hpa::Arg(info, 5);
  if (p.mode == hpa::merge::Mode::kWeights) {
    Napi::Float64Array w = hpa::TypedArrayArg<double>(env, weights_v, "weights",
                                                      napi_float64_array, "Float64Array");
    if (w.ElementLength() != 12) {
      ThrowRange(env, "weights must have 12 entries (3x4), got " +
                          std::to_string(w.ElementLength()));
    }
    for (size_t i = 0; i < 12; ++i) {
      if (!std::isfinite(w[i])) {
        ThrowRange(env, "weights[" + std::to_string(i) + "] must be finite");
      }
      p.weights[i] = w[i];
    }
  } else if (!IsNullish(weights_v)) {
    ThrowType(env, "weights must be null unless mode is 2 (weights)");
  }

  Napi::Uint8Array rgb = hpa::TypedArrayArg<uint8_t>(env, hpa::Arg(info, 6), "rgbOut",
                                                     napi_uint8_array, "Uint8Array");
  if (rgb.ByteLength() != pixels * 3) {
    ThrowRange(env, "rgbOut must hold width*height*3 = " + std::to_string(pixels * 3) +
                        " bytes, got " + std::to_string(rgb.ByteLength()));
  }
  p.rgb = rgb.Data();
  keep->push_back(rgb);

  Napi::Value tensor_v = hpa::Arg(info, 7);
  Napi::Value mean_std_v = hpa::Arg(info, 8);
  if (!IsNullish(tensor_v)) {
    Napi::Float32Array t = hpa::TypedArrayArg<float>(env, tensor_v, "tensorOut",
                                                     napi_float32_array, "Float32Array");
    if (t.ElementLength() != pixels * 3) {
      ThrowRange(env, "tensorOut must hold 3*width*height = " + std::to_string(pixels * 3) +
                          " floats, got " + std::to_string(t.ElementLength()));
    }
    Napi::Float64Array ms = hpa::TypedArrayArg<double>(env, mean_std_v, "meanStd",
                                                       napi_float64_array, "Float64Array");
    if (ms.ElementLength() != 6) {
      ThrowRange(env, "meanStd must have 6 entries (mean r,g,b then std r,g,b), got " +
                          std::to_string(ms.ElementLength()));
    }
    for (int c = 0; c < 3; ++c) {
      if (!std::isfinite(ms[c])) ThrowRange(env, "meanStd[" + std::to_string(c) + "] must be finite");
      if (!std::isfinite(ms[3 + c]) || !(ms[3 + c] > 0)) {
        ThrowRange(env, "meanStd[" + std::to_string(3 + c) + "] (std) must be finite and > 0");
      }
      p.mean[c] = ms[c];
      p.std[c] = ms[3 + c];
    }
    p.tensor = t.Data();
    keep->push_back(t);
  } else if (!IsNullish(mean_std_v)) {
    ThrowType(env, "meanStd must be null when tensorOut is null");
  }

  p.threads = static_cast<int>(hpa::IntArg(env, hpa::Arg(info, 9), "threads", 0, 256));

  // The kernel reads inputs while writing outputs: they must not share memory.
  for (int k = 0; k < 4; ++k) {
    const size_t len = pixels * static_cast<size_t>(p.planes[k].channels * p.planes[k].bytes_per_sample);
    if (Overlaps(p.rgb, pixels * 3, p.planes[k].data, len)) {
      ThrowRange(env, std::string("rgbOut must not overlap ") + kNames[k]);
    }
    if (p.tensor != nullptr && Overlaps(p.tensor, pixels * 12, p.planes[k].data, len)) {
      ThrowRange(env, std::string("tensorOut must not overlap ") + kNames[k]);
    }
  }
  if (p.tensor != nullptr && Overlaps(p.tensor, pixels * 12, p.rgb, pixels * 3)) {
    ThrowRange(env, "tensorOut must not overlap rgbOut");
  }
  return p;
}

Napi::Value MergeChannelsSync(const Napi::CallbackInfo& info) {
  std::vector<Napi::Value> keep;
  hpa::merge::Params p = ParseMergeArgs(info, &keep);
  hpa::merge::Run(p);
  return info.Env().Undefined();
}

Napi::Value MergeChannels(const Napi::CallbackInfo& info) {
  std::vector<Napi::Value> keep;
  hpa::merge::Params p = ParseMergeArgs(info, &keep);
  return hpa::RunAsyncVoid(info.Env(), hpa::KeepAlive(keep), [p] { hpa::merge::Run(p); });
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("mergeChannelsSync", Napi::Function::New(env, MergeChannelsSync, "mergeChannelsSync"));
  exports.Set("mergeChannels", Napi::Function::New(env, MergeChannels, "mergeChannels"));
}

}  // namespace

HPA_REGISTER_MODULE(merge, Init);
