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
// row only, x on the bin column and grid column only), so each RoI gets two small tables,
// computed once and reused for every channel, in which the samples of a bin are merged into one
// window of consecutive pixels per axis (see MergeAxis): a 7×7, sr 2 bin costs a few 4-wide
// vector loads instead of 16 scalar taps. The loops run channel-outer (one feature plane stays in
// cache while every RoI of that image samples it), parallel over channels. Backward accumulates
// each channel plane from one thread in a fixed order, so the gradient is bitwise the same for
// any thread count. The sums are regrouped relative to torchvision's, so results agree with it to
// float rounding (about 1e-7 relative), not bitwise; a non-finite feature value can spread to
// the bins whose windows cover it.
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
// One axis sample (torchvision's bilinear taps along one axis): the two taps and their weights;
// an invalid sample (outside [-1, size]) has zero weights.
struct AxisSample {
  int32_t lo, hi;
  float l, h;  // weight of the hi tap, weight of the lo tap (torchvision's ly/lx and hy/hx)
  bool valid;
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
inline AxisSample MakeSample(float v, int64_t size) {
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
  s.lo = lo;
  s.hi = hi;
  s.valid = true;
  return s;
}

// Per RoI and axis, each output bin's samples merged into one window of `span` consecutive
// pixels: weight[j] = sum of the tap weights that land on pixel start+j (summed in sample
// order). Since a 2-D sample's weight is the product of its axis weights and its validity is
// separable, out[p][q] = sum_ij wy[p][i] wx[q][j] F[ys[p]+i][xs[q]+j] / count is exactly the
// torchvision average, with fewer terms (the samples of a bin share pixels) and contiguous rows.
// All bins of an axis use the RoI's largest span (zero-padded, window shifted to stay inside the
// map); the x span is padded to 4 when the map allows it, for the 4-wide vector path.
struct RoiGeom {
  int32_t batch;
  int32_t sy, sx;          // window sizes (0: no valid sample anywhere)
  float count_fwd;         // max(gh*gw, 1)
  float count_bwd;         // gh*gw
  int64_t ybegin, xbegin;  // offsets into the start tables (ph / pw entries)
  int64_t wybegin, wxbegin;  // offsets into the weight tables (ph*sy / pw*sx entries)
};

struct Geometry {
  std::vector<RoiGeom> rois;
  std::vector<int32_t> ystart, xstart;  // first row / column of each bin's window
  std::vector<float> wy, wx;
};

// Merged windows of one axis: `bins` bins of `g` samples each, on an axis of `size` pixels.
// Returns the window size; fills start[bins] and weight[bins * span].
inline int32_t MergeAxis(const std::vector<AxisSample>& samples, int bins, int g, int64_t size, int pad_to,
                         int32_t* start, std::vector<float>& weight) {
  int32_t span = 0;
  std::vector<int32_t> first(static_cast<size_t>(bins), 0), last(static_cast<size_t>(bins), -1);
  for (int p = 0; p < bins; ++p) {
    for (int i = 0; i < g; ++i) {
      const AxisSample& a = samples[static_cast<size_t>(p) * g + i];
      if (!a.valid) continue;
      if (last[p] < first[p]) {
        first[p] = a.lo;
        last[p] = a.hi;
      } else {
        first[p] = std::min(first[p], a.lo);
        last[p] = std::max(last[p], a.hi);
      }
    }
    span = std::max(span, last[p] - first[p] + 1);
  }
  if (span > 0 && span < pad_to && pad_to <= size) span = pad_to;
  weight.assign(static_cast<size_t>(bins) * span, 0.f);
  for (int p = 0; p < bins; ++p) {
    int32_t s0 = first[p];
    if (s0 + span > size) s0 = static_cast<int32_t>(size - span);
    start[p] = s0;
    float* w = weight.data() + static_cast<size_t>(p) * span;
    for (int i = 0; i < g; ++i) {
      const AxisSample& a = samples[static_cast<size_t>(p) * g + i];
      if (!a.valid) continue;
      w[a.lo - s0] += a.h;
      w[a.hi - s0] += a.l;
    }
  }
  return span;
}

// Geometry of the RoIs idx[0..m) (or 0..m when idx is null). Assumes CheckRois passed.
inline Geometry BuildGeometry(const Config& cfg, const float* rois, const int64_t* idx, int64_t m) {
  Geometry g;
  g.rois.resize(static_cast<size_t>(m));
  g.ystart.resize(static_cast<size_t>(m) * cfg.ph);
  g.xstart.resize(static_cast<size_t>(m) * cfg.pw);
  std::vector<AxisSample> samples;
  std::vector<float> w;
  for (int64_t j = 0; j < m; ++j) {
    const float* r = rois + (idx ? idx[j] : j) * 5;
    const RoiBox b = ComputeBox(cfg, r);
    RoiGeom& rg = g.rois[j];
    rg.batch = static_cast<int32_t>(r[0]);
    const int gh = std::max(b.gh, 0), gw = std::max(b.gw, 0);
    rg.count_fwd = static_cast<float>(std::max(gh * gw, 1));
    rg.count_bwd = static_cast<float>(gh * gw);
    rg.ybegin = j * cfg.ph;
    rg.xbegin = j * cfg.pw;
    // y axis
    samples.resize(static_cast<size_t>(cfg.ph) * gh);
    for (int p = 0; p < cfg.ph; ++p) {
      for (int i = 0; i < gh; ++i) {
        const float y = b.start_h + p * b.bin_h + static_cast<float>(i + .5f) * b.bin_h / static_cast<float>(gh);
        samples[static_cast<size_t>(p) * gh + i] = MakeSample(y, cfg.h);
      }
    }
    rg.sy = MergeAxis(samples, cfg.ph, gh, cfg.h, 1, g.ystart.data() + rg.ybegin, w);
    rg.wybegin = static_cast<int64_t>(g.wy.size());
    g.wy.insert(g.wy.end(), w.begin(), w.end());
    // x axis
    samples.resize(static_cast<size_t>(cfg.pw) * gw);
    for (int p = 0; p < cfg.pw; ++p) {
      for (int i = 0; i < gw; ++i) {
        const float x = b.start_w + p * b.bin_w + static_cast<float>(i + .5f) * b.bin_w / static_cast<float>(gw);
        samples[static_cast<size_t>(p) * gw + i] = MakeSample(x, cfg.w);
      }
    }
    rg.sx = MergeAxis(samples, cfg.pw, gw, cfg.w, 4, g.xstart.data() + rg.xbegin, w);
    rg.wxbegin = static_cast<int64_t>(g.wx.size());
    g.wx.insert(g.wx.end(), w.begin(), w.end());
    if (rg.sy == 0 || rg.sx == 0) rg.sy = rg.sx = 0;
  }
  return g;
}

// Channels per block in the channel-outer loops (4 feature planes of a 128×128 map = 256 KB stay
// in L2 while every RoI samples them); measured flat between 1 and 16 on the bench inputs.
constexpr int64_t kChannelBlock = 4;
inline int64_t ChannelBlock() { return kChannelBlock; }

typedef float v4f __attribute__((vector_size(16)));
inline v4f LoadV4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void StoreV4(float* p, v4f v) { std::memcpy(p, &v, sizeof(v)); }

// One row of bins with 4-column windows: out[q] = sum_i wy[i] <row_i[xs[q]..+4], wx[q]> / count.
// kSy > 0: the window height as a compile-time constant; 0: runtime `sy`.
template <int kSy>
inline void ForwardRow4(int pw, const float* __restrict base, int64_t W, const float* wy, const int32_t* xs,
                        const float* wxs, float count, float* __restrict out, int sy = kSy) {
  const int n = kSy > 0 ? kSy : sy;
  for (int q = 0; q < pw; ++q) {
    const float* b = base + xs[q];
    v4f acc = LoadV4(b) * wy[0];
    for (int i = 1; i < n; ++i) acc += LoadV4(b + i * W) * wy[i];
    const v4f prod = acc * LoadV4(wxs + q * 4);
    out[q] = ((prod[0] + prod[1]) + (prod[2] + prod[3])) / count;
  }
}

// One RoI, one channel: out[ph*pw] from plane[H*W].
inline void ForwardPlane(const Config& cfg, const Geometry& g, const RoiGeom& rg, const float* __restrict plane,
                         float* __restrict out) {
  const int64_t W = cfg.w;
  const int sy = rg.sy, sx = rg.sx;
  if (sy == 0) {
    for (int i = 0; i < cfg.ph * cfg.pw; ++i) out[i] = 0.f;
    return;
  }
  const int32_t* ys = g.ystart.data() + rg.ybegin;
  const int32_t* xs = g.xstart.data() + rg.xbegin;
  const float* wys = g.wy.data() + rg.wybegin;
  const float* wxs = g.wx.data() + rg.wxbegin;
  const float count = rg.count_fwd;
  for (int p = 0; p < cfg.ph; ++p) {
    const float* base = plane + ys[p] * W;
    const float* wy = wys + p * sy;
    if (sx == 4) {
      switch (sy) {  // fixed window heights unrolled (a 7×7, sr 2 bin spans 2 to 4 rows)
        case 1: ForwardRow4<1>(cfg.pw, base, W, wy, xs, wxs, count, out + p * cfg.pw); break;
        case 2: ForwardRow4<2>(cfg.pw, base, W, wy, xs, wxs, count, out + p * cfg.pw); break;
        case 3: ForwardRow4<3>(cfg.pw, base, W, wy, xs, wxs, count, out + p * cfg.pw); break;
        case 4: ForwardRow4<4>(cfg.pw, base, W, wy, xs, wxs, count, out + p * cfg.pw); break;
        default: ForwardRow4<0>(cfg.pw, base, W, wy, xs, wxs, count, out + p * cfg.pw, sy); break;
      }
    } else {
      for (int q = 0; q < cfg.pw; ++q) {
        const float* b = base + xs[q];
        const float* wx = wxs + q * sx;
        float v = 0.f;
        for (int i = 0; i < sy; ++i) {
          const float* row = b + i * W;
          float rv = 0.f;
          for (int j = 0; j < sx; ++j) rv += wx[j] * row[j];
          v += wy[i] * rv;
        }
        out[p * cfg.pw + q] = v / count;
      }
    }
  }
}

// Backward of ForwardRow4: row_i[xs[q]..+4] += (g[q] / count) * wy[i] * wx[q].
template <int kSy>
inline void BackwardRow4(int pw, float* __restrict base, int64_t W, const float* wy, const int32_t* xs,
                         const float* wxs, float count, const float* g, int sy = kSy) {
  const int n = kSy > 0 ? kSy : sy;
  for (int q = 0; q < pw; ++q) {
    const v4f wx = LoadV4(wxs + q * 4) * (g[q] / count);
    float* bq = base + xs[q];
    for (int i = 0; i < n; ++i) StoreV4(bq + i * W, LoadV4(bq + i * W) + wx * wy[i]);
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
  // Channel blocks: within a block the RoI loop is outside, so each RoI's output rows for the
  // block are written contiguously while the block's feature planes stay in cache.
  const int64_t cb = ChannelBlock();
  ParallelFor(cfg.c, threads, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t cs = c0; cs < c1; cs += cb) {
      const int64_t ce = std::min(c1, cs + cb);
      for (int64_t j = 0; j < m; ++j) {
        const RoiGeom& rg = g.rois[j];
        const int64_t row = idx ? idx[j] : j;
        for (int64_t c = cs; c < ce; ++c) {
          ForwardPlane(cfg, g, rg, feat + (rg.batch * cfg.c + c) * hw, out + (row * cfg.c + c) * bins);
        }
      }
    }
  });
}

// Backward for RoIs idx[0..m): grad_in ([N, C, H, W]) is zeroed, then accumulated from the
// selected rows of grad_out ([K, C, ph, pw]). Deterministic: each plane is owned by one thread
// and accumulated in a fixed order (RoI, bin, window row), whatever the thread count. The zeroing
// is kept even on fresh (already zero) memory: it is the first touch, by writes; letting the
// accumulation's reads touch fresh pages first costs a zero-page fault plus a copy-on-write fault
// per page (measured slower).
inline void Backward(const Config& cfg, const float* grad_out, const float* rois, const int64_t* idx, int64_t m,
                     float* grad_in, int threads) {
  const int64_t hw = cfg.h * cfg.w;
  const int64_t W = cfg.w;
  const int64_t bins = static_cast<int64_t>(cfg.ph) * cfg.pw;
  const Geometry g = BuildGeometry(cfg, rois, idx, m);
  const int64_t cb = ChannelBlock();
  ParallelFor(cfg.c, threads, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      for (int64_t b = 0; b < cfg.n; ++b) std::memset(grad_in + (b * cfg.c + c) * hw, 0, sizeof(float) * hw);
    }
    for (int64_t cs = c0; cs < c1; cs += cb) {
      const int64_t ce = std::min(c1, cs + cb);
      for (int64_t j = 0; j < m; ++j) {
       for (int64_t c = cs; c < ce; ++c) {
        const RoiGeom& rg = g.rois[j];
        if (rg.sy == 0) continue;
        const int64_t row = idx ? idx[j] : j;
        float* __restrict plane = grad_in + (rg.batch * cfg.c + c) * hw;
        const float* go = grad_out + (row * cfg.c + c) * bins;
        const int32_t* ys = g.ystart.data() + rg.ybegin;
        const int32_t* xs = g.xstart.data() + rg.xbegin;
        const float* wys = g.wy.data() + rg.wybegin;
        const float* wxs = g.wx.data() + rg.wxbegin;
        const int sy = rg.sy, sx = rg.sx;
        const float count = rg.count_bwd;
        for (int p = 0; p < cfg.ph; ++p) {
          float* base = plane + ys[p] * W;
          const float* wy = wys + p * sy;
          const float* gp = go + p * cfg.pw;
          if (sx == 4) {
            switch (sy) {
              case 1: BackwardRow4<1>(cfg.pw, base, W, wy, xs, wxs, count, gp); break;
              case 2: BackwardRow4<2>(cfg.pw, base, W, wy, xs, wxs, count, gp); break;
              case 3: BackwardRow4<3>(cfg.pw, base, W, wy, xs, wxs, count, gp); break;
              case 4: BackwardRow4<4>(cfg.pw, base, W, wy, xs, wxs, count, gp); break;
              default: BackwardRow4<0>(cfg.pw, base, W, wy, xs, wxs, count, gp, sy); break;
            }
            continue;
          }
          for (int q = 0; q < cfg.pw; ++q) {
            const float gb = go[p * cfg.pw + q] / count;
            float* bq = base + xs[q];
            {
              const float* wx = wxs + q * sx;
              for (int i = 0; i < sy; ++i) {
                const float gy = gb * wy[i];
                float* r = bq + i * W;
                for (int k = 0; k < sx; ++k) r[k] += gy * wx[k];
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
