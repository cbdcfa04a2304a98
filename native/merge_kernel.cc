// The merge kernel (see merge_kernel.h). Works row by row: each channel row is first brought to
// 8-bit gray (a no-op pointer for the common 8-bit gray file, else an extraction into a small L1
// scratch row), then one tight loop per mode writes the RGB row and, while it is still in cache,
// the tensor row. The row loops are plain C++ that GCC vectorizes; on x86-64 they are compiled
// twice (AVX2 and baseline) and picked at load time, so the binary stays portable.
#include "merge_kernel.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

// The weight-matrix mode must round exactly like the documented float64 formula (and the numpy
// goldens): no fused multiply-add contraction.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define HPA_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define HPA_MULTIVERSION
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "16-bit samples are read as little-endian (sharp's native order on supported platforms)"
#endif

namespace hpa {
namespace merge {
namespace {

// ---- channel extraction: any layout -> one 8-bit gray row -------------------------------------

HPA_MULTIVERSION
void ExtractComponent8(const uint8_t* __restrict src, int channels, int component,
                       uint8_t* __restrict dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = src[i * channels + component];
}

HPA_MULTIVERSION
void ExtractAverage8(const uint8_t* __restrict src, int channels, uint8_t* __restrict dst,
                     size_t n) {
  for (size_t i = 0; i < n; ++i) {
    dst[i] = static_cast<uint8_t>((src[i * channels] + src[i * channels + 1]) >> 1);
  }
}

// 16-bit little-endian: v >> 8 is the high (second) byte of each sample.
HPA_MULTIVERSION
void ExtractComponent16(const uint8_t* __restrict src, int channels, int component,
                        uint8_t* __restrict dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = src[2 * (i * channels + component) + 1];
}

HPA_MULTIVERSION
void ExtractAverage16(const uint8_t* __restrict src, int channels, uint8_t* __restrict dst,
                      size_t n) {
  for (size_t i = 0; i < n; ++i) {
    dst[i] = static_cast<uint8_t>((src[2 * i * channels + 1] + src[2 * i * channels + 3]) >> 1);
  }
}

const uint8_t* RowOf(const PlaneLayout& pl, size_t width, size_t row, uint8_t* scratch) {
  const size_t row_bytes = width * static_cast<size_t>(pl.channels * pl.bytes_per_sample);
  const uint8_t* src = pl.data + row * row_bytes;
  if (pl.bytes_per_sample == 1) {
    if (pl.channels == 1) return src;  // the common case: no copy at all
    if (pl.component == kAverageRG) {
      ExtractAverage8(src, pl.channels, scratch, width);
    } else {
      ExtractComponent8(src, pl.channels, pl.component, scratch, width);
    }
  } else if (pl.component == kAverageRG) {
    ExtractAverage16(src, pl.channels, scratch, width);
  } else {
    ExtractComponent16(src, pl.channels, pl.component, scratch, width);
  }
  return scratch;
}

// ---- the merge rows -----------------------------------------------------------------------------

HPA_MULTIVERSION
void SumRow(const uint8_t* __restrict r, const uint8_t* __restrict g, const uint8_t* __restrict b,
            const uint8_t* __restrict y, uint8_t* __restrict out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const unsigned half = y[i] >> 1;
    const unsigned rr = r[i] + half;
    const unsigned gg = g[i] + half;
    out[3 * i] = static_cast<uint8_t>(rr > 255 ? 255 : rr);
    out[3 * i + 1] = static_cast<uint8_t>(gg > 255 ? 255 : gg);
    out[3 * i + 2] = b[i];
  }
}

HPA_MULTIVERSION
void AverageRow(const uint8_t* __restrict r, const uint8_t* __restrict g,
                const uint8_t* __restrict b, const uint8_t* __restrict y,
                uint8_t* __restrict out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    out[3 * i] = static_cast<uint8_t>((r[i] + y[i]) >> 1);
    out[3 * i + 1] = static_cast<uint8_t>((g[i] + y[i]) >> 1);
    out[3 * i + 2] = b[i];
  }
}

// Each output = clamp(floor(x + 0.5), 0, 255) with x = ((w0*R + w1*G) + w2*B) + w3*Y in float64.
HPA_MULTIVERSION
void WeightsRow(const uint8_t* __restrict r, const uint8_t* __restrict g,
                const uint8_t* __restrict b, const uint8_t* __restrict y,
                const double* __restrict w, uint8_t* __restrict out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double in[4] = {double(r[i]), double(g[i]), double(b[i]), double(y[i])};
    for (int c = 0; c < 3; ++c) {
      const double* wc = w + 4 * c;
      double x = wc[0] * in[0];
      x = x + wc[1] * in[1];
      x = x + wc[2] * in[2];
      x = x + wc[3] * in[3];
      x = std::floor(x + 0.5);
      x = x < 0.0 ? 0.0 : (x > 255.0 ? 255.0 : x);
      out[3 * i + c] = static_cast<uint8_t>(x);
    }
  }
}

// One table per channel gives (v/255 - mean)/std computed once in float64 for all 256 values.
struct TensorLut {
  float v[3][256];
};

void TensorRow(const uint8_t* __restrict rgb, const TensorLut& lut, float* __restrict t0,
               float* __restrict t1, float* __restrict t2, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    t0[i] = lut.v[0][rgb[3 * i]];
    t1[i] = lut.v[1][rgb[3 * i + 1]];
    t2[i] = lut.v[2][rgb[3 * i + 2]];
  }
}

void RunRows(const Params& p, const TensorLut* lut, size_t row_begin, size_t row_end) {
  const size_t w = p.width;
  const size_t plane = w * p.height;
  std::vector<uint8_t> scratch(4 * w);
  for (size_t row = row_begin; row < row_end; ++row) {
    const uint8_t* in[4];
    for (int k = 0; k < 4; ++k) in[k] = RowOf(p.planes[k], w, row, scratch.data() + k * w);
    uint8_t* out = p.rgb + row * w * 3;
    switch (p.mode) {
      case Mode::kSum: SumRow(in[0], in[1], in[2], in[3], out, w); break;
      case Mode::kAverage: AverageRow(in[0], in[1], in[2], in[3], out, w); break;
      case Mode::kWeights: WeightsRow(in[0], in[1], in[2], in[3], p.weights, out, w); break;
    }
    if (p.tensor != nullptr) {
      float* t = p.tensor + row * w;
      TensorRow(out, *lut, t, t + plane, t + 2 * plane, w);
    }
  }
}

}  // namespace

void Run(const Params& p) {
  TensorLut lut;
  if (p.tensor != nullptr) {
    for (int c = 0; c < 3; ++c) {
      for (int v = 0; v < 256; ++v) {
        lut.v[c][v] = static_cast<float>((v / 255.0 - p.mean[c]) / p.std[c]);
      }
    }
  }
  const size_t pixels = p.width * p.height;
  size_t threads = p.threads > 0 ? static_cast<size_t>(p.threads)
                                 : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min({threads, std::max<size_t>(1, pixels / kMinPixelsPerThread), p.height});
  if (threads <= 1) {
    RunRows(p, &lut, 0, p.height);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  const size_t chunk = (p.height + threads - 1) / threads;
  for (size_t t = 1; t < threads; ++t) {
    const size_t begin = std::min(p.height, t * chunk);
    const size_t end = std::min(p.height, begin + chunk);
    try {
      pool.emplace_back([&p, &lut, begin, end] { RunRows(p, &lut, begin, end); });
    } catch (...) {  // no thread available: do this chunk here rather than fail
      RunRows(p, &lut, begin, end);
    }
  }
  RunRows(p, &lut, 0, std::min(p.height, chunk));
  for (std::thread& th : pool) th.join();
}

}  // namespace merge
}  // namespace hpa
