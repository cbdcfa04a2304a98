#!/usr/bin/python3
"""torch side of scripts/bench-train-step-vs-torch.ts: full Faster R-CNN training steps of
torchvision 0.14 (model(images, targets) with its GeneralizedRCNNTransform, the four losses summed,
backward, SGD step) on the weights and batch the TS bench wrote, answering requests on stdin so that
the TS bench interleaves its own steps with these (both see the same machine load).

DIR holds:
  config.json           {"config": our FasterRcnnConfig, "threads", "lr", "momentum", "weightDecay"}
  weights.safetensors   torchvision state_dict (scripts/export_torchvision.py)
  input.safetensors     `images` [N,3,H,W] F32 in [0,1] (before normalisation and resizing),
                        `boxes/<i>` [G,4] F32 (pixels), `labels/<i>` [G] I32

Protocol: prints one JSON line {torch, torchvision, threads, blas, blasLibraries, trainable}, then
"ready"; then per request line:
  check  one forward/backward from the current (initial) weights with torchvision's RPN sampler and
         RoI sampler recorded; writes DIR/torch_sample.safetensors (rpn_pos/<i>, rpn_neg/<i>,
         roi_proposals/<i>, roi_labels/<i>, roi_targets/<i>) and answers {"losses": {...},
         "gradNorms": {name: L2 norm}}; the gradients are then dropped (no optimizer step)
  step   one timed training step: {"fwd_ms", "bwd_ms", "opt_ms", "wall_ms", "cpu_ms", "loss"}
  rss    {"peak_rss_mb"} (getrusage of this process)
  quit

usage: /usr/bin/python3 scripts/bench_train_step_torch.py DIR
"""
import json
import os
import resource
import sys
import time

import torch
from torchvision import __version__ as torchvision_version
from torchvision.models.detection.anchor_utils import AnchorGenerator

sys.dont_write_bytecode = True  # the imports below must not leave scripts/__pycache__ behind
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bccd_torchvision_baseline import blas_kind, blas_libraries  # noqa: E402
from export_torchvision import build_model, load_safetensors, save_safetensors  # noqa: E402


def model_from_config(cfg):
    """torchvision's FasterRCNN with our config's settings (transform, anchors, rpn_*, box_*)."""
    arch, rpn, box, tr = cfg["arch"], cfg["rpn"], cfg["box"], cfg["transform"]
    anchors = AnchorGenerator(tuple(tuple(s) for s in cfg["anchors"]["sizes"]), (tuple(cfg["anchors"]["aspectRatios"]),) * len(cfg["anchors"]["sizes"]))
    return build_model(
        f"resnet{arch['depth']}", arch["numClasses"], arch["trainableLayers"], norm=arch["norm"],
        min_size=tr["minSize"], max_size=tr["maxSize"], image_mean=tr["imageMean"], image_std=tr["imageStd"],
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_train=rpn["preNmsTopNTrain"], rpn_post_nms_top_n_train=rpn["postNmsTopNTrain"],
        rpn_pre_nms_top_n_test=rpn["preNmsTopNTest"], rpn_post_nms_top_n_test=rpn["postNmsTopNTest"],
        rpn_nms_thresh=rpn["nmsThresh"], rpn_fg_iou_thresh=rpn["fgIouThresh"], rpn_bg_iou_thresh=rpn["bgIouThresh"],
        rpn_batch_size_per_image=rpn["batchSizePerImage"], rpn_positive_fraction=rpn["positiveFraction"], rpn_score_thresh=rpn["scoreThresh"],
        box_fg_iou_thresh=box["fgIouThresh"], box_bg_iou_thresh=box["bgIouThresh"],
        box_batch_size_per_image=box["batchSizePerImage"], box_positive_fraction=box["positiveFraction"],
    )


def recorded_check(model, images, targets, out):
    """One forward/backward with the RPN and RoI samples recorded (as detector_train_step_torch.py)."""
    rpn_sample, roi_sample = {}, {}
    sampler, select = model.rpn.fg_bg_sampler, model.roi_heads.select_training_samples

    def recording_sampler(matched_idxs):
        pos, neg = sampler(matched_idxs)
        rpn_sample.update(pos=[torch.where(p)[0] for p in pos], neg=[torch.where(q)[0] for q in neg])
        return pos, neg

    def recording_select(proposals, tgts):
        proposals, matched_idxs, labels, regression_targets = select(proposals, tgts)
        roi_sample.update(proposals=[p.detach().clone() for p in proposals], labels=labels, targets=[r.detach().clone() for r in regression_targets])
        return proposals, matched_idxs, labels, regression_targets

    model.rpn.fg_bg_sampler, model.roi_heads.select_training_samples = recording_sampler, recording_select
    try:
        losses = model(images, targets)
        sum(losses.values()).backward()
    finally:
        model.rpn.fg_bg_sampler = sampler
        del model.roi_heads.select_training_samples  # back to the class's method
    tensors = {}
    for i in range(len(images)):
        tensors[f"rpn_pos/{i}"] = rpn_sample["pos"][i].to(torch.int32)
        tensors[f"rpn_neg/{i}"] = rpn_sample["neg"][i].to(torch.int32)
        tensors[f"roi_proposals/{i}"] = roi_sample["proposals"][i]
        tensors[f"roi_labels/{i}"] = roi_sample["labels"][i].to(torch.int32)
        tensors[f"roi_targets/{i}"] = roi_sample["targets"][i]
    save_safetensors(out, tensors)
    norms = {k: float(p.grad.double().norm()) for k, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return {"losses": {k: float(v) for k, v in losses.items()}, "gradNorms": norms}


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "config.json")) as f:
        run = json.load(f)
    torch.set_num_threads(int(run.get("threads", 2)))
    torch.manual_seed(0)  # torchvision's samplers draw with torch.randperm
    model = model_from_config(run["config"])
    _, state = load_safetensors(os.path.join(d, "weights.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"state_dict mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    del state
    model.train()
    _, inp = load_safetensors(os.path.join(d, "input.safetensors"))
    n = inp["images"].shape[0]
    images = [inp["images"][i].clone() for i in range(n)]
    targets = [{"boxes": inp[f"boxes/{i}"].clone(), "labels": inp[f"labels/{i}"].to(torch.int64)} for i in range(n)]
    del inp
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(trainable, lr=run["lr"], momentum=run["momentum"], weight_decay=run["weightDecay"])
    libs = blas_libraries()
    print(json.dumps({"torch": torch.__version__, "torchvision": torchvision_version, "threads": torch.get_num_threads(),
                      "blas": blas_kind(libs), "blasLibraries": libs, "trainable": sum(p.numel() for p in trainable)}), flush=True)
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            break
        if cmd == "rss":
            print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
        elif cmd == "check":
            print(json.dumps(recorded_check(model, images, targets, os.path.join(d, "torch_sample.safetensors"))), flush=True)
        elif cmd == "step":
            c0 = time.process_time()
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = sum(model(images, targets).values())
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            opt.step()
            t3 = time.perf_counter()
            print(json.dumps({"fwd_ms": (t1 - t0) * 1e3, "bwd_ms": (t2 - t1) * 1e3, "opt_ms": (t3 - t2) * 1e3, "wall_ms": (t3 - t0) * 1e3,
                              "cpu_ms": (time.process_time() - c0) * 1e3, "loss": float(loss)}), flush=True)
        else:
            raise SystemExit(f"unknown request {cmd!r}")


if __name__ == "__main__":
    main()
