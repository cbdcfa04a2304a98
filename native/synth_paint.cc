// Per-pixel painting of one synthetic cell (src/synth/paint.ts wraps it): nucleus (blue), cortex and
// cytoplasm (red), perinuclear reticulum (yellow) and the field-like green patterns, added into the
// four float channels over the cell's mask window. Textures are value noise sampled from lattices
// drawn in JS (src/synth/texture.ts), so the image stays a pure function of the seed.
//
// synthPaintCell(red, green, blue, yellow: Float32Array(width*height), width, height,
//                mask: Uint8Array(w*h), window: Int32Array [x0, y0, w, h],
//                cell: Float64Array [cx, cy, r_0..r_{n-1}], nucleus: Float64Array (same layout),
//                lattices: Float32Array[6], latticeMeta: Float64Array(12) [stride, scale] × 6,
//                params: Float64Array(9) [signal, gainRed, gainGreen, gainBlue, gainYellow,
//                                         greenAmp, spotGain, erDecay, pattern])
// Lattices: chromatin fine, chromatin coarse, granules fine, granules coarse, reticulum fine,
// reticulum coarse. pattern: 0 nucleoli, 1 cytosol, 2 membrane, 3 nucleoplasm, 4 none.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "registry.h"
#include "validate.h"

namespace {

constexpr double kTwoPi = 6.283185307179586;

// atan2 by a degree-11 odd minimax polynomial after octant reduction (max error ~1e-5 rad), the
// same formula as fastAtan2 in src/synth/shape.ts.
inline double FastAtan2(double y, double x) {
  const double ax = std::fabs(x), ay = std::fabs(y);
  const double hi = std::max(ax, ay);
  if (hi == 0) return 0;
  const double a = std::min(ax, ay) / hi;
  const double s = a * a;
  double r = a * (0.99997726 + s * (-0.33262347 + s * (0.19354346 + s * (-0.11643287 + s * (0.05265332 + s * -0.0117212)))));
  if (ay > ax) r = kTwoPi / 4 - r;
  if (x < 0) r = kTwoPi / 2 - r;
  return y < 0 ? -r : r;
}

struct Shape {
  double cx, cy;
  const double* radii;
  int n;
  // Radius in direction (dx, dy): linear interpolation of the angle samples.
  double RadiusToward(double dx, double dy) const {
    double f = FastAtan2(dy, dx) * (n / kTwoPi);
    if (f < 0) f += n;
    const int i = static_cast<int>(f);
    const double t = f - i;
    return radii[i % n] * (1 - t) + radii[(i + 1) % n] * t;
  }
};

struct Lattice {
  const float* v;
  int stride;
  double scale;
  // Smoothstep-interpolated value noise at pixel (x, y), as texture.ts documents.
  double At(int x, int y) const {
    const double fx = x * scale, fy = y * scale;
    const int i = static_cast<int>(fx), j = static_cast<int>(fy);
    double tx = fx - i, ty = fy - j;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    const size_t r0 = static_cast<size_t>(j) * stride + i, r1 = r0 + stride;
    const double top = v[r0] + (v[r0 + 1] - v[r0]) * tx;
    const double bottom = v[r1] + (v[r1 + 1] - v[r1]) * tx;
    return top + (bottom - top) * ty;
  }
};

Shape ShapeArg(Napi::Env env, Napi::Value v, const char* name) {
  auto a = hpa::TypedArrayArg<double>(env, v, name, napi_float64_array, "Float64Array");
  if (a.ElementLength() < 5) hpa::ThrowRange(env, std::string(name) + " must hold cx, cy and at least 3 radii");
  for (size_t i = 0; i < a.ElementLength(); i++) {
    if (!std::isfinite(a[i]) || (i >= 2 && a[i] < 0)) {
      hpa::ThrowRange(env, std::string(name) + " must hold finite values and radii >= 0");
    }
  }
  return Shape{a[0], a[1], a.Data() + 2, static_cast<int>(a.ElementLength() - 2)};
}

Napi::Value SynthPaintCell(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* names[4] = {"red", "green", "blue", "yellow"};
  float* ch[4];
  const int64_t width = hpa::IntArg(env, hpa::Arg(info, 4), "width", 1, 1 << 16);
  const int64_t height = hpa::IntArg(env, hpa::Arg(info, 5), "height", 1, 1 << 16);
  for (int c = 0; c < 4; c++) {
    auto a = hpa::TypedArrayArg<float>(env, hpa::Arg(info, c), names[c], napi_float32_array, "Float32Array");
    if (static_cast<int64_t>(a.ElementLength()) != width * height) {
      hpa::ThrowRange(env, std::string(names[c]) + " must have width*height elements");
    }
    ch[c] = a.Data();
  }
  auto mask = hpa::TypedArrayArg<uint8_t>(env, hpa::Arg(info, 6), "mask", napi_uint8_array, "Uint8Array");
  auto win = hpa::TypedArrayArg<int32_t>(env, hpa::Arg(info, 7), "window", napi_int32_array, "Int32Array");
  if (win.ElementLength() != 4) hpa::ThrowRange(env, "window must be [x0, y0, w, h]");
  const int x0 = win[0], y0 = win[1], w = win[2], h = win[3];
  if (x0 < 0 || y0 < 0 || w < 0 || h < 0 || x0 + static_cast<int64_t>(w) > width || y0 + static_cast<int64_t>(h) > height) {
    hpa::ThrowRange(env, "window must lie inside the image");
  }
  if (static_cast<int64_t>(mask.ElementLength()) != static_cast<int64_t>(w) * h) {
    hpa::ThrowRange(env, "mask must have window w*h elements");
  }
  const Shape cell = ShapeArg(env, hpa::Arg(info, 8), "cell");
  const Shape nucleus = ShapeArg(env, hpa::Arg(info, 9), "nucleus");

  Napi::Value latticesValue = hpa::Arg(info, 10);
  if (!latticesValue.IsArray() || latticesValue.As<Napi::Array>().Length() != 6) {
    hpa::ThrowType(env, "lattices must be an array of 6 Float32Array");
  }
  auto meta = hpa::TypedArrayArg<double>(env, hpa::Arg(info, 11), "latticeMeta", napi_float64_array, "Float64Array");
  if (meta.ElementLength() != 12) hpa::ThrowRange(env, "latticeMeta must have 12 elements");
  Lattice lat[6];
  for (uint32_t k = 0; k < 6; k++) {
    auto a = hpa::TypedArrayArg<float>(env, latticesValue.As<Napi::Array>().Get(k), "lattices[k]", napi_float32_array,
                                       "Float32Array");
    const double stride = meta[2 * k], scale = meta[2 * k + 1];
    if (!(stride >= 2 && stride == std::floor(stride) && scale > 0 && scale <= 1)) {
      hpa::ThrowRange(env, "latticeMeta: stride must be an integer >= 2 and scale in (0, 1]");
    }
    // The largest lattice index the window can reach must exist.
    if (w > 0 && h > 0) {
      const int64_t imax = static_cast<int64_t>((x0 + w - 1) * scale) + 1;
      const int64_t jmax = static_cast<int64_t>((y0 + h - 1) * scale) + 1;
      if (imax >= stride || jmax * static_cast<int64_t>(stride) + imax >= static_cast<int64_t>(a.ElementLength())) {
        hpa::ThrowRange(env, "lattices[" + std::to_string(k) + "] is too small for the window");
      }
    }
    lat[k] = Lattice{a.Data(), static_cast<int>(stride), scale};
  }
  auto params = hpa::TypedArrayArg<double>(env, hpa::Arg(info, 12), "params", napi_float64_array, "Float64Array");
  if (params.ElementLength() != 9) hpa::ThrowRange(env, "params must have 9 elements");
  for (size_t i = 0; i < 9; i++) {
    if (!std::isfinite(params[i])) hpa::ThrowRange(env, "params must be finite");
  }
  const double s = params[0], gRed = params[1], gGreen = params[2], gBlue = params[3], gYellow = params[4];
  const double greenAmp = params[5], spotGain = params[6], erDecay = params[7];
  const int pattern = static_cast<int>(params[8]);
  if (pattern < 0 || pattern > 4 || params[8] != pattern) hpa::ThrowRange(env, "params[8] (pattern) must be 0..4");
  if (erDecay <= 0) hpa::ThrowRange(env, "params[7] (erDecay) must be > 0");

  const uint8_t* m = mask.Data();
  for (int my = 0; my < h; my++) {
    const int y = y0 + my;
    const double py = y + 0.5;
    for (int mx = 0; mx < w; mx++) {
      if (!m[static_cast<size_t>(my) * w + mx]) continue;
      const int x = x0 + mx;
      const double px = x + 0.5;
      const size_t i = static_cast<size_t>(y) * width + x;
      // Distance to the cell edge along the ray from the cell centre.
      const double dx = px - cell.cx, dy = py - cell.cy;
      const double edge = std::max(0.0, cell.RadiusToward(dx, dy) - std::sqrt(dx * dx + dy * dy));
      // Signed distance to the nucleus edge along its own ray (negative inside).
      const double nx = px - nucleus.cx, ny = py - nucleus.cy;
      const double nucEdge = std::sqrt(nx * nx + ny * ny) - nucleus.RadiusToward(nx, ny);
      const double inNucleus = std::min(1.0, std::max(0.0, 0.5 - nucEdge / 1.5));
      const double cyto = 1 - inNucleus;
      const double chromatin = 0.55 * lat[0].At(x, y) + 0.45 * lat[1].At(x, y);
      const double granules = 0.55 * lat[2].At(x, y) + 0.45 * lat[3].At(x, y);
      const double ra = 1 - std::fabs(2 * lat[4].At(x, y) - 1);
      const double rb = 1 - std::fabs(2 * lat[5].At(x, y) - 1);
      const double reticulum = 0.6 * ra * ra * ra + 0.4 * rb * rb;

      ch[2][i] += static_cast<float>(s * 0.95 * gBlue * inNucleus * (0.65 + 0.35 * chromatin));
      const double cortex = std::exp(-edge / 4);
      ch[0][i] += static_cast<float>(s * gRed * (0.2 + 0.4 * cortex) * (0.4 + 0.6 * granules) * (1 - 0.7 * inNucleus));
      const double perinuclear = std::exp(-std::max(0.0, nucEdge) / erDecay);
      const double fadeAtEdge = std::min(1.0, edge / 4);
      ch[3][i] += static_cast<float>(s * gYellow * (0.25 + 0.75 * perinuclear) * fadeAtEdge * cyto * (0.1 + 0.9 * reticulum));
      switch (pattern) {
        case 0:
          ch[1][i] += static_cast<float>(s * 0.05 * gGreen * inNucleus * spotGain);
          break;
        case 1:
          ch[1][i] += static_cast<float>(s * greenAmp * gGreen * cyto * fadeAtEdge * (0.35 + 0.65 * granules));
          break;
        case 2:
          ch[1][i] += static_cast<float>(s * greenAmp * gGreen * std::exp(-edge / 2));
          break;
        case 3:
          ch[1][i] += static_cast<float>(s * greenAmp * gGreen * inNucleus * (0.6 + 0.4 * chromatin));
          break;
        default:
          break;
      }
    }
  }
  return env.Undefined();
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("synthPaintCell", Napi::Function::New(env, SynthPaintCell, "synthPaintCell"));
}

}  // namespace

HPA_REGISTER_MODULE(synth_paint, Init);
