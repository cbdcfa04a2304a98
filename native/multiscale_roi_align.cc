// Multi-scale RoIAlign over FPN levels (torchvision.ops.MultiScaleRoIAlign), forward and backward.
//
//   roiLevelsSync(rois, scales, canonicalScale, canonicalLevel) -> Int32Array [K] level index per
//     RoI (0 = first level), -1 where the box area is negative or NaN (no level: zero output)
//   multiScaleRoiAlignSync(levelData[], levelShapes[], rois, outH, outW, scales[], samplingRatio,
//     aligned, canonicalScale, canonicalLevel, threads?) -> { output: Float32Array [K,C,outH,outW],
//     levels: Int32Array [K] }
//   multiScaleRoiAlignBackwardSync(gradOutput, rois, levelShapes[], levels, outH, outW, scales[],
//     samplingRatio, aligned, threads?) -> Float32Array[] (one gradient per level)
//   multiScaleRoiAlign / multiScaleRoiAlignBackward: Promise-returning variants.
//
// Level mapping (torchvision's LevelMapper, in float32 as torch computes it):
//   level = clamp(floor(canonicalLevel + log2(sqrt(area) / canonicalScale) + 1e-6), kMin, kMax) - kMin
// with kMin = -log2(scales[0]), kMax = -log2(scales[L-1]); the scales must be consecutive powers of
// two, largest first (as torchvision infers them from an FPN).
#include <napi.h>

#include <cmath>
#include <string>
#include <vector>

#include "async_work.h"
#include "registry.h"
#include "roi_align.h"
#include "roi_align_napi.h"
#include "validate.h"

namespace {

using hpa::roi::Config;
using hpa::roi::FloatBuffer;

struct Levels {
  std::vector<Config> cfgs;  // one per level (scale, shape)
  int k_min = 0;
};

// scales: array of L numbers, consecutive powers of two, largest first. Fills cfg scales.
void ParseScales(Napi::Env env, Napi::Value v, size_t num_levels, Levels& lv) {
  if (!v.IsArray()) hpa::ThrowType(env, "scales must be an array of numbers, one per level");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != num_levels) {
    hpa::ThrowRange(env, "scales must have one entry per level (" + std::to_string(num_levels) + "), got " +
                             std::to_string(a.Length()));
  }
  int prev = 0;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const std::string name = "scales[" + std::to_string(i) + "]";
    const double s = hpa::NumberArg(env, a.Get(i), name.c_str());
    int e = 0;
    if (!(s > 0) || std::frexp(s, &e) != 0.5 || s > 1) {
      hpa::ThrowRange(env, name + " must be a power of two in (0, 1], got " + std::to_string(s));
    }
    const int k = 1 - e;  // s = 2^(e-1) = 2^-k
    if (i == 0) lv.k_min = k;
    else if (k != prev + 1) hpa::ThrowRange(env, "scales must halve from one level to the next (" + name + ")");
    prev = k;
    lv.cfgs[i].scale = static_cast<float>(s);
  }
}

// levelShapes: array of L [N, C, H, W] with the same N and C.
size_t ParseLevelShapes(Napi::Env env, Napi::Value v, Levels& lv) {
  if (!v.IsArray() || v.As<Napi::Array>().Length() == 0 || v.As<Napi::Array>().Length() > 16) {
    hpa::ThrowType(env, "levelShapes must be an array of 1 to 16 [N, C, H, W] arrays");
  }
  Napi::Array a = v.As<Napi::Array>();
  lv.cfgs.resize(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const std::string name = "levelShapes[" + std::to_string(i) + "]";
    hpa::roi::ParseFeatureShape(env, a.Get(i), name.c_str(), lv.cfgs[i]);
    if (lv.cfgs[i].n != lv.cfgs[0].n || lv.cfgs[i].c != lv.cfgs[0].c) {
      hpa::ThrowRange(env, name + " must have the same N and C as levelShapes[0]");
    }
  }
  return a.Length();
}

void ParseCommon(Napi::Env env, const Napi::CallbackInfo& info, size_t i, Levels& lv) {
  const int ph = static_cast<int>(hpa::IntArg(env, hpa::Arg(info, i), "outputSize[0] (height)", 1, 4096));
  const int pw = static_cast<int>(hpa::IntArg(env, hpa::Arg(info, i + 1), "outputSize[1] (width)", 1, 4096));
  ParseScales(env, hpa::Arg(info, i + 2), lv.cfgs.size(), lv);
  const int sr = static_cast<int>(hpa::IntArg(env, hpa::Arg(info, i + 3), "samplingRatio", INT32_MIN, 1024));
  const bool aligned = hpa::BoolArg(env, hpa::Arg(info, i + 4), "aligned");
  for (Config& c : lv.cfgs) {
    c.ph = ph;
    c.pw = pw;
    c.sampling_ratio = sr;
    c.aligned = aligned;
  }
}

int ParseThreads(Napi::Env env, Napi::Value t) {
  return t.IsUndefined() ? 0 : static_cast<int>(hpa::IntArg(env, t, "threads", 0, hpa::kMaxThreads));
}

// RoIs: checked against every level (batch index, finiteness, sampling-grid bound).
int64_t ParseRoisAllLevels(Napi::Env env, const Napi::Float32Array& rois, const Levels& lv) {
  int64_t k = 0;
  for (const Config& c : lv.cfgs) k = hpa::roi::ParseRois(env, rois, c);
  return k;
}

std::vector<int32_t> MapLevels(const float* rois, int64_t k, int k_min, int k_max, float canonical_scale,
                               float canonical_level) {
  std::vector<int32_t> out(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    const float* r = rois + i * 5;
    const float area = (r[3] - r[1]) * (r[4] - r[2]);
    const float s = std::sqrt(area);
    const float lvl = std::floor(canonical_level + std::log2(s / canonical_scale) + 1e-6f);
    if (std::isnan(lvl)) {
      out[i] = -1;
      continue;
    }
    const float c = std::min(std::max(lvl, static_cast<float>(k_min)), static_cast<float>(k_max));
    out[i] = static_cast<int32_t>(c) - k_min;
  }
  return out;
}

void ParseCanonical(Napi::Env env, const Napi::CallbackInfo& info, size_t i, float& scale, float& level) {
  const double s = hpa::NumberArg(env, hpa::Arg(info, i), "canonicalScale");
  if (!(s > 0)) hpa::ThrowRange(env, "canonicalScale must be > 0");
  scale = static_cast<float>(s);
  level = static_cast<float>(hpa::IntArg(env, hpa::Arg(info, i + 1), "canonicalLevel", -64, 64));
}

Napi::Value RoiLevelsSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Float32Array rois = hpa::roi::FloatArrayArg(env, hpa::Arg(info, 0), "rois");
  if (rois.ElementLength() % 5 != 0) hpa::ThrowRange(env, "rois length must be a multiple of 5");
  const int64_t k = static_cast<int64_t>(rois.ElementLength() / 5);
  for (size_t i = 0; i < rois.ElementLength(); ++i) {
    if (!std::isfinite(rois.Data()[i])) hpa::ThrowRange(env, "rois must be finite: rois[" + std::to_string(i) + "]");
  }
  if (!hpa::Arg(info, 1).IsArray()) hpa::ThrowType(env, "scales must be an array of numbers, one per level");
  Levels lv;
  lv.cfgs.resize(hpa::Arg(info, 1).As<Napi::Array>().Length());
  if (lv.cfgs.empty() || lv.cfgs.size() > 16) hpa::ThrowRange(env, "scales must have 1 to 16 entries");
  ParseScales(env, hpa::Arg(info, 1), lv.cfgs.size(), lv);
  float cs, cl;
  ParseCanonical(env, info, 2, cs, cl);
  std::vector<int32_t> levels =
      MapLevels(rois.Data(), k, lv.k_min, lv.k_min + static_cast<int>(lv.cfgs.size()) - 1, cs, cl);
  return hpa::ToTypedArray(env, std::move(levels));
}

struct ForwardJob {
  Levels lv;
  std::vector<const float*> feats;
  const float* rois = nullptr;
  int64_t k = 0;
  float cs = 224.f, cl = 4.f;
  int threads = 0;
};

struct ForwardResult {
  FloatBuffer output;
  std::vector<int32_t> levels;
};

ForwardResult RunForward(const ForwardJob& j) {
  ForwardResult r;
  const Config& c0 = j.lv.cfgs[0];
  const int64_t row = c0.c * c0.ph * c0.pw;
  r.output = FloatBuffer::Make(j.k * row);
  const int num = static_cast<int>(j.lv.cfgs.size());
  r.levels = MapLevels(j.rois, j.k, j.lv.k_min, j.lv.k_min + num - 1, j.cs, j.cl);
  std::vector<std::vector<int64_t>> idx(static_cast<size_t>(num));
  for (int64_t i = 0; i < j.k; ++i) {
    const int l = r.levels[i];
    if (l < 0) std::fill(r.output.data() + i * row, r.output.data() + (i + 1) * row, 0.f);
    else idx[l].push_back(i);
  }
  for (int l = 0; l < num; ++l) {
    hpa::roi::Forward(j.lv.cfgs[l], j.feats[l], j.rois, idx[l].data(), static_cast<int64_t>(idx[l].size()),
                      r.output.data(), j.threads);
  }
  return r;
}

Napi::Value ForwardToJs(Napi::Env env, ForwardResult&& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("output", hpa::roi::ToFloat32Array(env, std::move(r.output)));
  o.Set("levels", hpa::ToTypedArray(env, std::move(r.levels)));
  return o;
}

ForwardJob ParseForward(const Napi::CallbackInfo& info, hpa::KeepAlive* keep) {
  Napi::Env env = info.Env();
  ForwardJob j;
  Napi::Value data = hpa::Arg(info, 0);
  if (!data.IsArray()) hpa::ThrowType(env, "levelData must be an array of Float32Array, one per level");
  const size_t num = ParseLevelShapes(env, hpa::Arg(info, 1), j.lv);
  Napi::Array arr = data.As<Napi::Array>();
  if (arr.Length() != num) {
    hpa::ThrowRange(env, "levelData must have one array per level shape (" + std::to_string(num) + "), got " +
                             std::to_string(arr.Length()));
  }
  Napi::Float32Array rois = hpa::roi::FloatArrayArg(env, hpa::Arg(info, 2), "rois");
  ParseCommon(env, info, 3, j.lv);
  ParseCanonical(env, info, 8, j.cs, j.cl);
  j.threads = ParseThreads(env, hpa::Arg(info, 10));
  for (uint32_t i = 0; i < num; ++i) {
    const std::string name = "levelData[" + std::to_string(i) + "]";
    Napi::Float32Array f = hpa::roi::FloatArrayArg(env, arr.Get(i), name.c_str());
    const Config& c = j.lv.cfgs[i];
    hpa::roi::CheckLength(env, f, c.n * c.c * c.h * c.w, name, "N*C*H*W of levelShapes[" + std::to_string(i) + "]");
    j.feats.push_back(f.Data());
    if (keep) keep->Add(f);
  }
  j.k = ParseRoisAllLevels(env, rois, j.lv);
  j.rois = rois.Data();
  if (keep) keep->Add(rois);
  return j;
}

Napi::Value MultiScaleSync(const Napi::CallbackInfo& info) {
  ForwardJob j = ParseForward(info, nullptr);
  return ForwardToJs(info.Env(), hpa::roi::RunSyncKernel(info.Env(), [&] { return RunForward(j); }));
}

Napi::Value MultiScaleAsync(const Napi::CallbackInfo& info) {
  hpa::KeepAlive keep;
  ForwardJob j = ParseForward(info, &keep);
  return hpa::RunAsync(
      info.Env(), std::move(keep), [j = std::move(j)]() { return RunForward(j); },
      [](Napi::Env env, ForwardResult&& r, const hpa::KeepAlive&) { return ForwardToJs(env, std::move(r)); });
}

struct BackwardJob {
  Levels lv;
  const float* grad = nullptr;
  const float* rois = nullptr;
  std::vector<int32_t> levels;
  int64_t k = 0;
  int threads = 0;
};

BackwardJob ParseBackward(const Napi::CallbackInfo& info, hpa::KeepAlive* keep) {
  Napi::Env env = info.Env();
  BackwardJob j;
  Napi::Float32Array grad = hpa::roi::FloatArrayArg(env, hpa::Arg(info, 0), "gradOutput");
  Napi::Float32Array rois = hpa::roi::FloatArrayArg(env, hpa::Arg(info, 1), "rois");
  const size_t num = ParseLevelShapes(env, hpa::Arg(info, 2), j.lv);
  Napi::Int32Array levels =
      hpa::TypedArrayArg<int32_t>(env, hpa::Arg(info, 3), "levels", napi_int32_array, "Int32Array");
  ParseCommon(env, info, 4, j.lv);
  j.threads = ParseThreads(env, hpa::Arg(info, 9));
  j.k = ParseRoisAllLevels(env, rois, j.lv);
  const Config& c0 = j.lv.cfgs[0];
  hpa::roi::CheckLength(env, grad, j.k * c0.c * c0.ph * c0.pw, "gradOutput", "K*C*outH*outW");
  hpa::roi::CheckLength(env, levels, j.k, "levels", "K (one per RoI)");
  j.levels.assign(levels.Data(), levels.Data() + j.k);
  for (int64_t i = 0; i < j.k; ++i) {
    if (j.levels[i] < -1 || j.levels[i] >= static_cast<int32_t>(num)) {
      hpa::ThrowRange(env, "levels[" + std::to_string(i) + "] must be in [-1, " + std::to_string(num) + "), got " +
                               std::to_string(j.levels[i]));
    }
  }
  j.grad = grad.Data();
  j.rois = rois.Data();
  if (keep) {
    keep->Add(grad);
    keep->Add(rois);
  }
  return j;
}

std::vector<FloatBuffer> RunBackward(const BackwardJob& j) {
  const int num = static_cast<int>(j.lv.cfgs.size());
  std::vector<std::vector<int64_t>> idx(static_cast<size_t>(num));
  for (int64_t i = 0; i < j.k; ++i) {
    if (j.levels[i] >= 0) idx[j.levels[i]].push_back(i);
  }
  std::vector<FloatBuffer> out;
  for (int l = 0; l < num; ++l) {
    const Config& c = j.lv.cfgs[l];
    out.push_back(FloatBuffer::Make(c.n * c.c * c.h * c.w));
    hpa::roi::Backward(c, j.grad, j.rois, idx[l].data(), static_cast<int64_t>(idx[l].size()), out.back().data(),
                       j.threads);
  }
  return out;
}

Napi::Value BackwardToJs(Napi::Env env, std::vector<FloatBuffer>&& bufs) {
  Napi::Array a = Napi::Array::New(env, bufs.size());
  for (uint32_t i = 0; i < bufs.size(); ++i) a.Set(i, hpa::roi::ToFloat32Array(env, std::move(bufs[i])));
  return a;
}

Napi::Value MultiScaleBackwardSync(const Napi::CallbackInfo& info) {
  BackwardJob j = ParseBackward(info, nullptr);
  return BackwardToJs(info.Env(), hpa::roi::RunSyncKernel(info.Env(), [&] { return RunBackward(j); }));
}

Napi::Value MultiScaleBackwardAsync(const Napi::CallbackInfo& info) {
  hpa::KeepAlive keep;
  BackwardJob j = ParseBackward(info, &keep);
  return hpa::RunAsync(
      info.Env(), std::move(keep), [j = std::move(j)]() { return RunBackward(j); },
      [](Napi::Env env, std::vector<FloatBuffer>&& r, const hpa::KeepAlive&) { return BackwardToJs(env, std::move(r)); });
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("roiLevelsSync", Napi::Function::New(env, RoiLevelsSync, "roiLevelsSync"));
  exports.Set("multiScaleRoiAlignSync", Napi::Function::New(env, MultiScaleSync, "multiScaleRoiAlignSync"));
  exports.Set("multiScaleRoiAlign", Napi::Function::New(env, MultiScaleAsync, "multiScaleRoiAlign"));
  exports.Set("multiScaleRoiAlignBackwardSync",
              Napi::Function::New(env, MultiScaleBackwardSync, "multiScaleRoiAlignBackwardSync"));
  exports.Set("multiScaleRoiAlignBackward",
              Napi::Function::New(env, MultiScaleBackwardAsync, "multiScaleRoiAlignBackward"));
}

}  // namespace

HPA_REGISTER_MODULE(multiscale_roi_align, Init);
