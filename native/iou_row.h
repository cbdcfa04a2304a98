// One row of an IoU matrix, shared by boxIou (box_ops.cc) and the fused matcher (matcher.cc) so
// that both give bitwise the same values: box (ax1..ax2, area aa) against SoA boxes, torch's
// expression and operand order: inter / ((area1 + area2) - inter), overlap clamped at 0.
// Include it only after `#pragma GCC optimize("fp-contract=off")` (torch rounds op by op).
#pragma once

#include <algorithm>
#include <cstdint>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define HPA_IOU_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define HPA_IOU_CLONES
#endif

namespace hpa {

// static: each translation unit keeps its own clones (no cross-TU ifunc symbols).
HPA_IOU_CLONES
static void IouRow(float ax1, float ay1, float ax2, float ay2, float aa, const float* __restrict bx1,
                   const float* __restrict by1, const float* __restrict bx2, const float* __restrict by2,
                   const float* __restrict ba, int64_t m, float* __restrict out) {
  for (int64_t j = 0; j < m; ++j) {
    float w = std::min(ax2, bx2[j]) - std::max(ax1, bx1[j]);
    float h = std::min(ay2, by2[j]) - std::max(ay1, by1[j]);
    w = std::max(w, 0.0f);
    h = std::max(h, 0.0f);
    float inter = w * h;
    out[j] = inter / ((aa + ba[j]) - inter);
  }
}

}  // namespace hpa
