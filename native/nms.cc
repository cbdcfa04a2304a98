// Non-maximum suppression (torchvision.ops.nms / batched_nms semantics) on the CPU.
//
//   nmsSync(boxes: Float32Array[N*4], scores: Float32Array[N], iouThreshold) -> Int32Array
//   nms(...same...) -> Promise<Int32Array>
//   batchedNmsSync(boxes, scores, classIds: Int32Array[N], iouThreshold, topK?, maxOutput?)
//   batchedNms(...same...) -> Promise<Int32Array>
//
// Boxes are x1,y1,x2,y2. Result: indices of kept boxes in decreasing score, equal scores in
// increasing index (a stable order). Box j is suppressed when a kept box i earlier in that order
// (and, batched, of the same class) has IoU(i, j) > iouThreshold, with IoU computed exactly as
// torchvision's CPU kernel does in float32: inter = max(0, min(x2)-max(x1)) * max(0, ...),
// iou = inter / ((area_i + area_j) - inter), area = (x2-x1)*(y2-y1) (no +1), compared in double.
//
// Speed: scores are ordered by a stable LSD radix sort. The valid boxes are bucketed into a few
// uniform grids, one per size class (larger side within a factor 2), by the cell of their
// (x1, y1) corner; the greedy pass then tests each candidate only against the boxes whose corner
// lies within reach of it (contiguous runs of a grid row, already-kept boxes masked in, eight
// lanes at a time, AVX2 where the CPU has it). That culling is exact: boxes whose intervals do
// not overlap have zero intersection, so they can never suppress each other for a threshold
// >= 0. Batched NMS runs one such pass per class. Boxes with x2 <= x1 or y2 <= y1 (degenerate,
// inverted) have zero intersection with everything: they are always kept and never suppress.
// The IoU arithmetic is kept free of FMA contraction so that pairs exactly at the threshold
// decide as torchvision does. No state outlives a call: concurrent calls are safe.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "async_work.h"
#include "registry.h"
#include "validate.h"

#if defined(__FMA__) && defined(__GNUC__) && !defined(__clang__)
// An FMA would round (area_i + area_j) - w*h differently from torchvision: keep them separate.
#pragma GCC optimize("fp-contract=off")
#endif

namespace {

constexpr int64_t kMaxBoxes = (int64_t(1) << 31) - 1;

// ---------------------------------------------------------------------------------------------
// Stable descending order of float scores (ties: lower index first).

inline uint32_t DescKey(float f) {
  if (f == 0.0f) f = 0.0f;  // -0 and +0 are equal scores: same key
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // ascending order of the float
  return ~u;                                        // descending
}

std::vector<int32_t> StableOrderDesc(const float* scores, int64_t n) {
  std::vector<int32_t> order(static_cast<size_t>(n));
  if (n < 256) {
    for (int64_t i = 0; i < n; ++i) order[i] = static_cast<int32_t>(i);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return DescKey(scores[a]) < DescKey(scores[b]);
    });
    return order;
  }
  std::vector<uint32_t> keys(n), keys2(n);
  std::vector<int32_t> order2(n);
  for (int64_t i = 0; i < n; ++i) {
    keys[i] = DescKey(scores[i]);
    order[i] = static_cast<int32_t>(i);
  }
  constexpr int kBits = 11;
  constexpr uint32_t kBuckets = 1u << kBits;
  std::vector<uint32_t> count(kBuckets);
  for (int shift = 0; shift < 32; shift += kBits) {
    std::fill(count.begin(), count.end(), 0u);
    for (int64_t i = 0; i < n; ++i) ++count[(keys[i] >> shift) & (kBuckets - 1)];
    if (count[(keys[0] >> shift) & (kBuckets - 1)] == static_cast<uint32_t>(n)) continue;
    uint32_t sum = 0;
    for (uint32_t b = 0; b < kBuckets; ++b) {
      uint32_t c = count[b];
      count[b] = sum;
      sum += c;
    }
    for (int64_t i = 0; i < n; ++i) {
      uint32_t dst = count[(keys[i] >> shift) & (kBuckets - 1)]++;
      keys2[dst] = keys[i];
      order2[dst] = order[i];
    }
    keys.swap(keys2);
    order.swap(order2);
  }
  return order;
}

// ---------------------------------------------------------------------------------------------
// The greedy pass.

struct NmsParams {
  const float* boxes = nullptr;     // [n,4]
  const float* scores = nullptr;    // [n]
  const int32_t* classes = nullptr; // [n] or null (plain NMS)
  int64_t n = 0;
  double iou_threshold = 0.5;
  int64_t top_k = -1;       // per class, before suppression; < 0: all
  int64_t max_output = -1;  // < 0: all
};

// Largest float <= t: for float x, (double)x > t  <=>  x > FloatAtMost(t).
float FloatAtMost(double t) {
  float f = static_cast<float>(t);
  if (static_cast<double>(f) > t) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}

struct Cand {  // a box in score order
  float x1, y1, x2, y2, area;
};

constexpr int kBlock = 8;

struct Buckets {
  std::vector<float> x1, y1, x2, y2, area;
  std::vector<int32_t> kept;  // 1 once the box is kept (0 before, or suppressed)
};

// Whether any kept box in the rows ya..yb, columns xa..xb of a level's grid (row r's run is
// [st[r*gw+xa], st[r*gw+xb+1]) of the bucket arrays) suppresses the candidate, with
// torchvision's float IoU. Branch-free blocks of kBlock lanes so that it vectorizes (the arrays
// are padded with kBlock never-kept boxes; lanes at or past a run's end are masked off); an AVX2
// clone, without FMA, is picked at load time where the CPU has it.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
int ScanRows(const float* __restrict x1, const float* __restrict y1, const float* __restrict x2,
             const float* __restrict y2, const float* __restrict ar,
             const int32_t* __restrict kept, const int32_t* __restrict st, int64_t gw,
             int64_t xa, int64_t xb, int64_t ya, int64_t yb, float cx1, float cy1, float cx2,
             float cy2, float carea, float thr) {
  int32_t acc[kBlock] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t row = ya; row <= yb; ++row) {
    const int32_t s = st[row * gw + xa], e = st[row * gw + xb + 1];
    for (int32_t j0 = s; j0 < e; j0 += kBlock) {
      for (int i = 0; i < kBlock; ++i) {
        const int32_t j = j0 + i;
        float xx1 = std::max(x1[j], cx1);
        float yy1 = std::max(y1[j], cy1);
        float xx2 = std::min(x2[j], cx2);
        float yy2 = std::min(y2[j], cy2);
        float w = std::max(0.0f, xx2 - xx1);
        float h = std::max(0.0f, yy2 - yy1);
        float inter = w * h;
        float ovr = inter / ((ar[j] + carea) - inter);
        acc[i] |= kept[j] & static_cast<int32_t>(ovr > thr) & static_cast<int32_t>(j < e);
      }
    }
  }
  int hit = 0;
  for (int i = 0; i < kBlock; ++i) hit |= acc[i];
  return hit;
}

// Valid boxes bucketed by size level, then by the grid cell of their (x1, y1) corner (row-major),
// structure of arrays. A level holds boxes whose larger side lies in (e0*2^(l-1), e0*2^l]; its
// cells are about half that size. A box j can intersect candidate c only if
// c.x1 - maxw_l < j.x1 < c.x2 and c.y1 - maxh_l < j.y1 < c.y2, so a query scans, per cell row,
// one contiguous span of the level's arrays.
struct Level {
  int64_t count = 0;
  double x0 = 0, y0 = 0, inv_cw = 0, inv_ch = 0;
  int64_t gw = 1, gh = 1;
  double maxw = 0, maxh = 0;  // largest width / height in the level (slightly widened)
  double minx = std::numeric_limits<double>::infinity(), miny = minx, maxx = -minx, maxy = -minx;
  std::vector<int32_t> start;  // gw*gh+1 offsets into the bucket arrays (absolute)
  int64_t CellX(double x) const {
    double v = (x - x0) * inv_cw;
    return v <= 0 ? 0 : (v >= double(gw - 1) ? gw - 1 : static_cast<int64_t>(v));
  }
  int64_t CellY(double y) const {
    double v = (y - y0) * inv_ch;
    return v <= 0 ? 0 : (v >= double(gh - 1) ? gh - 1 : static_cast<int64_t>(v));
  }
};

// The greedy pass over boxes[idx[0..m)] (idx in rank order): sets kept[k] for each kept
// position k; stops once max_keep boxes are kept (max_keep < 0: no limit).
void GreedyCore(const float* boxes, const int32_t* idx, int64_t m, float thr, int64_t max_keep,
                uint8_t* kept_out) {
  if (m == 0 || max_keep == 0) return;
  // Candidates in score order; extent statistics of the valid ones.
  std::vector<Cand> cand(m);
  std::vector<uint8_t> level_of(m, 0);
  double e0 = std::numeric_limits<double>::infinity();
  int64_t nvalid = 0;
  for (int64_t k = 0; k < m; ++k) {
    const float* b = boxes + 4 * static_cast<int64_t>(idx[k]);
    Cand& c = cand[k];
    c.x1 = b[0];
    c.y1 = b[1];
    c.x2 = b[2];
    c.y2 = b[3];
    c.area = (c.x2 - c.x1) * (c.y2 - c.y1);
    if (c.x2 > c.x1 && c.y2 > c.y1) {
      ++nvalid;
      e0 = std::min(e0, std::max(double(c.x2) - double(c.x1), double(c.y2) - double(c.y1)));
    }
  }
  constexpr int kLevels = 24;
  Level levels[kLevels];
  for (int64_t k = 0; k < m; ++k) {
    const Cand& c = cand[k];
    if (!(c.x2 > c.x1 && c.y2 > c.y1)) continue;
    const double w = double(c.x2) - double(c.x1), h = double(c.y2) - double(c.y1);
    const double r = std::max(w, h) / e0;  // >= 1
    int l = 0;
    if (r > 1) {
      int ex;
      std::frexp(r, &ex);  // r in [2^(ex-1), 2^ex)
      l = std::min(ex, kLevels - 1);
    }
    level_of[k] = static_cast<uint8_t>(l);
    Level& L = levels[l];
    ++L.count;
    L.maxw = std::max(L.maxw, w);
    L.maxh = std::max(L.maxh, h);
    L.minx = std::min(L.minx, double(c.x1));
    L.maxx = std::max(L.maxx, double(c.x1));
    L.miny = std::min(L.miny, double(c.y1));
    L.maxy = std::max(L.maxy, double(c.y1));
  }
  // Grids and bucket offsets.
  int64_t offset = 0;
  for (Level& L : levels) {
    if (L.count == 0) continue;
    L.maxw = L.maxw * (1 + 1e-9) + 1e-30;  // covers the rounding of the double widths
    L.maxh = L.maxh * (1 + 1e-9) + 1e-30;
    const double cell = std::max(L.maxw, L.maxh) * 0.5;
    const double spanx = L.maxx - L.minx, spany = L.maxy - L.miny;
    auto cells_for = [](double span, double size) {
      double c = span / size;
      if (!(c >= 1)) c = 1;
      return static_cast<int64_t>(std::min(c, 4096.0));
    };
    L.gw = cells_for(spanx, cell);
    L.gh = cells_for(spany, cell);
    const int64_t max_cells = 16 + 2 * L.count;
    while (L.gw * L.gh > max_cells) {
      if (L.gw >= L.gh) L.gw = (L.gw + 1) / 2;
      else L.gh = (L.gh + 1) / 2;
    }
    L.x0 = L.minx;
    L.y0 = L.miny;
    L.inv_cw = spanx > 0 ? double(L.gw) / spanx : 0;
    L.inv_ch = spany > 0 ? double(L.gh) / spany : 0;
    if (!std::isfinite(L.inv_cw)) L.inv_cw = 0;
    if (!std::isfinite(L.inv_ch)) L.inv_ch = 0;
    L.start.assign(static_cast<size_t>(L.gw * L.gh + 1), 0);
    L.start[0] = static_cast<int32_t>(offset);
    offset += L.count;
  }
  // Counting sort of the valid boxes into (level, cell).
  std::vector<int32_t> cell_of(m, -1);
  for (int64_t k = 0; k < m; ++k) {
    const Cand& c = cand[k];
    if (!(c.x2 > c.x1 && c.y2 > c.y1)) continue;
    Level& L = levels[level_of[k]];
    const int64_t cell = L.CellY(c.y1) * L.gw + L.CellX(c.x1);
    cell_of[k] = static_cast<int32_t>(cell);
    ++L.start[cell + 1];
  }
  for (Level& L : levels) {
    if (L.count == 0) continue;
    for (size_t q = 1; q < L.start.size(); ++q) L.start[q] += L.start[q - 1];
  }
  // All valid boxes in (level, cell) order; kept[] marks those kept so far.
  Buckets bk;
  const size_t padded = static_cast<size_t>(nvalid) + kBlock;
  bk.x1.assign(padded, 0.0f);
  bk.y1.assign(padded, 0.0f);
  bk.x2.assign(padded, 0.0f);
  bk.y2.assign(padded, 0.0f);
  bk.area.assign(padded, 0.0f);
  bk.kept.assign(padded, 0);
  std::vector<int32_t> pos(m, -1);
  {
    std::vector<int32_t> fill[kLevels];
    for (int l = 0; l < kLevels; ++l) {
      if (levels[l].count) fill[l].assign(levels[l].start.begin(), levels[l].start.end() - 1);
    }
    for (int64_t k = 0; k < m; ++k) {
      if (cell_of[k] < 0) continue;
      const Cand& c = cand[k];
      const int32_t q = fill[level_of[k]][cell_of[k]]++;
      pos[k] = q;
      bk.x1[q] = c.x1;
      bk.y1[q] = c.y1;
      bk.x2[q] = c.x2;
      bk.y2[q] = c.y2;
      bk.area[q] = c.area;
    }
  }
  int active[kLevels];
  int nactive = 0;
  for (int l = 0; l < kLevels; ++l) {
    if (levels[l].count) active[nactive++] = l;
  }

  const int64_t max_out = max_keep < 0 ? m : max_keep;
  int64_t nkept = 0;
  for (int64_t k = 0; k < m && nkept < max_out; ++k) {
    const Cand& c = cand[k];
    if (cell_of[k] < 0) {  // degenerate or inverted: zero intersection with every box
      kept_out[k] = 1;
      ++nkept;
      continue;
    }
    bool suppressed = false;
    // The candidate's own size level first: similar boxes are the likeliest suppressors.
    const int own = level_of[k];
    for (int a = -1; a < nactive && !suppressed; ++a) {
      if (a >= 0 && active[a] == own) continue;
      const Level& L = levels[a < 0 ? own : active[a]];
      const int64_t xa = L.CellX(double(c.x1) - L.maxw), xb = L.CellX(double(c.x2));
      const int64_t ya = L.CellY(double(c.y1) - L.maxh), yb = L.CellY(double(c.y2));
      suppressed = ScanRows(bk.x1.data(), bk.y1.data(), bk.x2.data(), bk.y2.data(),
                            bk.area.data(), bk.kept.data(), L.start.data(), L.gw, xa, xb, ya, yb,
                            c.x1, c.y1, c.x2, c.y2, c.area, thr) != 0;
    }
    if (suppressed) continue;
    kept_out[k] = 1;
    ++nkept;
    bk.kept[pos[k]] = 1;
  }
}

std::vector<int32_t> NmsKernel(const NmsParams& p) {
  const int64_t n = p.n;
  std::vector<int32_t> keep;
  if (n == 0 || p.max_output == 0 || p.top_k == 0) return keep;
  const std::vector<int32_t> order = StableOrderDesc(p.scores, n);
  const float thr = FloatAtMost(p.iou_threshold);
  std::vector<uint8_t> kept(n, 0);  // by rank
  if (!p.classes) {
    GreedyCore(p.boxes, order.data(), n, thr, p.max_output, kept.data());
  } else {
    // Per class: dense class ids, the members of each class in rank order (counting sort),
    // cut to top_k, and one greedy pass each (classes never interact).
    std::vector<int32_t> uniq(p.classes, p.classes + n);
    std::sort(uniq.begin(), uniq.end());
    uniq.erase(std::unique(uniq.begin(), uniq.end()), uniq.end());
    const size_t nc = uniq.size();
    std::vector<int32_t> dense(n);
    std::vector<int64_t> start(nc + 1, 0);
    for (int64_t r = 0; r < n; ++r) {
      const int32_t c = static_cast<int32_t>(
          std::lower_bound(uniq.begin(), uniq.end(), p.classes[order[r]]) - uniq.begin());
      dense[r] = c;
      ++start[c + 1];
    }
    for (size_t c = 0; c < nc; ++c) start[c + 1] += start[c];
    std::vector<int32_t> ranks(n), members(n);
    {
      std::vector<int64_t> fill(start.begin(), start.end() - 1);
      for (int64_t r = 0; r < n; ++r) {
        const int64_t q = fill[dense[r]]++;
        ranks[q] = static_cast<int32_t>(r);
        members[q] = order[r];
      }
    }
    std::vector<uint8_t> flags;
    for (size_t c = 0; c < nc; ++c) {
      int64_t cnt = start[c + 1] - start[c];
      if (p.top_k >= 0) cnt = std::min(cnt, p.top_k);
      flags.assign(static_cast<size_t>(cnt), 0);
      GreedyCore(p.boxes, members.data() + start[c], cnt, thr, p.max_output, flags.data());
      for (int64_t q = 0; q < cnt; ++q) {
        if (flags[q]) kept[ranks[start[c] + q]] = 1;
      }
    }
  }
  const int64_t max_out = p.max_output < 0 ? n : p.max_output;
  for (int64_t r = 0; r < n && static_cast<int64_t>(keep.size()) < max_out; ++r) {
    if (kept[r]) keep.push_back(order[r]);
  }
  return keep;
}

// ---------------------------------------------------------------------------------------------
// Bindings.

struct Parsed {
  Napi::Float32Array boxes, scores;
  Napi::Int32Array classes;
  NmsParams p;
};

void CheckFinite(Napi::Env env, const float* v, int64_t n, const char* name) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) {
      hpa::ThrowRange(env, std::string(name) + " must be finite, got " +
                               (std::isnan(v[i]) ? "NaN" : "Infinity") + " at index " +
                               std::to_string(i));
    }
  }
}

Parsed ParseArgs(const Napi::CallbackInfo& info, bool batched) {
  Napi::Env env = info.Env();
  Parsed r;
  r.boxes = hpa::TypedArrayArg<float>(env, hpa::Arg(info, 0), "boxes", napi_float32_array,
                                      "Float32Array");
  r.scores = hpa::TypedArrayArg<float>(env, hpa::Arg(info, 1), "scores", napi_float32_array,
                                       "Float32Array");
  const int64_t len = static_cast<int64_t>(r.boxes.ElementLength());
  if (len % 4 != 0) {
    hpa::ThrowRange(env, "boxes length must be a multiple of 4 (x1,y1,x2,y2 per box), got " +
                             std::to_string(len));
  }
  const int64_t n = len / 4;
  if (n > kMaxBoxes) hpa::ThrowRange(env, "boxes: too many boxes");
  if (static_cast<int64_t>(r.scores.ElementLength()) != n) {
    hpa::ThrowRange(env, "scores length must equal the number of boxes (" + std::to_string(n) +
                             "), got " + std::to_string(r.scores.ElementLength()));
  }
  size_t a = 2;
  if (batched) {
    r.classes = hpa::TypedArrayArg<int32_t>(env, hpa::Arg(info, a++), "classIds",
                                            napi_int32_array, "Int32Array");
    if (static_cast<int64_t>(r.classes.ElementLength()) != n) {
      hpa::ThrowRange(env, "classIds length must equal the number of boxes (" +
                               std::to_string(n) + "), got " +
                               std::to_string(r.classes.ElementLength()));
    }
  }
  const double thr = hpa::NumberArg(env, hpa::Arg(info, a++), "iouThreshold");
  if (thr < 0 || thr > 1) {
    hpa::ThrowRange(env, "iouThreshold must be in [0, 1], got " + std::to_string(thr));
  }
  r.p.iou_threshold = thr;
  if (batched) {
    Napi::Value tk = hpa::Arg(info, a++);
    if (!tk.IsUndefined() && !tk.IsNull()) {
      r.p.top_k = hpa::IntArg(env, tk, "options.topK", 0, kMaxBoxes);
    }
    Napi::Value mo = hpa::Arg(info, a++);
    if (!mo.IsUndefined() && !mo.IsNull()) {
      r.p.max_output = hpa::IntArg(env, mo, "options.maxOutput", 0, kMaxBoxes);
    }
  }
  CheckFinite(env, r.boxes.Data(), len, "boxes");
  CheckFinite(env, r.scores.Data(), n, "scores");
  r.p.n = n;
  r.p.boxes = r.boxes.Data();
  r.p.scores = r.scores.Data();
  r.p.classes = batched ? r.classes.Data() : nullptr;
  return r;
}

Napi::Value NmsSyncImpl(const Napi::CallbackInfo& info, bool batched) {
  Parsed r = ParseArgs(info, batched);
  return hpa::ToTypedArray(info.Env(), NmsKernel(r.p));
}

// The async variants copy their inputs (a few tens of KB) so that the caller may reuse its
// buffers at once; the worker then owns everything it reads.
Napi::Value NmsAsyncImpl(const Napi::CallbackInfo& info, bool batched) {
  Parsed r = ParseArgs(info, batched);
  NmsParams p = r.p;
  std::vector<float> boxes(p.boxes, p.boxes + 4 * p.n);
  std::vector<float> scores(p.scores, p.scores + p.n);
  std::vector<int32_t> classes;
  if (batched) classes.assign(p.classes, p.classes + p.n);
  return hpa::RunAsyncVector(
      info.Env(), hpa::KeepAlive(),
      [p, boxes = std::move(boxes), scores = std::move(scores),
       classes = std::move(classes), batched]() mutable {
        p.boxes = boxes.data();
        p.scores = scores.data();
        p.classes = batched ? classes.data() : nullptr;
        return NmsKernel(p);
      });
}

void InitNms(Napi::Env env, Napi::Object exports) {
  exports.Set("nmsSync", Napi::Function::New(
                             env, [](const Napi::CallbackInfo& i) { return NmsSyncImpl(i, false); },
                             "nmsSync"));
  exports.Set("nms", Napi::Function::New(
                         env, [](const Napi::CallbackInfo& i) { return NmsAsyncImpl(i, false); },
                         "nms"));
  exports.Set("batchedNmsSync",
              Napi::Function::New(
                  env, [](const Napi::CallbackInfo& i) { return NmsSyncImpl(i, true); },
                  "batchedNmsSync"));
  exports.Set("batchedNms",
              Napi::Function::New(
                  env, [](const Napi::CallbackInfo& i) { return NmsAsyncImpl(i, true); },
                  "batchedNms"));
}

}  // namespace

HPA_REGISTER_MODULE(nms, InitNms);
