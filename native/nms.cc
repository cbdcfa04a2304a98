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
// Speed: the greedy pass checks each candidate only against already-kept boxes that share a cell
// of a uniform grid (spatial culling, exact: boxes whose intervals do not overlap have zero
// intersection, so they can never suppress each other for a threshold >= 0); scores are ordered by
// a stable LSD radix sort. Boxes with x2 <= x1 or y2 <= y1 (degenerate, inverted) have zero
// intersection with everything: they are always kept and never suppress. The IoU arithmetic is
// kept free of FMA contraction so that pairs exactly at the threshold decide as torchvision does.
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
  int32_t cls;
  int32_t index;  // original index
};

struct Entry {  // a kept box in a grid cell's list
  float x1, y1, x2, y2, area;
  int32_t cls;
  uint16_t cx0, cy0;  // first cell of the kept box (dedup: test a pair in one cell only)
  int32_t next;
};

// torchvision's float IoU test for kept box e and candidate c.
inline bool Suppresses(float ex1, float ey1, float ex2, float ey2, float earea, const Cand& c,
                       float thr) {
  float xx1 = std::max(ex1, c.x1);
  float yy1 = std::max(ey1, c.y1);
  float xx2 = std::min(ex2, c.x2);
  float yy2 = std::min(ey2, c.y2);
  float w = std::max(0.0f, xx2 - xx1);
  float h = std::max(0.0f, yy2 - yy1);
  float inter = w * h;
  float ovr = inter / ((earea + c.area) - inter);  // built without FMA contraction (see top)
  return ovr > thr;
}

std::vector<int32_t> NmsKernel(const NmsParams& p) {
  const int64_t n = p.n;
  std::vector<int32_t> keep;
  if (n == 0 || p.max_output == 0 || p.top_k == 0) return keep;
  std::vector<int32_t> order = StableOrderDesc(p.scores, n);

  // Dense class ids (batched) for the per-class top-k.
  std::vector<int32_t> dense;
  if (p.classes && p.top_k > 0) {
    std::vector<int32_t> uniq(p.classes, p.classes + n);
    std::sort(uniq.begin(), uniq.end());
    uniq.erase(std::unique(uniq.begin(), uniq.end()), uniq.end());
    std::vector<int64_t> taken(uniq.size(), 0);
    dense.reserve(n);
    std::vector<int32_t> filtered;
    filtered.reserve(n);
    for (int32_t idx : order) {
      size_t c = std::lower_bound(uniq.begin(), uniq.end(), p.classes[idx]) - uniq.begin();
      if (taken[c]++ < p.top_k) filtered.push_back(idx);
    }
    order.swap(filtered);
  }
  const int64_t m = static_cast<int64_t>(order.size());

  std::vector<Cand> cand(m);
  double gx0 = std::numeric_limits<double>::infinity(), gy0 = gx0;
  double gx1 = -gx0, gy1 = -gx0, sumw = 0, sumh = 0;
  int64_t nvalid = 0;
  for (int64_t k = 0; k < m; ++k) {
    const int32_t i = order[k];
    const float* b = p.boxes + 4 * static_cast<int64_t>(i);
    Cand& c = cand[k];
    c.x1 = b[0];
    c.y1 = b[1];
    c.x2 = b[2];
    c.y2 = b[3];
    c.area = (c.x2 - c.x1) * (c.y2 - c.y1);
    c.cls = p.classes ? p.classes[i] : 0;
    c.index = i;
    if (c.x2 > c.x1 && c.y2 > c.y1) {
      ++nvalid;
      gx0 = std::min(gx0, double(c.x1));
      gy0 = std::min(gy0, double(c.y1));
      gx1 = std::max(gx1, double(c.x2));
      gy1 = std::max(gy1, double(c.y2));
      sumw += double(c.x2) - double(c.x1);
      sumh += double(c.y2) - double(c.y1);
    }
  }

  // Grid: cells about the mean box size, at most ~2 cells per valid box and 1024 per axis.
  int64_t gw = 1, gh = 1;
  double inv_cw = 0, inv_ch = 0;
  if (nvalid > 0) {
    const double spanx = gx1 - gx0, spany = gy1 - gy0;
    const double mw = sumw / nvalid, mh = sumh / nvalid;
    auto cells_for = [](double span, double size) {
      double c = size > 0 ? span / size : 1;
      if (!(c >= 1)) c = 1;
      return static_cast<int64_t>(std::min(c, 1024.0));
    };
    gw = cells_for(spanx, mw);
    gh = cells_for(spany, mh);
    const int64_t max_cells = std::max<int64_t>(16, 2 * nvalid);
    while (gw * gh > max_cells) {
      if (gw >= gh) gw = (gw + 1) / 2;
      else gh = (gh + 1) / 2;
    }
    inv_cw = spanx > 0 ? gw / spanx : 0;
    inv_ch = spany > 0 ? gh / spany : 0;
    if (!std::isfinite(inv_cw)) inv_cw = 0;
    if (!std::isfinite(inv_ch)) inv_ch = 0;
  }
  auto cell_x = [&](float x) {
    double v = (double(x) - gx0) * inv_cw;
    int64_t c = v <= 0 ? 0 : (v >= double(gw - 1) ? gw - 1 : static_cast<int64_t>(v));
    return c;
  };
  auto cell_y = [&](float y) {
    double v = (double(y) - gy0) * inv_ch;
    int64_t c = v <= 0 ? 0 : (v >= double(gh - 1) ? gh - 1 : static_cast<int64_t>(v));
    return c;
  };

  const float thr = FloatAtMost(p.iou_threshold);
  std::vector<int32_t> head(static_cast<size_t>(gw * gh), -1);
  std::vector<Entry> entries;
  entries.reserve(static_cast<size_t>(std::min<int64_t>(m * 4, 1 << 22)));
  std::vector<int32_t> kept_valid;  // candidate positions of kept valid boxes
  kept_valid.reserve(m);
  std::vector<int32_t> kept_large;  // kept boxes covering too many cells to be listed in each
  constexpr int64_t kMaxCellsPerBox = 64;
  const int64_t max_out = p.max_output < 0 ? m : p.max_output;
  const bool batched = p.classes != nullptr;
  keep.reserve(std::min(m, max_out));

  for (int64_t k = 0; k < m && static_cast<int64_t>(keep.size()) < max_out; ++k) {
    const Cand& c = cand[k];
    if (!(c.x2 > c.x1 && c.y2 > c.y1)) {  // zero intersection with every box
      keep.push_back(c.index);
      continue;
    }
    const int64_t cx0 = cell_x(c.x1), cx1 = cell_x(c.x2);
    const int64_t cy0 = cell_y(c.y1), cy1 = cell_y(c.y2);
    const int64_t ncells = (cx1 - cx0 + 1) * (cy1 - cy0 + 1);
    bool suppressed = false;
    if (ncells > static_cast<int64_t>(kept_valid.size())) {
      // A box covering more cells than there are kept boxes: scan the kept boxes directly.
      for (int32_t q : kept_valid) {
        const Cand& e = cand[q];
        if (batched && e.cls != c.cls) continue;
        if (Suppresses(e.x1, e.y1, e.x2, e.y2, e.area, c, thr)) {
          suppressed = true;
          break;
        }
      }
    } else {
      for (int32_t q : kept_large) {
        const Cand& e = cand[q];
        if (batched && e.cls != c.cls) continue;
        if (Suppresses(e.x1, e.y1, e.x2, e.y2, e.area, c, thr)) {
          suppressed = true;
          break;
        }
      }
      for (int64_t cy = cy0; cy <= cy1 && !suppressed; ++cy) {
        for (int64_t cx = cx0; cx <= cx1; ++cx) {
          for (int32_t q = head[cy * gw + cx]; q >= 0; q = entries[q].next) {
            const Entry& e = entries[q];
            // Each pair is tested in the first cell both cover only.
            if (cx != std::max<int64_t>(cx0, e.cx0) || cy != std::max<int64_t>(cy0, e.cy0)) continue;
            if (batched && e.cls != c.cls) continue;
            if (Suppresses(e.x1, e.y1, e.x2, e.y2, e.area, c, thr)) {
              suppressed = true;
              break;
            }
          }
          if (suppressed) break;
        }
      }
    }
    if (suppressed) continue;
    keep.push_back(c.index);
    kept_valid.push_back(static_cast<int32_t>(k));
    if (ncells > kMaxCellsPerBox) {
      kept_large.push_back(static_cast<int32_t>(k));
      continue;
    }
    for (int64_t cy = cy0; cy <= cy1; ++cy) {
      for (int64_t cx = cx0; cx <= cx1; ++cx) {
        Entry e{c.x1, c.y1, c.x2, c.y2, c.area, c.cls,
                static_cast<uint16_t>(cx0), static_cast<uint16_t>(cy0), head[cy * gw + cx]};
        head[cy * gw + cx] = static_cast<int32_t>(entries.size());
        entries.push_back(e);
      }
    }
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
