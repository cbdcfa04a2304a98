// N-API argument parsing shared by roi_align.cc and multiscale_roi_align.cc (main thread only),
// and the float result buffer handed to JS without a copy.
#pragma once
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <utility>
#include <string>

#include "async_work.h"
#include "large_buffer.h"
#include "roi_align.h"
#include "validate.h"

namespace hpa {
namespace roi {

// Largest element count accepted for one array (keeps int32 plane offsets and size math safe).
constexpr int64_t kMaxElements = int64_t{1} << 40;

// A float result buffer (uninitialised unless zeroed(); large ones mapped and reused, see
// large_buffer.h), moved into a Float32Array without a copy (or copied where the runtime forbids
// external buffers).
using FloatBuffer = LargeBuffer<float>;

inline Napi::Float32Array ToFloat32Array(Napi::Env env, FloatBuffer&& buf) {
  return ToTypedArray(env, std::move(buf));
}

// Runs a synchronous kernel call, turning an allocation failure (an output too large for the
// machine) into a RangeError instead of a C++ exception escaping the binding.
template <typename F>
auto RunSyncKernel(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    ThrowRange(env, "out of memory for the kernel's output buffers");
  }
}

inline Napi::Float32Array FloatArrayArg(Napi::Env env, Napi::Value v, const char* name) {
  return TypedArrayArg<float>(env, v, name, napi_float32_array, "Float32Array");
}

// featureShape: an array of 4 integers [N, C, H, W] with N, C >= 0 and H, W >= 1.
inline void ParseFeatureShape(Napi::Env env, Napi::Value v, const char* name, Config& cfg) {
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 4) {
    ThrowType(env, std::string(name) + " must be an array of 4 integers [N, C, H, W]");
  }
  Napi::Array a = v.As<Napi::Array>();
  const std::string n = name;
  cfg.n = IntArg(env, a.Get(0u), (n + "[0] (N)").c_str(), 0, int64_t{1} << 30);
  cfg.c = IntArg(env, a.Get(1u), (n + "[1] (C)").c_str(), 0, int64_t{1} << 30);
  cfg.h = IntArg(env, a.Get(2u), (n + "[2] (H)").c_str(), 1, int64_t{1} << 20);
  cfg.w = IntArg(env, a.Get(3u), (n + "[3] (W)").c_str(), 1, int64_t{1} << 20);
  if (cfg.h * cfg.w > (int64_t{1} << 31) - 1) ThrowRange(env, n + ": H*W must be below 2^31");
  if (static_cast<double>(cfg.n) * cfg.c * cfg.h * cfg.w > static_cast<double>(kMaxElements)) {
    ThrowRange(env, n + ": N*C*H*W is too large");
  }
}

// outputH, outputW: integers in [1, 4096]; spatialScale > 0 finite; samplingRatio integer
// in [-2^31, 1024]; aligned boolean; threads integer in [0, 256] (0 = default).
inline void ParseOptions(Napi::Env env, const Napi::CallbackInfo& info, size_t first, Config& cfg, int& threads,
                         bool with_scale = true) {
  size_t i = first;
  cfg.ph = static_cast<int>(IntArg(env, Arg(info, i++), "outputSize[0] (height)", 1, 4096));
  cfg.pw = static_cast<int>(IntArg(env, Arg(info, i++), "outputSize[1] (width)", 1, 4096));
  if (with_scale) {
    const double s = NumberArg(env, Arg(info, i++), "spatialScale");
    if (!(s > 0) || s > 1e6) ThrowRange(env, "spatialScale must be in (0, 1e6], got " + std::to_string(s));
    cfg.scale = static_cast<float>(s);
  }
  cfg.sampling_ratio = static_cast<int>(IntArg(env, Arg(info, i++), "samplingRatio", INT32_MIN, 1024));
  cfg.aligned = BoolArg(env, Arg(info, i++), "aligned");
  Napi::Value t = Arg(info, i++);
  threads = t.IsUndefined() ? 0 : static_cast<int>(IntArg(env, t, "threads", 0, kMaxThreads));
}

// rois: Float32Array of length K*5 with finite values and valid batch indices.
inline int64_t ParseRois(Napi::Env env, const Napi::Float32Array& rois, const Config& cfg) {
  if (rois.ElementLength() % 5 != 0) {
    ThrowRange(env, "rois length must be a multiple of 5 ([K, 5]: batchIndex, x1, y1, x2, y2), got " +
                        std::to_string(rois.ElementLength()));
  }
  const int64_t k = static_cast<int64_t>(rois.ElementLength() / 5);
  const std::string err = CheckRois(cfg, rois.Data(), k);
  if (!err.empty()) ThrowRange(env, err);
  return k;
}

inline void CheckLength(Napi::Env env, const Napi::TypedArray& a, int64_t expected, const std::string& name,
                        const std::string& what) {
  if (static_cast<int64_t>(a.ElementLength()) != expected) {
    ThrowRange(env, name + " length must be " + what + " = " + std::to_string(expected) + ", got " +
                        std::to_string(a.ElementLength()));
  }
}

}  // namespace roi
}  // namespace hpa
