// Box operations of torchvision (ops.box_iou, models.detection._utils.BoxCoder) in float32,
// with the same operation order so that results agree to the last bit or two (log/exp may
// differ by one ulp from torch's vectorized versions).
//
//   boxIouSync(boxes1: Float32Array[N*4], boxes2: Float32Array[M*4]) -> Float32Array[N*M]
//     iou[i*M+j] = inter / ((area1_i + area2_j) - inter), area = (x2-x1)*(y2-y1), inter from
//     the clamped (>= 0) overlap; 0/0 (two empty boxes) gives NaN as in torchvision.
//   encodeBoxesSync(referenceBoxes[N*4], proposals[N*4], weights: Float64Array|Array[4])
//     -> Float32Array[N*4] (dx, dy, dw, dh) = (wx*(gcx-pcx)/pw, wy*(gcy-pcy)/ph,
//        ww*log(gw/pw), wh*log(gh/ph)); centres are x1 + 0.5*w.
//   decodeBoxesSync(relCodes[N*4K], boxes[N*4], weights[4], bboxXformClip) -> Float32Array[N*4K]
//     dw, dh divided by their weights and clamped to at most bboxXformClip before exp.
//   boxIou / encodeBoxes / decodeBoxes: the same on the libuv thread pool -> Promise.
// All boxes x1,y1,x2,y2. Inputs must be finite (RangeError otherwise); weights finite and > 0.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "async_work.h"
#include "registry.h"
#include "validate.h"

#if defined(__FMA__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")  // torch rounds each elementwise op separately
#endif

#include "iou_row.h"

namespace {

constexpr int64_t kMaxElems = int64_t(1) << 31;

using hpa::IouRow;

std::vector<float> BoxIou(const float* a, int64_t n, const float* b, int64_t m) {
  std::vector<float> out(static_cast<size_t>(n * m));
  std::vector<float> bx1(m), by1(m), bx2(m), by2(m), ba(m);
  for (int64_t j = 0; j < m; ++j) {
    bx1[j] = b[4 * j];
    by1[j] = b[4 * j + 1];
    bx2[j] = b[4 * j + 2];
    by2[j] = b[4 * j + 3];
    ba[j] = (bx2[j] - bx1[j]) * (by2[j] - by1[j]);
  }
  for (int64_t i = 0; i < n; ++i) {
    const float* r = a + 4 * i;
    const float aa = (r[2] - r[0]) * (r[3] - r[1]);
    IouRow(r[0], r[1], r[2], r[3], aa, bx1.data(), by1.data(), bx2.data(), by2.data(), ba.data(),
           m, out.data() + i * m);
  }
  return out;
}

struct Weights {
  float wx, wy, ww, wh;
};

std::vector<float> Encode(const float* ref, const float* prop, int64_t n, Weights wt) {
  std::vector<float> out(static_cast<size_t>(4 * n));
  const float half = 0.5f;
  for (int64_t i = 0; i < n; ++i) {
    const float* p = prop + 4 * i;
    const float* g = ref + 4 * i;
    const float ew = p[2] - p[0], eh = p[3] - p[1];
    const float ecx = p[0] + half * ew, ecy = p[1] + half * eh;
    const float gw = g[2] - g[0], gh = g[3] - g[1];
    const float gcx = g[0] + half * gw, gcy = g[1] + half * gh;
    float* o = out.data() + 4 * i;
    o[0] = (wt.wx * (gcx - ecx)) / ew;
    o[1] = (wt.wy * (gcy - ecy)) / eh;
    o[2] = wt.ww * std::log(gw / ew);
    o[3] = wt.wh * std::log(gh / eh);
  }
  return out;
}

std::vector<float> Decode(const float* rel, const float* boxes, int64_t n, int64_t k, Weights wt,
                          float clip) {
  std::vector<float> out(static_cast<size_t>(4 * n * k));
  const float half = 0.5f;
  for (int64_t i = 0; i < n; ++i) {
    const float* b = boxes + 4 * i;
    const float w = b[2] - b[0], h = b[3] - b[1];
    const float cx = b[0] + half * w, cy = b[1] + half * h;
    for (int64_t c = 0; c < k; ++c) {
      const float* d = rel + 4 * (i * k + c);
      float* o = out.data() + 4 * (i * k + c);
      const float dx = d[0] / wt.wx, dy = d[1] / wt.wy;
      const float dw = std::min(d[2] / wt.ww, clip), dh = std::min(d[3] / wt.wh, clip);
      const float pcx = dx * w + cx, pcy = dy * h + cy;
      const float pw = std::exp(dw) * w, ph = std::exp(dh) * h;
      const float hw = half * pw, hh = half * ph;
      o[0] = pcx - hw;
      o[1] = pcy - hh;
      o[2] = pcx + hw;
      o[3] = pcy + hh;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Argument parsing.

Napi::Float32Array BoxesArg(Napi::Env env, Napi::Value v, const char* name, int64_t* count) {
  Napi::Float32Array a = hpa::TypedArrayArg<float>(env, v, name, napi_float32_array,
                                                   "Float32Array");
  const int64_t len = static_cast<int64_t>(a.ElementLength());
  if (len % 4 != 0) {
    hpa::ThrowRange(env, std::string(name) + " length must be a multiple of 4 (x1,y1,x2,y2), got " +
                             std::to_string(len));
  }
  const float* p = a.Data();
  for (int64_t i = 0; i < len; ++i) {
    if (!std::isfinite(p[i])) {
      hpa::ThrowRange(env, std::string(name) + " must be finite, got " +
                               (std::isnan(p[i]) ? "NaN" : "Infinity") + " at index " +
                               std::to_string(i));
    }
  }
  *count = len / 4;
  return a;
}

Weights WeightsArg(Napi::Env env, Napi::Value v) {
  double w[4];
  if (v.IsTypedArray()) {
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    if (t.TypedArrayType() != napi_float64_array && t.TypedArrayType() != napi_float32_array) {
      hpa::ThrowType(env, "weights must be an array of 4 numbers, Float32Array or Float64Array");
    }
    if (t.ElementLength() != 4) {
      hpa::ThrowRange(env, "weights must have 4 entries (wx, wy, ww, wh), got " +
                               std::to_string(t.ElementLength()));
    }
    for (uint32_t i = 0; i < 4; ++i) w[i] = t.Get(i).As<Napi::Number>().DoubleValue();
  } else if (v.IsArray()) {
    Napi::Array a = v.As<Napi::Array>();
    if (a.Length() != 4) {
      hpa::ThrowRange(env, "weights must have 4 entries (wx, wy, ww, wh), got " +
                               std::to_string(a.Length()));
    }
    for (uint32_t i = 0; i < 4; ++i) {
      Napi::Value e = a.Get(i);
      if (!e.IsNumber()) hpa::ThrowType(env, "weights[" + std::to_string(i) + "] must be a number");
      w[i] = e.As<Napi::Number>().DoubleValue();
    }
  } else {
    hpa::ThrowType(env, "weights must be an array of 4 numbers, Float32Array or Float64Array");
  }
  for (int i = 0; i < 4; ++i) {
    if (!std::isfinite(w[i]) || !(w[i] > 0)) {
      hpa::ThrowRange(env, "weights[" + std::to_string(i) + "] must be finite and > 0, got " +
                               std::to_string(w[i]));
    }
  }
  return Weights{float(w[0]), float(w[1]), float(w[2]), float(w[3])};
}

struct IouArgs {
  Napi::Float32Array a, b;
  int64_t n = 0, m = 0;
};
IouArgs ParseIou(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IouArgs r;
  r.a = BoxesArg(env, hpa::Arg(info, 0), "boxes1", &r.n);
  r.b = BoxesArg(env, hpa::Arg(info, 1), "boxes2", &r.m);
  if (r.n * r.m >= kMaxElems) {
    hpa::ThrowRange(env, "boxes1 x boxes2: the IoU matrix would have " +
                             std::to_string(r.n * r.m) + " entries (at most 2^31 - 1)");
  }
  return r;
}

struct EncodeArgs {
  Napi::Float32Array ref, prop;
  int64_t n = 0;
  Weights w{};
};
EncodeArgs ParseEncode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EncodeArgs r;
  int64_t np = 0;
  r.ref = BoxesArg(env, hpa::Arg(info, 0), "referenceBoxes", &r.n);
  r.prop = BoxesArg(env, hpa::Arg(info, 1), "proposals", &np);
  if (np != r.n) {
    hpa::ThrowRange(env, "proposals must have as many boxes as referenceBoxes (" +
                             std::to_string(r.n) + "), got " + std::to_string(np));
  }
  r.w = WeightsArg(env, hpa::Arg(info, 2));
  return r;
}

struct DecodeArgs {
  Napi::Float32Array rel, boxes;
  int64_t n = 0, k = 0;
  Weights w{};
  float clip = 0;
};
DecodeArgs ParseDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DecodeArgs r;
  int64_t ncodes = 0;
  r.rel = BoxesArg(env, hpa::Arg(info, 0), "relCodes", &ncodes);
  r.boxes = BoxesArg(env, hpa::Arg(info, 1), "boxes", &r.n);
  if (r.n == 0 ? ncodes != 0 : ncodes % r.n != 0 || ncodes == 0) {
    hpa::ThrowRange(env, "relCodes must hold 4*K values per box (" + std::to_string(r.n) +
                             " boxes), got " + std::to_string(4 * ncodes) + " values");
  }
  r.k = r.n == 0 ? 0 : ncodes / r.n;
  r.w = WeightsArg(env, hpa::Arg(info, 2));
  const double clip = hpa::NumberArg(env, hpa::Arg(info, 3), "bboxXformClip");
  r.clip = static_cast<float>(clip);
  return r;
}

Napi::Value BoxIouSync(const Napi::CallbackInfo& info) {
  IouArgs r = ParseIou(info);
  return hpa::ToTypedArray(info.Env(), BoxIou(r.a.Data(), r.n, r.b.Data(), r.m));
}
Napi::Value BoxIouAsync(const Napi::CallbackInfo& info) {
  IouArgs r = ParseIou(info);
  hpa::KeepAlive keep;
  keep.Add(r.a);
  keep.Add(r.b);
  const float* a = r.a.Data();
  const float* b = r.b.Data();
  const int64_t n = r.n, m = r.m;
  return hpa::RunAsyncVector(info.Env(), std::move(keep),
                             [a, b, n, m]() { return BoxIou(a, n, b, m); });
}

Napi::Value EncodeSync(const Napi::CallbackInfo& info) {
  EncodeArgs r = ParseEncode(info);
  return hpa::ToTypedArray(info.Env(), Encode(r.ref.Data(), r.prop.Data(), r.n, r.w));
}
Napi::Value EncodeAsync(const Napi::CallbackInfo& info) {
  EncodeArgs r = ParseEncode(info);
  hpa::KeepAlive keep;
  keep.Add(r.ref);
  keep.Add(r.prop);
  const float* ref = r.ref.Data();
  const float* prop = r.prop.Data();
  const int64_t n = r.n;
  const Weights w = r.w;
  return hpa::RunAsyncVector(info.Env(), std::move(keep),
                             [ref, prop, n, w]() { return Encode(ref, prop, n, w); });
}

Napi::Value DecodeSync(const Napi::CallbackInfo& info) {
  DecodeArgs r = ParseDecode(info);
  return hpa::ToTypedArray(info.Env(),
                           Decode(r.rel.Data(), r.boxes.Data(), r.n, r.k, r.w, r.clip));
}
Napi::Value DecodeAsync(const Napi::CallbackInfo& info) {
  DecodeArgs r = ParseDecode(info);
  hpa::KeepAlive keep;
  keep.Add(r.rel);
  keep.Add(r.boxes);
  const float* rel = r.rel.Data();
  const float* boxes = r.boxes.Data();
  const int64_t n = r.n, k = r.k;
  const Weights w = r.w;
  const float clip = r.clip;
  return hpa::RunAsyncVector(info.Env(), std::move(keep), [rel, boxes, n, k, w, clip]() {
    return Decode(rel, boxes, n, k, w, clip);
  });
}

void InitBoxOps(Napi::Env env, Napi::Object exports) {
  exports.Set("boxIouSync", Napi::Function::New(env, BoxIouSync, "boxIouSync"));
  exports.Set("boxIou", Napi::Function::New(env, BoxIouAsync, "boxIou"));
  exports.Set("encodeBoxesSync", Napi::Function::New(env, EncodeSync, "encodeBoxesSync"));
  exports.Set("encodeBoxes", Napi::Function::New(env, EncodeAsync, "encodeBoxes"));
  exports.Set("decodeBoxesSync", Napi::Function::New(env, DecodeSync, "decodeBoxesSync"));
  exports.Set("decodeBoxes", Napi::Function::New(env, DecodeAsync, "decodeBoxes"));
}

}  // namespace

HPA_REGISTER_MODULE(box_ops, InitBoxOps);
