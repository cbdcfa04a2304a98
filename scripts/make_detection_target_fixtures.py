#!/usr/bin/python3
"""Writes torchvision's Faster R-CNN training targets and losses for test/detection-*.test.ts.

Run with Debian's torch/torchvision 0.14 (offline):
    /usr/bin/python3 scripts/make_detection_target_fixtures.py [--out DIR]

Output: test/fixtures/detection/targets_losses.json (compact JSON; float arrays are base64 of
little-endian float32, exact; integer arrays are JSON lists). A batch of 3 images of 64x80
(two with gt boxes, one background image), anchors from torchvision's AnchorGenerator on two
feature maps (8x10 and 4x5, sizes 16 and 32, ratios 0.5/1/2):
  rpn: anchors, matched_idxs, labels, regression targets (assign_targets_to_anchors +
       box_coder.encode), the sampled anchors, random head outputs in segment 1's layout
       ([N, A, h, w] / [N, 4A, h, w] per level), loss_objectness, loss_rpn_box_reg and their
       autograd gradients w.r.t. the head outputs (through concat_box_prediction_layers).
  roi: random proposals, matched_idxs/labels of proposals ++ gt (before sampling), the sampled
       indices, the sampled proposals, labels, matched idxs, regression targets
       (select_training_samples), random class logits / box regression for the sampled RoIs,
       loss_classifier, loss_box_reg (fastrcnn_loss) and their autograd gradients.
torchvision's samplers draw with torch.randperm; they are wrapped to record their masks, and
the test feeds the recorded indices to ours (no other framework reproduces randperm). The
sample sizes are smaller than the defaults (RPN 64/0.5, RoI 48/0.25) so that the samples are a
real selection from these small images; the default counts are tested without torch.
Everything is seeded; rerunning reproduces the file byte for byte.
"""
import base64
import json
import os
import sys

import numpy as np
import torch
import torchvision
from torchvision.ops import box_iou
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import RoIHeads, fastrcnn_loss
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead, concat_box_prediction_layers

torch.set_num_threads(1)
torch.manual_seed(20261125)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'detection')

IMAGE = (64, 80)
GRIDS = [(8, 10), (4, 5)]
SIZES = ((16,), (32,))
RATIOS = ((0.5, 1.0, 2.0),) * 2
NUM_CLASSES = 3
RPN_BATCH, RPN_POS = 64, 0.5
ROI_BATCH, ROI_POS = 48, 0.25
PROPOSALS_PER_IMAGE = 120


def b64(t):
    a = np.ascontiguousarray(t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t, dtype='<f4')
    return base64.b64encode(a.tobytes()).decode('ascii')


def ints(t):
    return [int(v) for v in t.reshape(-1).tolist()]


def recording(sampler, log):
    """Wraps a BalancedPositiveNegativeSampler so that its masks are recorded."""
    def call(labels):
        pos, neg = sampler(labels)
        log.append(([ints(torch.where(p)[0]) for p in pos], [ints(torch.where(n)[0]) for n in neg]))
        return pos, neg
    return call


def gt_boxes():
    # Image 0: three boxes (one small: only a low-quality match reaches it); image 1: two
    # overlapping boxes; image 2: none (a background image).
    return [
        torch.tensor([[8.0, 6.0, 30.0, 28.0], [40.5, 20.0, 72.0, 44.0], [50.0, 48.0, 57.0, 55.5]]),
        torch.tensor([[4.0, 30.0, 36.0, 62.0], [14.0, 22.0, 44.0, 50.0]]),
        torch.zeros((0, 4)),
    ]


def random_proposals(gt, n):
    """Half jittered copies of the gt boxes (so some are positive), the rest uniform boxes."""
    h, w = IMAGE
    out = []
    k = n // 2 if len(gt) else 0
    for i in range(k):
        b = gt[i % len(gt)]
        bw, bh = float(b[2] - b[0]), float(b[3] - b[1])
        j = torch.randn(4) * torch.tensor([bw, bh, bw, bh]) * 0.15
        out.append(b + j)
    for _ in range(n - k):
        x1, y1 = float(torch.rand(1)) * (w - 8), float(torch.rand(1)) * (h - 8)
        bw, bh = 4 + float(torch.rand(1)) * (w - x1 - 4), 4 + float(torch.rand(1)) * (h - y1 - 4)
        out.append(torch.tensor([x1, y1, x1 + bw, y1 + bh]))
    p = torch.stack(out)
    p[:, 0::2] = p[:, 0::2].clamp(0, w)
    p[:, 1::2] = p[:, 1::2].clamp(0, h)
    return p


def main():
    n = 3
    gts = gt_boxes()
    gt_labels = [torch.tensor([1, 2, 1], dtype=torch.int64), torch.tensor([2, 2], dtype=torch.int64), torch.zeros((0,), dtype=torch.int64)]
    targets = [{'boxes': b, 'labels': l} for b, l in zip(gts, gt_labels)]

    # ---- RPN ----
    anchor_gen = AnchorGenerator(SIZES, RATIOS)
    images = ImageList(torch.zeros(n, 3, *IMAGE), [IMAGE] * n)
    feats = [torch.zeros(n, 8, h, w) for h, w in GRIDS]
    anchors = anchor_gen(images, feats)
    a = anchor_gen.num_anchors_per_location()[0]
    rpn = RegionProposalNetwork(anchor_gen, RPNHead(8, a), 0.7, 0.3, RPN_BATCH, RPN_POS,
                                dict(training=100, testing=100), dict(training=100, testing=100), 0.7)
    rpn_samples = []
    rpn.fg_bg_sampler = recording(rpn.fg_bg_sampler, rpn_samples)
    labels, matched_gt = rpn.assign_targets_to_anchors(anchors, targets)
    matched_idxs = []
    for anc, t in zip(anchors, targets):  # the matcher's raw output, as assign_targets_to_anchors computes it
        if t['boxes'].numel() == 0:
            matched_idxs.append(torch.full((anc.shape[0],), -1, dtype=torch.int64))
        else:
            matched_idxs.append(rpn.proposal_matcher(rpn.box_similarity(t['boxes'], anc)))
    reg_targets = rpn.box_coder.encode(matched_gt, anchors)

    # Head outputs in torch's flattened order: near the targets on positive anchors (both
    # smooth-L1 branches occur), random elsewhere; then back to segment 1's per-level layout.
    total = anchors[0].shape[0]
    obj_flat = torch.randn(n, total) * 2.0
    del_flat = torch.randn(n, total, 4) * 0.5
    for i in range(n):
        pos = labels[i] == 1
        del_flat[i][pos] = reg_targets[i][pos] + torch.randn(int(pos.sum()), 4) * 0.15
    obj_levels, del_levels = [], []
    start = 0
    for h, w in GRIDS:
        cnt = h * w * a
        o = obj_flat[:, start:start + cnt].reshape(n, h, w, a).permute(0, 3, 1, 2).contiguous()
        d = del_flat[:, start:start + cnt].reshape(n, h, w, a, 4).permute(0, 3, 4, 1, 2).reshape(n, 4 * a, h, w).contiguous()
        obj_levels.append(o.requires_grad_())
        del_levels.append(d.requires_grad_())
        start += cnt
    objectness, pred_deltas = concat_box_prediction_layers(obj_levels, del_levels)
    loss_obj, loss_rpn_box = rpn.compute_loss(objectness, pred_deltas, labels, reg_targets)
    grads = torch.autograd.grad(loss_obj + loss_rpn_box, obj_levels + del_levels)
    (rpn_pos, rpn_neg), = rpn_samples

    rpn_out = {
        'batchSizePerImage': RPN_BATCH, 'positiveFraction': RPN_POS,
        'anchors': b64(anchors[0]),
        'images': [{
            'matchedIdxs': ints(matched_idxs[i]),
            'labels': ints(labels[i]),
            'regressionTargets': b64(reg_targets[i]) if gts[i].numel() else None,
            'positiveIndices': rpn_pos[i], 'negativeIndices': rpn_neg[i],
        } for i in range(n)],
        'levels': [{
            'height': h, 'width': w,
            'objectness': b64(obj_levels[li]), 'deltas': b64(del_levels[li]),
            'gradObjectness': b64(grads[li]), 'gradDeltas': b64(grads[len(GRIDS) + li]),
        } for li, (h, w) in enumerate(GRIDS)],
        'lossObjectness': float(loss_obj), 'lossRpnBoxReg': float(loss_rpn_box),
    }

    # ---- RoI heads ----
    roi = RoIHeads(None, None, None, 0.5, 0.5, ROI_BATCH, ROI_POS, None, 0.05, 0.5, 100)
    roi_samples = []
    roi.fg_bg_sampler = recording(roi.fg_bg_sampler, roi_samples)
    proposals = [random_proposals(g, PROPOSALS_PER_IMAGE) for g in gts]
    # Before sampling: what assign_targets_to_proposals sees (raw matcher output, labels).
    with_gt = roi.add_gt_proposals([p.clone() for p in proposals], gts)
    raw_matches = []
    for cand, g, gl in zip(with_gt, gts, gt_labels):
        if g.numel() == 0:
            raw_matches.append(torch.full((cand.shape[0],), -1, dtype=torch.int64))
        else:
            raw_matches.append(roi.proposal_matcher(box_iou(g, cand)))
    _, all_labels = roi.assign_targets_to_proposals(with_gt, gts, gt_labels)
    roi_samples.clear()
    s_props, s_matched, s_labels, s_targets = roi.select_training_samples([p.clone() for p in proposals], targets)
    (roi_pos, roi_neg), = roi_samples
    num_rois = sum(len(l) for l in s_labels)
    cat_labels = torch.cat(s_labels)
    cat_targets = torch.cat(s_targets)
    class_logits = (torch.randn(num_rois, NUM_CLASSES) * 2.0).requires_grad_()
    box_reg = torch.randn(num_rois, NUM_CLASSES, 4) * 0.5
    for r in range(num_rois):
        if cat_labels[r] > 0:
            box_reg[r, cat_labels[r]] = cat_targets[r] + torch.randn(4) * 0.15
    box_reg = box_reg.reshape(num_rois, 4 * NUM_CLASSES).contiguous().requires_grad_()
    loss_cls, loss_box = fastrcnn_loss(class_logits, box_reg, s_labels, s_targets)
    g_cls, g_box = torch.autograd.grad(loss_cls + loss_box, [class_logits, box_reg])

    roi_out = {
        'batchSizePerImage': ROI_BATCH, 'positiveFraction': ROI_POS, 'numClasses': NUM_CLASSES,
        'images': [{
            'proposals': b64(proposals[i]),
            'allMatchedIdxs': ints(raw_matches[i]), 'allLabels': ints(all_labels[i]),
            'positiveIndices': roi_pos[i], 'negativeIndices': roi_neg[i],
            'sampledProposals': b64(s_props[i]), 'labels': ints(s_labels[i]), 'matchedIdxs': ints(s_matched[i]),
            'regressionTargets': b64(s_targets[i]) if gts[i].numel() else None,
        } for i in range(n)],
        'classLogits': b64(class_logits), 'boxRegression': b64(box_reg),
        'gradClassLogits': b64(g_cls), 'gradBoxRegression': b64(g_box),
        'lossClassifier': float(loss_cls), 'lossBoxReg': float(loss_box),
    }

    out = {
        'torchvision': torchvision.__version__,
        'imageSize': list(IMAGE), 'gridSizes': [list(g) for g in GRIDS],
        'anchorSizes': [list(s) for s in SIZES], 'aspectRatios': list(RATIOS[0]),
        'gt': [{'boxes': b64(g), 'labels': ints(l)} for g, l in zip(gts, gt_labels)],
        'rpn': rpn_out, 'roi': roi_out,
    }
    out_dir = sys.argv[sys.argv.index('--out') + 1] if '--out' in sys.argv else OUT
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, 'targets_losses.json')
    with open(path, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {path} ({os.path.getsize(path)} bytes); rpn sampled pos {[len(p) for p in rpn_pos]} neg {[len(q) for q in rpn_neg]}; '
          f'roi sampled pos {[len(p) for p in roi_pos]} neg {[len(q) for q in roi_neg]}', file=sys.stderr)


if __name__ == '__main__':
    main()
