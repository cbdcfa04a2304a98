// N-API bindings of RoIAlign forward and backward (kernel in roi_align.h).
//
//   roiAlignSync(features, featureShape, rois, outH, outW, spatialScale, samplingRatio, aligned, threads?)
//     -> Float32Array [K, C, outH, outW]
//   roiAlignBackwardSync(gradOutput, rois, featureShape, outH, outW, spatialScale, samplingRatio,
//                        aligned, threads?) -> Float32Array [N, C, H, W]
//   roiAlign / roiAlignBackward: same arguments, return a Promise (work on the libuv pool).
#include <napi.h>

#include "async_work.h"
#include "registry.h"
#include "roi_align.h"
#include "roi_align_napi.h"
#include "validate.h"

namespace {

using hpa::roi::Config;
using hpa::roi::FloatBuffer;

struct ForwardArgs {
  Config cfg;
  int threads = 0;
  int64_t k = 0;
  Napi::Float32Array features, rois;
};

ForwardArgs ParseForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ForwardArgs a;
  a.features = hpa::roi::FloatArrayArg(env, hpa::Arg(info, 0), "features");
  hpa::roi::ParseFeatureShape(env, hpa::Arg(info, 1), "featureShape", a.cfg);
  a.rois = hpa::roi::FloatArrayArg(env, hpa::Arg(info, 2), "rois");
  hpa::roi::ParseOptions(env, info, 3, a.cfg, a.threads);
  hpa::roi::CheckLength(env, a.features, a.cfg.n * a.cfg.c * a.cfg.h * a.cfg.w, "features", "N*C*H*W");
  a.k = hpa::roi::ParseRois(env, a.rois, a.cfg);
  return a;
}

struct BackwardArgs {
  Config cfg;
  int threads = 0;
  int64_t k = 0;
  Napi::Float32Array grad, rois;
};

BackwardArgs ParseBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BackwardArgs a;
  a.grad = hpa::roi::FloatArrayArg(env, hpa::Arg(info, 0), "gradOutput");
  a.rois = hpa::roi::FloatArrayArg(env, hpa::Arg(info, 1), "rois");
  hpa::roi::ParseFeatureShape(env, hpa::Arg(info, 2), "featureShape", a.cfg);
  hpa::roi::ParseOptions(env, info, 3, a.cfg, a.threads);
  a.k = hpa::roi::ParseRois(env, a.rois, a.cfg);
  hpa::roi::CheckLength(env, a.grad, a.k * a.cfg.c * a.cfg.ph * a.cfg.pw, "gradOutput", "K*C*outH*outW");
  return a;
}

FloatBuffer RunForward(const Config& cfg, const float* feat, const float* rois, int64_t k, int threads) {
  FloatBuffer out = FloatBuffer::Make(k * cfg.c * cfg.ph * cfg.pw);
  hpa::roi::Forward(cfg, feat, rois, nullptr, k, out.data(), threads);
  return out;
}

FloatBuffer RunBackward(const Config& cfg, const float* grad, const float* rois, int64_t k, int threads) {
  FloatBuffer out = FloatBuffer::Make(cfg.n * cfg.c * cfg.h * cfg.w);
  hpa::roi::Backward(cfg, grad, rois, nullptr, k, out.data(), threads);
  return out;
}

Napi::Value RoiAlignSync(const Napi::CallbackInfo& info) {
  ForwardArgs a = ParseForward(info);
  Napi::Env env = info.Env();
  return hpa::roi::ToFloat32Array(
      env, hpa::roi::RunSyncKernel(env, [&] { return RunForward(a.cfg, a.features.Data(), a.rois.Data(), a.k, a.threads); }));
}

Napi::Value RoiAlignAsync(const Napi::CallbackInfo& info) {
  ForwardArgs a = ParseForward(info);
  hpa::KeepAlive keep;
  keep.Add(a.features);
  keep.Add(a.rois);
  const float* feat = a.features.Data();
  const float* rois = a.rois.Data();
  return hpa::RunAsync(
      info.Env(), std::move(keep),
      [cfg = a.cfg, feat, rois, k = a.k, threads = a.threads]() { return RunForward(cfg, feat, rois, k, threads); },
      [](Napi::Env env, FloatBuffer&& out, const hpa::KeepAlive&) -> Napi::Value {
        return hpa::roi::ToFloat32Array(env, std::move(out));
      });
}

Napi::Value RoiAlignBackwardSync(const Napi::CallbackInfo& info) {
  BackwardArgs a = ParseBackward(info);
  Napi::Env env = info.Env();
  return hpa::roi::ToFloat32Array(
      env, hpa::roi::RunSyncKernel(env, [&] { return RunBackward(a.cfg, a.grad.Data(), a.rois.Data(), a.k, a.threads); }));
}

Napi::Value RoiAlignBackwardAsync(const Napi::CallbackInfo& info) {
  BackwardArgs a = ParseBackward(info);
  hpa::KeepAlive keep;
  keep.Add(a.grad);
  keep.Add(a.rois);
  const float* grad = a.grad.Data();
  const float* rois = a.rois.Data();
  return hpa::RunAsync(
      info.Env(), std::move(keep),
      [cfg = a.cfg, grad, rois, k = a.k, threads = a.threads]() { return RunBackward(cfg, grad, rois, k, threads); },
      [](Napi::Env env, FloatBuffer&& out, const hpa::KeepAlive&) -> Napi::Value {
        return hpa::roi::ToFloat32Array(env, std::move(out));
      });
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("roiAlignSync", Napi::Function::New(env, RoiAlignSync, "roiAlignSync"));
  exports.Set("roiAlign", Napi::Function::New(env, RoiAlignAsync, "roiAlign"));
  exports.Set("roiAlignBackwardSync", Napi::Function::New(env, RoiAlignBackwardSync, "roiAlignBackwardSync"));
  exports.Set("roiAlignBackward", Napi::Function::New(env, RoiAlignBackwardAsync, "roiAlignBackward"));
}

}  // namespace

HPA_REGISTER_MODULE(roi_align, Init);
