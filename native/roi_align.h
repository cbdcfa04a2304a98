// RoIAlign forward and backward (torchvision's roi_align semantics), shared by roi_align.cc and
// multiscale_roi_align.cc. Pure C++ that runs on worker threads: no N-API calls here (only
// large_buffer.h's scratch memory, whose header includes napi.h).
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
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "large_buffer.h"
#include "parallel.h"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

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

// ---------------------------------------------------------------------------------------------
// Channel-inner forward (many RoIs on one map). The planes of each used image are first copied
// into blocks of kNcb channels stored pixel-major ([C/kNcb][H][W][kNcb], "NCHW16c": one block of
// a 128×128 map is 1 MiB and stays in cache while every RoI samples it); then each bin is
// computed for the block's channels at once, 8 per vector, with the bin's weights in registers,
// and the RoI's [bins][kNcb] result is transposed into its output rows ([C][bins]), written with
// non-temporal stores when the output is large (it is not read back soon, and streaming skips
// reading each output line into the cache first). Per channel the arithmetic is exactly the
// channel-outer path's (the same products and sums in the same order: ForwardRow4 for
// 4-column windows, the scalar loop of ForwardPlane otherwise), so the output is bitwise the
// same; only the loop order changes. Split over channel blocks (each output element written by
// one thread): deterministic for any thread count.

constexpr int64_t kNcb = 16;
// Outputs of at least this size are streamed.
constexpr double kStreamMinBytes = 8.0 * (1 << 20);

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // v8f helpers are always inlined: no ABI crossing
#endif
typedef float v8f __attribute__((vector_size(32)));
__attribute__((always_inline)) inline v8f LoadV8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
__attribute__((always_inline)) inline void StoreV8(float* p, v8f v) { std::memcpy(p, &v, sizeof(v)); }

// One bin with a 4-column window for channels [0, cn): dst[c]. px: the window's top-left pixel
// (channel 0 of the block), pixels kNcb floats apart, rows rs floats apart.
template <int kSy>
__attribute__((always_inline)) inline void NcbBin4(const float* __restrict px, int64_t rs, int64_t cn,
                                                   const float* wy, const float* wx, float count,
                                                   float* __restrict dst, int sy) {
  constexpr int64_t P = kNcb;
  const int n = kSy > 0 ? kSy : sy;
  const float wx0 = wx[0], wx1 = wx[1], wx2 = wx[2], wx3 = wx[3];
  int64_t c = 0;
  for (; c + 8 <= cn; c += 8) {
    const float* b = px + c;
    v8f a0 = LoadV8(b) * wy[0], a1 = LoadV8(b + P) * wy[0];
    v8f a2 = LoadV8(b + 2 * P) * wy[0], a3 = LoadV8(b + 3 * P) * wy[0];
    for (int i = 1; i < n; ++i) {
      const float* r = b + i * rs;
      a0 += LoadV8(r) * wy[i];
      a1 += LoadV8(r + P) * wy[i];
      a2 += LoadV8(r + 2 * P) * wy[i];
      a3 += LoadV8(r + 3 * P) * wy[i];
    }
    StoreV8(dst + c, ((a0 * wx0 + a1 * wx1) + (a2 * wx2 + a3 * wx3)) / count);
  }
  for (; c < cn; ++c) {
    const float* b = px + c;
    float a0 = b[0] * wy[0], a1 = b[P] * wy[0], a2 = b[2 * P] * wy[0], a3 = b[3 * P] * wy[0];
    for (int i = 1; i < n; ++i) {
      const float* r = b + i * rs;
      a0 += r[0] * wy[i];
      a1 += r[P] * wy[i];
      a2 += r[2 * P] * wy[i];
      a3 += r[3 * P] * wy[i];
    }
    dst[c] = ((a0 * wx0 + a1 * wx1) + (a2 * wx2 + a3 * wx3)) / count;
  }
}

// One bin with a window of sx columns (ForwardPlane's scalar loop order), channels [0, cn).
__attribute__((always_inline)) inline void NcbBinN(const float* __restrict px, int64_t rs, int64_t cn, int sy,
                                                   int sx, const float* wy, const float* wx, float count,
                                                   float* __restrict dst) {
  constexpr int64_t P = kNcb;
  int64_t c = 0;
  for (; c + 8 <= cn; c += 8) {
    v8f v = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < sy; ++i) {
      v8f rv = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int j = 0; j < sx; ++j) rv += wx[j] * LoadV8(px + i * rs + j * P + c);
      v += wy[i] * rv;
    }
    StoreV8(dst + c, v / count);
  }
  for (; c < cn; ++c) {
    float v = 0.f;
    for (int i = 0; i < sy; ++i) {
      float rv = 0.f;
      for (int j = 0; j < sx; ++j) rv += wx[j] * px[i * rs + j * P + c];
      v += wy[i] * rv;
    }
    dst[c] = v / count;
  }
}

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

// Copies n floats with non-temporal stores where dst is 16-byte aligned (plain copy otherwise).
inline void StreamCopy(float* dst, const float* src, int64_t n) {
#if defined(__SSE2__)
  if ((reinterpret_cast<uintptr_t>(dst) & 15) == 0) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
    for (; i < n; ++i) dst[i] = src[i];
    return;
  }
#endif
  std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(n));
}

struct NcbJob {
  const Config* cfg;
  const Geometry* g;
  const float* blocks;     // [used images][C/kNcb blocks][H][W][kNcb]
  const int64_t* slot;     // image -> used-image index
  const int64_t* idx;      // output rows (null: j)
  int64_t m;
  bool stream;
  float* out;
};

// Channel blocks [kb0, kb1) for every RoI. tile: bins*kNcb floats, stage: kNcb*bins floats.
__attribute__((always_inline)) inline void NcbBlocks(const NcbJob& job, int64_t kb0, int64_t kb1, float* tile,
                                                     float* stage) {
  const Config& cfg = *job.cfg;
  const Geometry& g = *job.g;
  const int64_t C = cfg.c, W = cfg.w, rs = W * kNcb;
  const int64_t nb = (C + kNcb - 1) / kNcb;
  const int64_t bins = static_cast<int64_t>(cfg.ph) * cfg.pw;
  const int64_t block_elems = cfg.h * cfg.w * kNcb;
  for (int64_t kb = kb0; kb < kb1; ++kb) {
    const int64_t c0 = kb * kNcb, cn = std::min(kNcb, C - c0);
    for (int64_t j = 0; j < job.m; ++j) {
      const RoiGeom& rg = g.rois[j];
      const int64_t row = job.idx ? job.idx[j] : j;
      float* o = job.out + (row * C + c0) * bins;
      if (rg.sy == 0) {
        std::memset(o, 0, sizeof(float) * cn * bins);
        continue;
      }
      const float* base = job.blocks + (job.slot[rg.batch] * nb + kb) * block_elems;
      const int32_t* ys = g.ystart.data() + rg.ybegin;
      const int32_t* xs = g.xstart.data() + rg.xbegin;
      const float* wys = g.wy.data() + rg.wybegin;
      const float* wxs = g.wx.data() + rg.wxbegin;
      const int sy = rg.sy, sx = rg.sx;
      const float count = rg.count_fwd;
      for (int p = 0; p < cfg.ph; ++p) {
        const float* wy = wys + p * sy;
        for (int q = 0; q < cfg.pw; ++q) {
          const float* px = base + (static_cast<int64_t>(ys[p]) * W + xs[q]) * kNcb;
          float* dst = tile + (p * cfg.pw + q) * kNcb;
          if (sx == 4) {
            const float* wx = wxs + q * 4;
            switch (sy) {
              case 1: NcbBin4<1>(px, rs, cn, wy, wx, count, dst, 1); break;
              case 2: NcbBin4<2>(px, rs, cn, wy, wx, count, dst, 2); break;
              case 3: NcbBin4<3>(px, rs, cn, wy, wx, count, dst, 3); break;
              case 4: NcbBin4<4>(px, rs, cn, wy, wx, count, dst, 4); break;
              default: NcbBin4<0>(px, rs, cn, wy, wx, count, dst, sy); break;
            }
          } else {
            NcbBinN(px, rs, cn, sy, sx, wy, wxs + q * sx, count, dst);
          }
        }
      }
      // [bins][kNcb] -> [cn][bins]
      float* t_out = job.stream ? stage : o;
      for (int64_t b = 0; b < bins; ++b) {
        const float* t = tile + b * kNcb;
        for (int64_t k = 0; k < cn; ++k) t_out[k * bins + b] = t[k];
      }
      if (job.stream) StreamCopy(o, stage, cn * bins);
    }
  }
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target("avx2"))) inline void NcbBlocksAvx2(const NcbJob& job, int64_t kb0, int64_t kb1, float* tile,
                                                          float* stage) {
  NcbBlocks(job, kb0, kb1, tile, stage);
}
inline bool HasAvx2() {
  static const bool v = __builtin_cpu_supports("avx2");
  return v;
}
#endif

inline void NcbBlocksDispatch(const NcbJob& job, int64_t kb0, int64_t kb1, float* tile, float* stage) {
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
  if (HasAvx2()) {
    NcbBlocksAvx2(job, kb0, kb1, tile, stage);
  } else
#endif
  {
    NcbBlocks(job, kb0, kb1, tile, stage);
  }
#if defined(__SSE2__)
  if (job.stream) _mm_sfence();  // streamed stores complete before the thread is joined
#endif
}

// Planes [C][H][W] of one image -> blocks [C/kNcb][H][W][kNcb], rows [y0, y1) of every block.
inline void ToNcb(const float* src, int64_t C, int64_t H, int64_t W, int64_t y0, int64_t y1, float* dst) {
  const int64_t nb = (C + kNcb - 1) / kNcb;
  for (int64_t kb = 0; kb < nb; ++kb) {
    const int64_t c0 = kb * kNcb, cn = std::min(kNcb, C - c0);
    float* blk = dst + kb * H * W * kNcb;
    for (int64_t y = y0; y < y1; ++y) {
      float* d = blk + y * W * kNcb;
      int64_t x0 = 0;
#if defined(__SSE2__)
      if (cn == kNcb) {
        // 4 pixels × 4 channels at a time: four rows loaded, transposed, stored per pixel.
        const float* s0 = src + (c0 * H + y) * W;
        const int64_t cs = H * W;  // channel stride
        for (; x0 + 4 <= W; x0 += 4) {
          for (int64_t k = 0; k < kNcb; k += 4) {
            const float* p = s0 + k * cs + x0;
            __m128 r0 = _mm_loadu_ps(p), r1 = _mm_loadu_ps(p + cs);
            __m128 r2 = _mm_loadu_ps(p + 2 * cs), r3 = _mm_loadu_ps(p + 3 * cs);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            float* q = d + x0 * kNcb + k;
            _mm_storeu_ps(q, r0);
            _mm_storeu_ps(q + kNcb, r1);
            _mm_storeu_ps(q + 2 * kNcb, r2);
            _mm_storeu_ps(q + 3 * kNcb, r3);
          }
        }
      }
#endif
      for (int64_t k = 0; k < cn; ++k) {
        const float* srow = src + ((c0 + k) * H + y) * W;
        for (int64_t x = x0; x < W; ++x) d[x * kNcb + k] = srow[x];
      }
    }
  }
}

// The channel-inner forward. `scratch(n)` returns n floats for the blocked copy of the used images.
template <typename Scratch>
inline void ForwardNcb(const Config& cfg, const Geometry& g, const float* feat, const int64_t* idx, int64_t m,
                       float* out, int threads, Scratch&& scratch) {
  const int64_t hw = cfg.h * cfg.w;
  const int64_t nb = (cfg.c + kNcb - 1) / kNcb;
  std::vector<int64_t> slot(static_cast<size_t>(cfg.n), -1);
  std::vector<int64_t> used;
  for (int64_t j = 0; j < m; ++j) {
    const int32_t b = g.rois[j].batch;
    if (slot[b] < 0) {
      slot[b] = static_cast<int64_t>(used.size());
      used.push_back(b);
    }
  }
  const int64_t nu = static_cast<int64_t>(used.size());
  const int64_t per_image = nb * kNcb * hw;
  float* blocks = scratch(nu * per_image);
  ParallelFor(nu * cfg.h, threads, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1;) {
      const int64_t u = r / cfg.h, y0 = r % cfg.h;
      const int64_t y1 = std::min(cfg.h, y0 + (r1 - r));
      ToNcb(feat + used[u] * cfg.c * hw, cfg.c, cfg.h, cfg.w, y0, y1, blocks + u * per_image);
      r += y1 - y0;
    }
  });
  const int64_t bins = static_cast<int64_t>(cfg.ph) * cfg.pw;
  NcbJob job{&cfg, &g, blocks, slot.data(), idx, m,
             static_cast<double>(m) * cfg.c * bins * sizeof(float) >= kStreamMinBytes, out};
  ParallelFor(nb, threads, 1, [&](int64_t kb0, int64_t kb1) {
    std::vector<float> tile(static_cast<size_t>(bins * kNcb)), stage(static_cast<size_t>(bins * kNcb));
    NcbBlocksDispatch(job, kb0, kb1, tile.data(), stage.data());
  });
}

// Which forward loop runs: HPA_ROI_ALIGN_LAYOUT=planes or =blocked forces one (read once; for
// tests and measurements, the results are bitwise the same), otherwise the blocked (channel-
// inner) loop when there are at least 16 channels and at least half as many output bins as
// pixels in the images the RoIs use (its copy of those images then pays off: measured 18 vs 24
// ms at 512 RoIs and 28 vs 45 ms at 1000 on a 256×128×128 map, one thread).
inline int LayoutOverride() {
  static const int v = [] {
    const char* e = std::getenv("HPA_ROI_ALIGN_LAYOUT");
    if (!e) return 0;
    if (std::strcmp(e, "planes") == 0) return 1;
    if (std::strcmp(e, "blocked") == 0) return 2;
    return 0;
  }();
  return v;
}
inline bool UseBlockedLayout(const Config& cfg, const Geometry& g, int64_t m) {
  const int o = LayoutOverride();
  if (o) return o == 2;
  if (cfg.c < 16) return false;
  std::vector<uint8_t> seen(static_cast<size_t>(cfg.n), 0);
  int64_t images = 0;
  for (int64_t j = 0; j < m; ++j) {
    uint8_t& s = seen[g.rois[j].batch];
    images += s == 0;
    s = 1;
  }
  const double bins = static_cast<double>(m) * cfg.ph * cfg.pw;
  return 2.0 * bins >= static_cast<double>(images) * cfg.h * cfg.w;
}

// Forward for RoIs idx[0..m) (rows of `rois` and of `out`; all rows when idx is null).
// out has [K, C, ph, pw] layout; only the selected rows are written.
inline void Forward(const Config& cfg, const float* feat, const float* rois, const int64_t* idx, int64_t m,
                    float* out, int threads) {
  if (m <= 0 || cfg.c <= 0) return;
  const Geometry g = BuildGeometry(cfg, rois, idx, m);
  const int64_t hw = cfg.h * cfg.w;
  const int64_t bins = static_cast<int64_t>(cfg.ph) * cfg.pw;
  if (UseBlockedLayout(cfg, g, m)) {
    LargeBuffer<float> scratch;
    ForwardNcb(cfg, g, feat, idx, m, out, threads, [&](int64_t n) {
      scratch = LargeBuffer<float>::Make(n);  // freed into large_buffer.h's cache: reused next call
      return scratch.data();
    });
    return;
  }
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
