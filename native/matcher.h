// torchvision's proposal Matcher (models/detection/_utils.py) as a native kernel, fused with the
// IoU so that the G x N quality matrix is never stored.
//
// For each prediction j (anchor or proposal), over the ground truths g = 0..G-1 in order:
//   best[j]        the first g with the largest quality (torch.max(dim=0): first index on ties;
//                  a NaN wins once seen and is never replaced, as torch's max propagates it)
//   bestQuality[j] that quality
//   matches[j]     best[j] when bestQuality >= high (or NaN), -2 when low <= it < high, -1 below
//                  low (thresholds compared in float32)
// and for each ground truth g:
//   gtMax[g]       its largest quality over all predictions (NaN when its row holds a NaN; +0 for
//                  a zero maximum, whichever sign the zeros had)
// With allowLowQuality, every prediction j with quality(g, j) == gtMax[g] for some g whose row has
// no NaN gets matches[j] = best[j] (torchvision's set_low_quality_matches_, all ties included).
//
// Quality source: either the IoU of gt boxes and prediction boxes (x1, y1, x2, y2 float32),
// computed as torchvision's box_iou and native/box_ops.cc's boxIouSync bit for bit
// (inter / ((area1 + area2) - inter), 0/0 = NaN), or a given row-major G x N matrix.
//
// Work: pass 1 runs over fixed blocks of predictions (ParallelForBlocks), each block computing its
// qualities gt by gt into a small buffer, updating best/bestQuality and a per-block maximum per gt;
// the per-gt maxima are combined (max of non-NaN floats is exact, order-free). Pass 2 (low-quality
// set) revisits only the predictions that can be in it: not already matched, with a best quality
// >= the smallest gt maximum (quality(g, j) == gtMax[g] implies bestQuality[j] >= gtMax[g]), and
// recomputes just their qualities. Every prediction's outputs depend only on its own column, so
// results are bitwise identical for any thread count.
#pragma once

#include <cstdint>
#include <vector>

namespace hpa {

struct MatchResult {
  std::vector<int32_t> matches;    // N
  std::vector<float> best_quality; // N
  std::vector<float> gt_max;       // G
};

// gt: G*4 floats, pred: N*4 floats (finite; checked by the caller). G, N >= 1.
MatchResult MatchBoxes(const float* gt, int64_t num_gt, const float* pred, int64_t num_pred,
                       float high, float low, bool allow_low_quality, int threads);

// quality: G*N floats, row-major (row g = ground truth g). G, N >= 1.
MatchResult MatchQuality(const float* quality, int64_t num_gt, int64_t num_pred, float high,
                         float low, bool allow_low_quality, int threads);

}  // namespace hpa
