#!/usr/bin/python3
"""Export a torchvision Faster R-CNN (ResNet-FPN) as safetensors, plus its detections on an image.

Run with Debian's python3-torchvision (0.14) at /usr/bin/python3; works offline.

Three uses:
  * weight interop for users with torch: `--from-pth model.pth` exports trained weights (a
    state_dict saved with torch.save, or a whole model) under torchvision's parameter names;
  * an ImageNet (or any classification) ResNet for `hpa-detect train --init`:
    `--backbone-pth resnet50.pth` exports its layers as `backbone.body.*` (fc dropped), and the
    trainer starts the FPN, RPN and box head at random, as torchvision's weights_backbone does.
    Get the file where torch can download, e.g.
    `torch.save(torchvision.models.resnet50(weights="IMAGENET1K_V1").state_dict(), "resnet50.pth")`;
  * the parity oracle of test/fasterrcnn-parity.test.ts: a seeded, randomly initialised model
    (weights=None, weights_backbone=None) built exactly as fasterrcnn_resnet50_fpn builds its
    fine-tuning model (FrozenBatchNorm2d, 3 trainable layers), with non-trivial frozen-BN
    statistics, run in eval mode on a synthetic image.

Outputs in --out-dir:
  weights.safetensors    state_dict (torchvision names; FrozenBN buffers included; BatchNorm's
                         num_batches_tracked dropped) and __metadata__ {"format": "torchvision",
                         "arch": ..., "num_classes": ...}
  reference.safetensors  (with --image/--synthetic) image U8 [H,W,3], the detections at
                         box_score_thresh (boxes F32 [D,4], scores F32 [D], labels I64 [D]) and,
                         with --intermediates, the transformed batch (`transformed` [1,3,h,w]),
                         FPN outputs (`features.0` ... `features.pool`) and RPN proposals
                         (`proposals` [P,4], `proposal_scores` [P])
"""
import argparse
import functools
import json
import struct
import os
import sys

import torch
import torchvision
from torchvision.models import resnet18, resnet34, resnet50
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.faster_rcnn import FasterRCNN
from torchvision.ops import misc as misc_nn_ops

ARCHS = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}


SAFETENSORS_DTYPES = {
    "BOOL": torch.bool, "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16, "I32": torch.int32, "I64": torch.int64,
    "F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64,
}


def load_safetensors(path):
    """A minimal safetensors reader: (metadata or None, {name: tensor})."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", None)
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dtype = SAFETENSORS_DTYPES[info["dtype"]]
        if e == b:
            out[name] = torch.empty(info["shape"], dtype=dtype)
        elif dtype == torch.bfloat16:  # frombuffer has no bfloat16: read the bits as int16
            out[name] = torch.frombuffer(bytearray(body[b:e]), dtype=torch.int16).view(torch.bfloat16).reshape(info["shape"])
        else:
            out[name] = torch.frombuffer(bytearray(body[b:e]), dtype=dtype).reshape(info["shape"])
    return metadata, out


def save_safetensors(path, tensors, metadata=None):
    """A minimal safetensors writer (the `safetensors` package is not in Debian)."""
    dtypes = {t: name for name, t in SAFETENSORS_DTYPES.items()}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(hb).to_bytes(8, "little"))
        f.write(hb)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def build_model(arch, num_classes, trainable_layers, norm="frozen-bn", **kwargs):
    """fasterrcnn_resnet50_fpn's fine-tuning model (FrozenBatchNorm2d), for any ResNet depth; with
    norm="group-norm", GroupNorm(32) in the backbone and the FPN (the from-scratch presets)."""
    if norm == "group-norm":
        gn = functools.partial(torch.nn.GroupNorm, 32)
        body = ARCHS[arch](weights=None, norm_layer=gn)
        backbone = _resnet_fpn_extractor(body, trainable_layers, norm_layer=gn)
    else:
        body = ARCHS[arch](weights=None, norm_layer=misc_nn_ops.FrozenBatchNorm2d)
        backbone = _resnet_fpn_extractor(body, trainable_layers)
    return FasterRCNN(backbone, num_classes=num_classes, **kwargs)


def export_backbone(arch, pth, out_path):
    """A torchvision ResNet classification state_dict as backbone.body.* tensors (fc dropped),
    checked against the architecture first so a wrong --arch fails here, naming the tensors."""
    loaded = torch.load(pth, map_location="cpu")
    sd = loaded.state_dict() if hasattr(loaded, "state_dict") else loaded
    net = ARCHS[arch](weights=None, norm_layer=misc_nn_ops.FrozenBatchNorm2d)
    try:
        missing, unexpected = net.load_state_dict(sd, strict=False)
    except RuntimeError as e:  # a shape mismatch
        sys.exit(f"{pth}: not a torchvision {arch} state_dict: {e}")
    unexpected = [k for k in unexpected if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        sys.exit(f"{pth}: not a torchvision {arch} state_dict (missing: {missing[:3]}, unexpected: {unexpected[:3]})")
    body = {f"backbone.body.{k}": v for k, v in net.state_dict().items() if not k.startswith("fc.")}
    meta = {"format": "torchvision", "part": "backbone", "arch": arch, "torchvision": torchvision.__version__}
    save_safetensors(out_path, body, meta)
    print(f"{len(body)} backbone tensors of {arch} -> {out_path}", file=sys.stderr)


def randomise_frozen_bn(model, gen):
    """Non-trivial statistics so a test notices if running_mean/var or the affine part is ignored."""
    for m in model.modules():
        if isinstance(m, misc_nn_ops.FrozenBatchNorm2d):
            c = m.weight.numel()
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.weight.copy_(torch.rand(c, generator=gen) * 0.4 + 0.6)
            m.bias.copy_(torch.randn(c, generator=gen) * 0.05)


def synthetic_image(height, width, gen):
    """A merged-HPA-like RGB image: dark background, soft coloured blobs (cells) and noise."""
    yy, xx = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij")
    img = torch.zeros(3, height, width)
    for _ in range(14):
        cy, cx = torch.rand(2, generator=gen) * torch.tensor([height, width])
        r = 8 + torch.rand(1, generator=gen).item() * 22
        colour = torch.rand(3, generator=gen)
        blob = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        img += colour[:, None, None] * blob
    img += torch.rand(3, height, width, generator=gen) * 0.15
    img = (img / img.max()).clamp(0, 1)
    return (img * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous()


def state_dict_for_export(model):
    return {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


@torch.no_grad()
def calibrate_heads(model, image):
    """Rescale the random predictor so class logits have unit spread on this image: scores then
    spread over (0.05, 1) instead of collapsing to 0/1, and detections pass the 0.05 threshold."""
    seen = {}
    def keep_logits(module, inputs, outputs):
        seen["logits"] = outputs[0]  # a hook must return None, or it replaces the output

    hook = model.roi_heads.box_predictor.register_forward_hook(keep_logits)
    model([image])
    hook.remove()
    std = seen["logits"].std().item()
    if std > 0:
        model.roi_heads.box_predictor.cls_score.weight.mul_(1.5 / std)
        model.roi_heads.box_predictor.cls_score.bias.mul_(1.5 / std)


@torch.no_grad()
def run_reference(model, image_u8, intermediates):
    # contiguous CHW as torchvision's to_tensor returns it: a permuted (channels-last) tensor
    # takes torch's channels-last bilinear kernel, which rounds differently (~1e-5).
    image = image_u8.permute(2, 0, 1).contiguous().float() / 255
    out = {"image": image_u8}
    captured = {}
    if intermediates:
        hooks = [
            model.backbone.register_forward_hook(lambda m, i, o: captured.update({f"features.{k}": v for k, v in o.items()})),
            model.rpn.register_forward_hook(lambda m, i, o: captured.update(proposals=o[0][0])),
            model.transform.register_forward_hook(lambda m, i, o: captured.update(transformed=o[0].tensors)),
        ]
    det = model([image])[0]
    if intermediates:
        for h in hooks:
            h.remove()
        out.update(captured)
    out["boxes"] = det["boxes"]
    out["scores"] = det["scores"]
    out["labels"] = det["labels"]
    return out


@torch.no_grad()
def bench(model, image_u8, runs, ref):
    """Median wall and CPU time (all threads) of model([image]) in eval mode, and the peak RSS, as JSON on stdout."""
    import resource
    import statistics
    import time
    image = image_u8.permute(2, 0, 1).contiguous().float() / 255
    model([image])
    times, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        model([image])
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(json.dumps({
        "torch": torch.__version__, "threads": torch.get_num_threads(), "runs_s": times,
        "median_s": statistics.median(times), "median_cpu_s": statistics.median(cpu), "detections": len(ref["scores"]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


@torch.no_grad()
def serve(model, image_u8):
    """Answer one timed eager run per 'run' line on stdin (JSON line on stdout), so a benchmark can
    interleave torch with its own runs under the same machine load; on EOF print the peak RSS."""
    import resource
    import time
    image = image_u8.permute(2, 0, 1).contiguous().float() / 255
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        model([image])
        print(json.dumps({"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}), flush=True)
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir")
    p.add_argument("--arch", choices=sorted(ARCHS), default="resnet50")
    p.add_argument("--num-classes", type=int, default=3, help="including background")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trainable-layers", type=int, default=3)
    p.add_argument("--from-pth", help="export these trained weights instead of random ones")
    p.add_argument("--backbone-pth", help="export only a ResNet classification state_dict (e.g. ImageNet weights) as backbone.body.* for train --init")
    p.add_argument("--min-size", type=int, default=800)
    p.add_argument("--max-size", type=int, default=1333)
    p.add_argument("--synthetic", help="HxW of a seeded synthetic image to run the model on, e.g. 256x320")
    p.add_argument("--intermediates", action="store_true", help="also store FPN features and proposals")
    p.add_argument("--norm", choices=["frozen-bn", "group-norm"], default="frozen-bn")
    p.add_argument("--manifest", help="only write {name: shape} of the state_dict to this JSON file")
    p.add_argument("--bench", type=int, default=0, help="time N eager runs on the image (after one warm-up); JSON on stdout")
    p.add_argument("--serve", action="store_true", help="after writing, answer timed runs on stdin (see serve())")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    if a.backbone_pth:
        if a.norm != "frozen-bn":
            p.error("--backbone-pth: ImageNet ResNets are BatchNorm networks; use them with the frozen-BN presets (resnet18-fpn, resnet34-fpn, resnet50-fpn)")
        if not a.out_dir:
            p.error("--out-dir is required")
        os.makedirs(a.out_dir, exist_ok=True)
        export_backbone(a.arch, a.backbone_pth, os.path.join(a.out_dir, "weights.safetensors"))
        return
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    model = build_model(a.arch, a.num_classes, a.trainable_layers, a.norm, min_size=a.min_size, max_size=a.max_size)
    if a.manifest:
        with open(a.manifest, "w") as f:
            json.dump({k: list(v.shape) for k, v in state_dict_for_export(model).items()}, f, indent=0)
        return
    if a.from_pth:
        loaded = torch.load(a.from_pth, map_location="cpu")
        sd = loaded.state_dict() if hasattr(loaded, "state_dict") else loaded
        model.load_state_dict(sd)
    else:
        randomise_frozen_bn(model, gen)
    model.eval()

    if not a.out_dir:
        p.error("--out-dir is required (except with --manifest)")
    os.makedirs(a.out_dir, exist_ok=True)
    image_u8 = None
    if a.synthetic:
        h, w = (int(v) for v in a.synthetic.lower().split("x"))
        image_u8 = synthetic_image(h, w, gen)
        if not a.from_pth:
            calibrate_heads(model, image_u8.permute(2, 0, 1).contiguous().float() / 255)

    meta = {
        "format": "torchvision",
        "arch": a.arch,
        "num_classes": str(a.num_classes),
        "torchvision": torchvision.__version__,
        "seed": str(a.seed),
    }
    save_safetensors(os.path.join(a.out_dir, "weights.safetensors"), state_dict_for_export(model), meta)
    if image_u8 is not None:
        ref = run_reference(model, image_u8, a.intermediates)
        save_safetensors(os.path.join(a.out_dir, "reference.safetensors"), ref,
                         {"min_size": str(a.min_size), "max_size": str(a.max_size)})
        if a.bench:
            bench(model, image_u8, a.bench, ref)
        if a.serve:
            serve(model, image_u8)
        print(f"{len(ref['scores'])} detections, scores {ref['scores'].min().item() if len(ref['scores']) else 0:.3f}"
              f"..{ref['scores'].max().item() if len(ref['scores']) else 0:.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
