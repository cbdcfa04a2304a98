#!/usr/bin/python3
"""One torchvision 0.14 Faster R-CNN training step, as the reference for test/detector-step-torch.test.ts
(GroupNorm or frozen-BN ResNet-FPN with torchvision's widths; trainable layers as configured).

Reads IN (safetensors written by the test): the model's parameters under torchvision names
(`param/<name>`), the transformed, padded batch `images` [N,3,H,W] (float32), `image_sizes` [N,2]
(int32, resized sizes), and per image `boxes/<i>` [G,4] (float32, resized pixels) and `labels/<i>`
[G] (int32); metadata {"config": JSON} with arch (depth, numClasses, fpnChannels,
representationSize), anchors (sizes, aspectRatios) and the rpn/box settings.

Runs the model in train mode on that batch, bypassing GeneralizedRCNNTransform (the batch is
already transformed): backbone → rpn → roi_heads; records the RPN sampler's picks (anchor indices
per image) and select_training_samples' output (sampled RoIs, labels, regression targets); sums
the four losses and backpropagates. Writes OUT: `grad/<name>` for every parameter with a
gradient, `rpn_pos/<i>`, `rpn_neg/<i>` (int32), `roi_proposals/<i>`, `roi_labels/<i>` (int32),
`roi_targets/<i>`, and the four losses in metadata {"losses": JSON}.

  /usr/bin/python3 scripts/detector_train_step_torch.py IN OUT [IN OUT ...]
"""
import functools
import json
import os
import sys

import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList

sys.dont_write_bytecode = True  # importing export_torchvision must not leave scripts/__pycache__ behind
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_torchvision import build_model, load_safetensors, save_safetensors  # noqa: E402

def main(inp, out):
    torch.set_num_threads(1)
    torch.manual_seed(0)  # torchvision's samplers draw with torch.randperm
    meta, t = load_safetensors(inp)
    cfg = json.loads(meta["config"])
    arch, rpn, box = cfg["arch"], cfg["rpn"], cfg["box"]
    if arch["fpnChannels"] != 256 or arch["representationSize"] != 1024:
        raise SystemExit("only torchvision's widths (FPN 256, box head 1024) are built here, not the light preset's")
    anchors = AnchorGenerator(tuple(tuple(s) for s in cfg["anchors"]["sizes"]), (tuple(cfg["anchors"]["aspectRatios"]),) * len(cfg["anchors"]["sizes"]))
    model = build_model(
        f"resnet{arch['depth']}", arch["numClasses"], arch["trainableLayers"], norm=arch["norm"],
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_train=rpn["preNmsTopNTrain"], rpn_post_nms_top_n_train=rpn["postNmsTopNTrain"],
        rpn_nms_thresh=rpn["nmsThresh"], rpn_fg_iou_thresh=rpn["fgIouThresh"], rpn_bg_iou_thresh=rpn["bgIouThresh"],
        rpn_batch_size_per_image=rpn["batchSizePerImage"], rpn_positive_fraction=rpn["positiveFraction"], rpn_score_thresh=rpn["scoreThresh"],
        box_fg_iou_thresh=box["fgIouThresh"], box_bg_iou_thresh=box["bgIouThresh"],
        box_batch_size_per_image=box["batchSizePerImage"], box_positive_fraction=box["positiveFraction"],
    )
    params = {k[len("param/"):]: v for k, v in t.items() if k.startswith("param/")}
    missing, unexpected = model.load_state_dict(params, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"state_dict mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.train()

    images = t["images"]
    n = images.shape[0]
    sizes = [tuple(int(v) for v in row) for row in t["image_sizes"]]
    targets = [{"boxes": t[f"boxes/{i}"], "labels": t[f"labels/{i}"].to(torch.int64)} for i in range(n)]

    # Record the RPN sample (the sampler returns per-image masks over the anchors).
    rpn_sample = {}
    sampler = model.rpn.fg_bg_sampler
    original_call = sampler.__call__

    def recording_sampler(matched_idxs):
        pos, neg = original_call(matched_idxs)
        rpn_sample["pos"] = [torch.where(p)[0] for p in pos]
        rpn_sample["neg"] = [torch.where(q)[0] for q in neg]
        return pos, neg

    model.rpn.fg_bg_sampler = recording_sampler
    roi_sample = {}
    select = model.roi_heads.select_training_samples

    def recording_select(proposals, targets):
        proposals, matched_idxs, labels, regression_targets = select(proposals, targets)
        roi_sample.update(proposals=[p.detach().clone() for p in proposals], labels=labels, targets=[r.detach().clone() for r in regression_targets])
        return proposals, matched_idxs, labels, regression_targets

    model.roi_heads.select_training_samples = recording_select

    features = model.backbone(images)
    image_list = ImageList(images, sizes)
    proposals, rpn_losses = model.rpn(image_list, features, targets)
    _, det_losses = model.roi_heads(features, proposals, sizes, targets)
    losses = {**rpn_losses, **det_losses}
    total = sum(losses.values())
    total.backward()

    tensors = {f"grad/{k}": p.grad for k, p in model.named_parameters() if p.grad is not None}
    for i in range(n):
        tensors[f"rpn_pos/{i}"] = rpn_sample["pos"][i].to(torch.int32)
        tensors[f"rpn_neg/{i}"] = rpn_sample["neg"][i].to(torch.int32)
        tensors[f"roi_proposals/{i}"] = roi_sample["proposals"][i]
        tensors[f"roi_labels/{i}"] = roi_sample["labels"][i].to(torch.int32)
        tensors[f"roi_targets/{i}"] = roi_sample["targets"][i]
    save_safetensors(out, tensors, {"losses": json.dumps({k: float(v) for k, v in losses.items()})})


if __name__ == "__main__":
    # IN OUT [IN OUT ...]: several steps in one process (torch's start-up is most of the time).
    if len(sys.argv) < 3 or len(sys.argv) % 2 != 1:
        raise SystemExit(__doc__)
    for i in range(1, len(sys.argv), 2):
        main(sys.argv[i], sys.argv[i + 1])
