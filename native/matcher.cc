// Native proposal Matcher (see matcher.h for the semantics and the algorithm).
//
//   matchBoxesSync(gtBoxes: Float32Array[G*4], predictions: Float32Array[N*4], highThreshold,
//                  lowThreshold, allowLowQualityMatches: boolean, threads?: number)
//   matchQualitySync(quality: Float32Array[G*N], numGt, numPredictions, highThreshold,
//                    lowThreshold, allowLowQualityMatches, threads?)
//     -> { matches: Int32Array[N], bestQuality: Float32Array[N], gtMaxQuality: Float32Array[G] }
//   matchBoxes / matchQuality: the same on the libuv thread pool -> Promise (the inputs are kept
//   referenced and read while pending).
//
// Boxes must be finite (RangeError naming the array and index); thresholds finite numbers with
// low <= high; threads an integer in [0, 256] (0 or undefined: the default). G = 0 or N = 0 is a
// RangeError with torchvision's message.
#include "matcher.h"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "async_work.h"
#include "parallel.h"
#include "registry.h"
#include "validate.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")  // IoU rounded op by op, as torch and boxIouSync
#endif

#include "iou_row.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define HPA_MATCHER_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define HPA_MATCHER_CLONES
#endif

namespace hpa {
namespace {

// Predictions per pass-1 block (fixed: partial maxima per block) and per sub-block (SoA tile).
constexpr int64_t kBlock = 8192;
constexpr int64_t kTile = 512;

// One gt box against a tile of SoA predictions: iou_row.h's IouRow, the same code as
// boxIouSync's (gt = boxes1), so every value is bitwise boxIouSync's.

inline float IouScalar(const float* a, float aa, const float* b, float ba) {
  float w = std::min(a[2], b[2]) - std::max(a[0], b[0]);
  float h = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  w = std::max(w, 0.0f);
  h = std::max(h, 0.0f);
  float inter = w * h;
  return inter / ((aa + ba) - inter);
}

// best/bestQuality update with row g: torch.max's rule (strictly greater; NaN wins once).
HPA_MATCHER_CLONES
void UpdateBest(const float* __restrict row, int32_t g, int64_t m, float* __restrict bv,
                int32_t* __restrict bi) {
  for (int64_t j = 0; j < m; ++j) {
    const float v = row[j], b = bv[j];
    const bool take = (v > b) | ((v != v) & (b == b));
    bv[j] = take ? v : b;
    bi[j] = take ? g : bi[j];
  }
}

// matches from the best qualities: -1 below low, -2 in [low, high), else the best gt (NaN
// included: it compares false with both). Branch-free (vectorised); needs low <= high.
HPA_MATCHER_CLONES
void Thresholds(const float* __restrict bv, const int32_t* __restrict best, int64_t m, float low, float high,
                int32_t* __restrict out) {
  for (int64_t j = 0; j < m; ++j) {
    const float v = bv[j];
    int32_t r = best[j];
    r = v < high ? -2 : r;
    r = v < low ? -1 : r;
    out[j] = r;
  }
}

// Largest non-NaN value of row[0, m) (-inf if none) and whether a NaN occurs. max_ps(v, acc) is
// v > acc ? v : acc, NaN-ignoring in v: the order of the lanes does not change the result.
float RowMax(const float* __restrict row, int64_t m, bool* has_nan) {
  float r = -std::numeric_limits<float>::infinity();
  bool nan = false;
  int64_t j = 0;
#if defined(__SSE2__)
  __m128 a0 = _mm_set1_ps(r), a1 = a0;
  __m128 n0 = _mm_setzero_ps(), n1 = n0;
  for (; j + 8 <= m; j += 8) {
    const __m128 v0 = _mm_loadu_ps(row + j), v1 = _mm_loadu_ps(row + j + 4);
    a0 = _mm_max_ps(v0, a0);
    a1 = _mm_max_ps(v1, a1);
    n0 = _mm_or_ps(n0, _mm_cmpunord_ps(v0, v0));
    n1 = _mm_or_ps(n1, _mm_cmpunord_ps(v1, v1));
  }
  alignas(16) float lanes[8];
  _mm_store_ps(lanes, a0);
  _mm_store_ps(lanes + 4, a1);
  for (int k = 0; k < 8; ++k) r = lanes[k] > r ? lanes[k] : r;
  nan = _mm_movemask_ps(_mm_or_ps(n0, n1)) != 0;
#endif
  for (; j < m; ++j) {
    const float v = row[j];
    r = v > r ? v : r;
    nan |= v != v;
  }
  *has_nan = nan;
  return r;
}

// Quality from boxes: IoU(gt g, prediction j) computed tile by tile.
class BoxSource {
 public:
  BoxSource(const float* gt, int64_t num_gt, const float* pred) : gt_(gt), pred_(pred), ga_(num_gt) {
    for (int64_t g = 0; g < num_gt; ++g) {
      const float* r = gt + 4 * g;
      ga_[g] = (r[2] - r[0]) * (r[3] - r[1]);
    }
  }
  struct Tile {
    float x1[kTile], y1[kTile], x2[kTile], y2[kTile], a[kTile];
    float buf[kTile];
    int64_t j0 = 0, len = 0;
  };
  void Load(Tile& t, int64_t j0, int64_t len) const {
    t.j0 = j0;
    t.len = len;
    const float* p = pred_ + 4 * j0;
    for (int64_t j = 0; j < len; ++j) {
      t.x1[j] = p[4 * j];
      t.y1[j] = p[4 * j + 1];
      t.x2[j] = p[4 * j + 2];
      t.y2[j] = p[4 * j + 3];
      t.a[j] = (t.x2[j] - t.x1[j]) * (t.y2[j] - t.y1[j]);
    }
  }
  const float* Row(Tile& t, int64_t g) const {
    const float* r = gt_ + 4 * g;
    IouRow(r[0], r[1], r[2], r[3], ga_[g], t.x1, t.y1, t.x2, t.y2, t.a, t.len, t.buf);
    return t.buf;
  }
  float At(int64_t g, int64_t j) const {
    const float* b = pred_ + 4 * j;
    const float ba = (b[2] - b[0]) * (b[3] - b[1]);
    return IouScalar(gt_ + 4 * g, ga_[g], b, ba);
  }

 private:
  const float* gt_;
  const float* pred_;
  std::vector<float> ga_;
};

// Quality from a given row-major G x N matrix.
class MatrixSource {
 public:
  MatrixSource(const float* q, int64_t n) : q_(q), n_(n) {}
  struct Tile {
    int64_t j0 = 0, len = 0;
  };
  void Load(Tile& t, int64_t j0, int64_t len) const {
    t.j0 = j0;
    t.len = len;
  }
  const float* Row(Tile& t, int64_t g) const { return q_ + g * n_ + t.j0; }
  float At(int64_t g, int64_t j) const { return q_[g * n_ + j]; }

 private:
  const float* q_;
  int64_t n_;
};

template <typename Source>
MatchResult Match(const Source& src, int64_t num_gt, int64_t n, float high, float low,
                  bool allow_low, int threads) {
  MatchResult r;
  r.matches.resize(static_cast<size_t>(n));
  r.best_quality.resize(static_cast<size_t>(n));
  r.gt_max.resize(static_cast<size_t>(num_gt));
  const int64_t nb = NumBlocks(n, kBlock);
  // Per block and gt: largest non-NaN quality, and whether a NaN occurred.
  std::vector<float> block_max(static_cast<size_t>(nb * num_gt));
  std::vector<uint8_t> block_nan(static_cast<size_t>(nb * num_gt));
  float* bv_all = r.best_quality.data();
  int32_t* m_all = r.matches.data();
  // The best gt of every prediction, kept for pass 2 (the low-quality rule assigns it).
  std::vector<int32_t> best_all(allow_low ? static_cast<size_t>(n) : 0);

  // Pass 1: best gt per prediction, thresholds, per-block gt maxima.
  ParallelForBlocks(n, kBlock, threads, [&](int64_t bi, int64_t begin, int64_t end) {
    auto tile = std::make_unique<typename Source::Tile>();
    float* bmax = block_max.data() + bi * num_gt;
    uint8_t* bnan = block_nan.data() + bi * num_gt;
    for (int64_t g = 0; g < num_gt; ++g) {
      bmax[g] = -std::numeric_limits<float>::infinity();
      bnan[g] = 0;
    }
    int32_t best[kTile];
    for (int64_t j0 = begin; j0 < end; j0 += kTile) {
      const int64_t len = std::min(kTile, end - j0);
      src.Load(*tile, j0, len);
      float* bv = bv_all + j0;
      for (int64_t g = 0; g < num_gt; ++g) {
        const float* row = src.Row(*tile, g);
        if (g == 0) {
          std::copy(row, row + len, bv);
          std::fill(best, best + len, 0);
        } else {
          UpdateBest(row, static_cast<int32_t>(g), len, bv, best);
        }
        bool nan = false;
        const float mx = RowMax(row, len, &nan);
        if (mx > bmax[g]) bmax[g] = mx;
        bnan[g] |= nan ? 1 : 0;
      }
      Thresholds(bv, best, len, low, high, m_all + j0);
      if (allow_low) std::copy(best, best + len, best_all.data() + j0);
    }
  });

  // Per-gt maxima (exact and order-free for non-NaN values; zero normalised to +0).
  float min_hi = std::numeric_limits<float>::infinity();
  std::vector<uint8_t> gt_nan(static_cast<size_t>(num_gt));
  for (int64_t g = 0; g < num_gt; ++g) {
    float mx = -std::numeric_limits<float>::infinity();
    uint8_t nan = 0;
    for (int64_t bi = 0; bi < nb; ++bi) {
      const float v = block_max[bi * num_gt + g];
      if (v > mx) mx = v;
      nan |= block_nan[bi * num_gt + g];
    }
    gt_nan[g] = nan;
    if (nan) {
      r.gt_max[g] = std::numeric_limits<float>::quiet_NaN();
    } else {
      mx = mx + 0.0f;  // -0 -> +0
      r.gt_max[g] = mx;
      if (mx < min_hi) min_hi = mx;
    }
  }

  if (allow_low) {
    // Pass 2: the low-quality set among the unmatched predictions whose best quality reaches the
    // smallest gt maximum.
    const float* gmax = r.gt_max.data();
    const uint8_t* gnan = gt_nan.data();
    ParallelFor(n, threads, 4096, [&](int64_t begin, int64_t end) {
      for (int64_t j = begin; j < end; ++j) {
        if (m_all[j] >= 0) continue;
        const float bq = bv_all[j];
        if (!(bq >= min_hi)) continue;
        for (int64_t g = 0; g < num_gt; ++g) {
          if (gnan[g] || !(gmax[g] <= bq)) continue;
          if (src.At(g, j) == gmax[g]) {
            m_all[j] = best_all[j];
            break;
          }
        }
      }
    });
  }
  return r;
}

}  // namespace

MatchResult MatchBoxes(const float* gt, int64_t num_gt, const float* pred, int64_t num_pred,
                       float high, float low, bool allow_low_quality, int threads) {
  BoxSource src(gt, num_gt, pred);
  return Match(src, num_gt, num_pred, high, low, allow_low_quality, threads);
}

MatchResult MatchQuality(const float* quality, int64_t num_gt, int64_t num_pred, float high,
                         float low, bool allow_low_quality, int threads) {
  MatrixSource src(quality, num_pred);
  return Match(src, num_gt, num_pred, high, low, allow_low_quality, threads);
}

namespace {

// ---------------------------------------------------------------------------------------------
// Bindings.

constexpr int64_t kMaxCount = (int64_t{1} << 31) - 1;

Napi::Float32Array FiniteBoxesArg(Napi::Env env, Napi::Value v, const char* name, int64_t* count) {
  Napi::Float32Array a = TypedArrayArg<float>(env, v, name, napi_float32_array, "Float32Array");
  const int64_t len = static_cast<int64_t>(a.ElementLength());
  if (len % 4 != 0) {
    ThrowRange(env, std::string(name) + " length must be a multiple of 4 (x1,y1,x2,y2), got " +
                        std::to_string(len));
  }
  const float* p = a.Data();
  for (int64_t i = 0; i < len; ++i) {
    if (!std::isfinite(p[i])) {
      ThrowRange(env, std::string(name) + " must be finite, got " +
                          (std::isnan(p[i]) ? "NaN" : "Infinity") + " at index " + std::to_string(i));
    }
  }
  if (len / 4 > kMaxCount) ThrowRange(env, std::string(name) + " has too many boxes");
  *count = len / 4;
  return a;
}

struct Common {
  float high = 0, low = 0;
  bool allow_low = false;
  int threads = 0;
};

Common CommonArgs(const Napi::CallbackInfo& info, size_t first, int64_t num_gt, int64_t n) {
  Napi::Env env = info.Env();
  Common c;
  const double high = NumberArg(env, Arg(info, first), "highThreshold");
  const double low = NumberArg(env, Arg(info, first + 1), "lowThreshold");
  if (low > high) {
    ThrowRange(env, "lowThreshold (" + std::to_string(low) + ") must be <= highThreshold (" +
                        std::to_string(high) + ")");
  }
  c.high = static_cast<float>(high);
  c.low = static_cast<float>(low);
  c.allow_low = BoolArg(env, Arg(info, first + 2), "allowLowQualityMatches");
  Napi::Value t = Arg(info, first + 3);
  c.threads = t.IsUndefined() ? 0 : static_cast<int>(IntArg(env, t, "threads", 0, kMaxThreads));
  if (num_gt == 0) ThrowRange(env, "No ground-truth boxes available for one of the images during training");
  if (n == 0) ThrowRange(env, "No proposal boxes available for one of the images during training");
  return c;
}

Napi::Value ToJs(Napi::Env env, MatchResult&& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("matches", ToTypedArray(env, std::move(r.matches)));
  o.Set("bestQuality", ToTypedArray(env, std::move(r.best_quality)));
  o.Set("gtMaxQuality", ToTypedArray(env, std::move(r.gt_max)));
  return o;
}

struct BoxArgs {
  Napi::Float32Array gt, pred;
  int64_t g = 0, n = 0;
  Common c;
};
BoxArgs ParseBoxes(const Napi::CallbackInfo& info) {
  BoxArgs a;
  a.gt = FiniteBoxesArg(info.Env(), Arg(info, 0), "gtBoxes", &a.g);
  a.pred = FiniteBoxesArg(info.Env(), Arg(info, 1), "predictions", &a.n);
  a.c = CommonArgs(info, 2, a.g, a.n);
  return a;
}

struct QualityArgs {
  Napi::Float32Array q;
  int64_t g = 0, n = 0;
  Common c;
};
QualityArgs ParseQuality(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  QualityArgs a;
  a.q = TypedArrayArg<float>(env, Arg(info, 0), "quality", napi_float32_array, "Float32Array");
  a.g = IntArg(env, Arg(info, 1), "numGt", 0, kMaxCount);
  a.n = IntArg(env, Arg(info, 2), "numPredictions", 0, kMaxCount);
  const int64_t len = static_cast<int64_t>(a.q.ElementLength());
  if (len != a.g * a.n) {
    ThrowRange(env, "quality length must be numGt*numPredictions (" + std::to_string(a.g * a.n) +
                        "), got " + std::to_string(len));
  }
  a.c = CommonArgs(info, 3, a.g, a.n);
  return a;
}

Napi::Value MatchBoxesSyncJs(const Napi::CallbackInfo& info) {
  BoxArgs a = ParseBoxes(info);
  return ToJs(info.Env(), MatchBoxes(a.gt.Data(), a.g, a.pred.Data(), a.n, a.c.high, a.c.low,
                                     a.c.allow_low, a.c.threads));
}
Napi::Value MatchBoxesAsyncJs(const Napi::CallbackInfo& info) {
  BoxArgs a = ParseBoxes(info);
  KeepAlive keep;
  keep.Add(a.gt);
  keep.Add(a.pred);
  const float* gt = a.gt.Data();
  const float* pred = a.pred.Data();
  const int64_t g = a.g, n = a.n;
  const Common c = a.c;
  return RunAsync(
      info.Env(), std::move(keep),
      [gt, pred, g, n, c]() { return MatchBoxes(gt, g, pred, n, c.high, c.low, c.allow_low, c.threads); },
      [](Napi::Env env, MatchResult&& r, const KeepAlive&) { return ToJs(env, std::move(r)); });
}

Napi::Value MatchQualitySyncJs(const Napi::CallbackInfo& info) {
  QualityArgs a = ParseQuality(info);
  return ToJs(info.Env(),
              MatchQuality(a.q.Data(), a.g, a.n, a.c.high, a.c.low, a.c.allow_low, a.c.threads));
}
Napi::Value MatchQualityAsyncJs(const Napi::CallbackInfo& info) {
  QualityArgs a = ParseQuality(info);
  KeepAlive keep;
  keep.Add(a.q);
  const float* q = a.q.Data();
  const int64_t g = a.g, n = a.n;
  const Common c = a.c;
  return RunAsync(
      info.Env(), std::move(keep),
      [q, g, n, c]() { return MatchQuality(q, g, n, c.high, c.low, c.allow_low, c.threads); },
      [](Napi::Env env, MatchResult&& r, const KeepAlive&) { return ToJs(env, std::move(r)); });
}

void InitMatcher(Napi::Env env, Napi::Object exports) {
  exports.Set("matchBoxesSync", Napi::Function::New(env, MatchBoxesSyncJs, "matchBoxesSync"));
  exports.Set("matchBoxes", Napi::Function::New(env, MatchBoxesAsyncJs, "matchBoxes"));
  exports.Set("matchQualitySync", Napi::Function::New(env, MatchQualitySyncJs, "matchQualitySync"));
  exports.Set("matchQuality", Napi::Function::New(env, MatchQualityAsyncJs, "matchQuality"));
}

}  // namespace
}  // namespace hpa

HPA_REGISTER_MODULE(matcher, hpa::InitMatcher);
