// RoIAlign forward and backward (torchvision's roi_align semantics), shared by roi_align.cc and
// multiscale_roi_align.cc. Pure C++: no N-API here, so it runs on worker threads.
//
// Semantics follow torchvision 0.14 csrc/ops/cpu/roi_align_kernel.cpp exactly, float for float:
// box corners scaled by spatialScale (minus 0.5 when aligned); without `aligned` the RoI is at
// least 1×1; bins of (roi / output) size; a grid of samplingRatio² points per bin, or
// ceil(roi / output) per axis when samplingRatio ≤ 0; a sample outside [-1, H] × [-1, W] counts
// as 0, others are clamped to the map (the border rules) and interpolated bilinearly; the bin
// value is the average over the grid.
//
// Speed: the sample coordinates and weights are separable (y depends on the bin row and grid
// row only, x on the bin column and grid column only), so each RoI gets two small tables
// computed once and reused for every channel. The loops run channel-outer (one feature plane
// stays in cache while every RoI of that image samples it), parallel over channels. Backward
// accumulates each channel plane from one thread in torchvision's order (RoI, bin, sample, tap),
// so the gradient is bitwise the same for any thread count and equal to torchvision's CPU result.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "parallel.h"

namespace hpa {
namespace roi {

struct Config {
  int64_t n = 0, c = 0, h = 0, w = 0;  // feature map [N, C, H, W]
  int ph = 1, pw = 1;                   // output size
  float scale = 1.f;                    // spatial scale (float, as torchvision's kernel)
  int sampling_ratio = -1;              // <= 0: adaptive
  bool aligned = false;
};

// Upper bound on sampling points per RoI and channel (ph*gh*pw*gw): an adaptive grid on an
// absurdly large box would otherwise run for hours.
constexpr int64_t kMaxSamplesPerRoi = int64_t{1} << 26;

// One axis sample: the two taps (as element offsets along that axis, rows pre-multiplied by W)
// and their weights; an invalid sample (outside [-1, size]) has zero weights and zero offsets.
struct AxisSample {
  int32_t lo, hi;
  float l, h;  // weight of hi tap, weight of lo tap (torchvision's ly/lx and hy/hx)
  bool valid;
};

struct RoiGeom {
  int32_t batch;
  int32_t gh, gw;  // sampling grid (may be <= 0: no samples)
  float count_fwd;   // max(gh*gw, 1) as float
  float count_bwd;   // gh*gw as float
  int64_t ybegin, xbegin;  // offsets into the y and x tables
};

struct Geometry {
  std::vector<RoiGeom> rois;
  std::vector<AxisSample> ys, xs;
};

struct RoiBox {
  float start_h, start_w, bin_h, bin_w;
  int gh, gw;
};

inline RoiBox ComputeBox(const Config& cfg, const float* r) {
  const float offset = cfg.aligned ? 0.5f : 0.f;
  const float sw = r[1] * cfg.scale - offset;
  const float sh = r[2] * cfg.scale - offset;
  const float ew = r[3] * cfg.scale - offset;
  const float eh = r[4] * cfg.scale - offset;
  float rw = ew - sw, rh = eh - sh;
  if (!cfg.aligned) {
    rw = std::max(rw, 1.f);
    rh = std::max(rh, 1.f);
  }
  RoiBox b;
  b.start_h = sh;
  b.start_w = sw;
  b.bin_h = rh / static_cast<float>(cfg.ph);
  b.bin_w = rw / static_cast<float>(cfg.pw);
  // torchvision: ceil(roi_height / pooled_height) in float; clamp to avoid int overflow on
  // absurd boxes (those are rejected by CheckRois anyway).
  auto grid = [](float roi, int out) -> int {
    const float g = std::ceil(roi / static_cast<float>(out));
    if (!(g > 0.f)) return 0;
    return g > 1e9f ? 1000000000 : static_cast<int>(g);
  };
  b.gh = cfg.sampling_ratio > 0 ? cfg.sampling_ratio : grid(rh, cfg.ph);
  b.gw = cfg.sampling_ratio > 0 ? cfg.sampling_ratio : grid(rw, cfg.pw);
  return b;
}

// Returns "" when every RoI is usable, else a message (the caller throws a RangeError).
// Checks: finite coordinates, integer batch index in [0, N), sampling grid within bounds.
inline std::string CheckRois(const Config& cfg, const float* rois, int64_t k) {
  for (int64_t i = 0; i < k; ++i) {
    const float* r = rois + i * 5;
    for (int j = 0; j < 5; ++j) {
      if (!std::isfinite(r[j])) {
        return "rois must be finite: rois[" + std::to_string(i * 5 + j) + "] (RoI " + std::to_string(i) +
               ") is " + (std::isnan(r[j]) ? "NaN" : "infinite");
      }
    }
    if (r[0] < 0.f || r[0] >= static_cast<float>(cfg.n) || r[0] != std::floor(r[0])) {
      return "rois: batch index of RoI " + std::to_string(i) + " must be an integer in [0, " +
             std::to_string(cfg.n) + "), got " + std::to_string(r[0]);
    }
    const RoiBox b = ComputeBox(cfg, r);
    const double samples = static_cast<double>(std::max(b.gh, 0)) * std::max(b.gw, 0) * cfg.ph * cfg.pw;
    if (samples > static_cast<double>(kMaxSamplesPerRoi)) {
      return "rois: RoI " + std::to_string(i) + " needs " + std::to_string(static_cast<int64_t>(samples)) +
             " sampling points per channel with samplingRatio " + std::to_string(cfg.sampling_ratio) +
             " (limit " + std::to_string(kMaxSamplesPerRoi) + "); use a positive samplingRatio";
    }
  }
  return "";
}

// torchvision's pre_calc_for_bilinear_interpolate, one axis at a time.
inline AxisSample MakeSample(float v, int64_t size, int32_t stride) {
  AxisSample s;
  if (v < -1.0 || v > static_cast<float>(size)) {
    s.lo = s.hi = 0;
    s.l = s.h = 0.f;
    s.valid = false;
    return s;
  }
  if (v <= 0) v = 0;
  int32_t lo = static_cast<int32_t>(v), hi;
  if (lo >= size - 1) {
    hi = lo = static_cast<int32_t>(size - 1);
    v = static_cast<float>(lo);
  } else {
    hi = lo + 1;
  }
  const float l = v - static_cast<float>(lo);
  s.l = l;
  s.h = 1.f - l;
  s.lo = lo * stride;
  s.hi = hi * stride;
  s.valid = true;
  return s;
}

// Geometry of the RoIs idx[0..m) (or 0..m when idx is null). Assumes CheckRois passed.
inline Geometry BuildGeometry(const Config& cfg, const float* rois, const int64_t* idx, int64_t m) {
  Geometry g;
  g.rois.resize(static_cast<size_t>(m));
  int64_t ny = 0, nx = 0;
  std::vector<RoiBox> boxes(static_cast<size_t>(m));
  for (int64_t j = 0; j < m; ++j) {
    const float* r = rois + (idx ? idx[j] : j) * 5;
    const RoiBox b = ComputeBox(cfg, r);
    boxes[j] = b;
    RoiGeom& rg = g.rois[j];
    rg.batch = static_cast<int32_t>(r[0]);
    rg.gh = std::max(b.gh, 0);
    rg.gw = std::max(b.gw, 0);
    rg.count_fwd = static_cast<float>(std::max(rg.gh * rg.gw, 1));
    rg.count_bwd = static_cast<float>(rg.gh * rg.gw);
    rg.ybegin = ny;
    rg.xbegin = nx;
    ny += static_cast<int64_t>(cfg.ph) * rg.gh;
    nx += static_cast<int64_t>(cfg.pw) * rg.gw;
  }
  g.ys.resize(static_cast<size_t>(ny));
  g.xs.resize(static_cast<size_t>(nx));
  for (int64_t j = 0; j < m; ++j) {
    const RoiBox& b = boxes[j];
    const RoiGeom& rg = g.rois[j];
    AxisSample* ys = g.ys.data() + rg.ybegin;
    for (int p = 0; p < cfg.ph; ++p) {
      for (int i = 0; i < rg.gh; ++i) {
        const float y = b.start_h + p * b.bin_h + static_cast<float>(i + .5f) * b.bin_h / static_cast<float>(rg.gh);
        ys[p * rg.gh + i] = MakeSample(y, cfg.h, static_cast<int32_t>(cfg.w));
      }
    }
    AxisSample* xs = g.xs.data() + rg.xbegin;
    for (int p = 0; p < cfg.pw; ++p) {
      for (int i = 0; i < rg.gw; ++i) {
        const float x = b.start_w + p * b.bin_w + static_cast<float>(i + .5f) * b.bin_w / static_cast<float>(rg.gw);
        xs[p * rg.gw + i] = MakeSample(x, cfg.w, 1);
      }
    }
  }
  return g;
}

// One RoI, one channel: out[ph*pw] from plane[H*W].
inline void ForwardPlane(const Config& cfg, const RoiGeom& rg, const AxisSample* ys, const AxisSample* xs,
                         const float* __restrict plane, float* __restrict out) {
  const int gh = rg.gh, gw = rg.gw;
  for (int p = 0; p < cfg.ph; ++p) {
    const AxisSample* yrow = ys + p * gh;
    for (int q = 0; q < cfg.pw; ++q) {
      const AxisSample* xcol = xs + q * gw;
      float v = 0.f;
      for (int iy = 0; iy < gh; ++iy) {
        const AxisSample Y = yrow[iy];
        const float* r0 = plane + Y.lo;
        const float* r1 = plane + Y.hi;
        for (int ix = 0; ix < gw; ++ix) {
          const AxisSample X = xcol[ix];
          // Invalid samples have zero weights and offsets: torchvision adds 0 * plane[0] too.
          const float w1 = Y.h * X.h, w2 = Y.h * X.l, w3 = Y.l * X.h, w4 = Y.l * X.l;
          v += w1 * r0[X.lo] + w2 * r0[X.hi] + w3 * r1[X.lo] + w4 * r1[X.hi];
        }
      }
      out[p * cfg.pw + q] = v / rg.count_fwd;
    }
  }
}

// Forward for RoIs idx[0..m) (rows of `rois` and of `out`; all rows when idx is null).
// out has [K, C, ph, pw] layout; only the selected rows are written.
inline void Forward(const Config& cfg, const float* feat, const float* rois, const int64_t* idx, int64_t m,
                    float* out, int threads) {
  if (m <= 0 || cfg.c <= 0) return;
  const Geometry g = BuildGeometry(cfg, rois, idx, m);
  const int64_t hw = cfg.h * cfg.w;
  const int64_t bins = static_cast<int64_t>(cfg.ph) * cfg.pw;
  ParallelFor(cfg.c, threads, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      for (int64_t j = 0; j < m; ++j) {
        const RoiGeom& rg = g.rois[j];
        const int64_t row = idx ? idx[j] : j;
        const float* plane = feat + (rg.batch * cfg.c + c) * hw;
        ForwardPlane(cfg, rg, g.ys.data() + rg.ybegin, g.xs.data() + rg.xbegin, plane,
                     out + (row * cfg.c + c) * bins);
      }
    }
  });
}

// Backward for RoIs idx[0..m): grad_in ([N, C, H, W]) is zeroed, then accumulated from the
// selected rows of grad_out ([K, C, ph, pw]). Deterministic: each plane is owned by one thread
// and accumulated in torchvision's order.
inline void Backward(const Config& cfg, const float* grad_out, const float* rois, const int64_t* idx, int64_t m,
                     float* grad_in, int threads) {
  const int64_t hw = cfg.h * cfg.w;
  const int64_t bins = static_cast<int64_t>(cfg.ph) * cfg.pw;
  const Geometry g = BuildGeometry(cfg, rois, idx, m);
  ParallelFor(cfg.c, threads, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      for (int64_t b = 0; b < cfg.n; ++b) std::memset(grad_in + (b * cfg.c + c) * hw, 0, sizeof(float) * hw);
      for (int64_t j = 0; j < m; ++j) {
        const RoiGeom& rg = g.rois[j];
        const int64_t row = idx ? idx[j] : j;
        float* __restrict plane = grad_in + (rg.batch * cfg.c + c) * hw;
        const float* go = grad_out + (row * cfg.c + c) * bins;
        const AxisSample* ys = g.ys.data() + rg.ybegin;
        const AxisSample* xs = g.xs.data() + rg.xbegin;
        const int gh = rg.gh, gw = rg.gw;
        const float count = rg.count_bwd;
        int exp2 = 0;
        const bool pow2 = count > 0.f && std::frexp(count, &exp2) == 0.5f;
        const float inv = pow2 ? 1.f / count : 0.f;
        for (int p = 0; p < cfg.ph; ++p) {
          for (int q = 0; q < cfg.pw; ++q) {
            const float gbin = go[p * cfg.pw + q];
            for (int iy = 0; iy < gh; ++iy) {
              const AxisSample Y = ys[p * gh + iy];
              if (!Y.valid) continue;
              float* r0 = plane + Y.lo;
              float* r1 = plane + Y.hi;
              for (int ix = 0; ix < gw; ++ix) {
                const AxisSample X = xs[q * gw + ix];
                if (!X.valid) continue;
                const float w1 = Y.h * X.h, w2 = Y.h * X.l, w3 = Y.l * X.h, w4 = Y.l * X.l;
                if (pow2) {  // x * (1/count) is bitwise x / count when count is a power of two
                  r0[X.lo] += gbin * w1 * inv;
                  r0[X.hi] += gbin * w2 * inv;
                  r1[X.lo] += gbin * w3 * inv;
                  r1[X.hi] += gbin * w4 * inv;
                } else {
                  r0[X.lo] += gbin * w1 / count;
                  r0[X.hi] += gbin * w2 / count;
                  r1[X.lo] += gbin * w3 / count;
                  r1[X.hi] += gbin * w4 / count;
                }
              }
            }
          }
        }
      }
    }
  });
}

}  // namespace roi
}  // namespace hpa
