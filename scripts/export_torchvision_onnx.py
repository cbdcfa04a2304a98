#!/usr/bin/python3
"""torchvision's own ONNX export of a Faster R-CNN, the reference of `npm run bench:detector`.

Run with Debian's python3-torchvision (0.14) at /usr/bin/python3; works offline, and without the
`onnx` Python package (torch 1.13's exporter serialises the ModelProto itself; `onnx` is only
needed for onnx.checker, which torch.onnx.export does not call).

Builds exactly the model of scripts/export_torchvision.py with the same arguments (same seed, same
seeded random init, frozen-BN statistics and head calibration on the same synthetic image), so
the `weights.safetensors` it writes are byte for byte the ones that script writes, and exports the
whole eval-mode model -- GeneralizedRCNNTransform (normalise, resize to min_size/max_size, pad),
backbone, FPN, RPN, RoIAlign, box head, postprocess -- with torch.onnx.export (opset 11, as
torchvision's own test/test_onnx.py does for Faster R-CNN).

Outputs in --out-dir:
  weights.safetensors    as scripts/export_torchvision.py
  reference.safetensors  (with --synthetic) image U8 [H,W,3] and torch eager's detections
  model.onnx             input `images` F32 [3,H,W] in [0,1] (one image, as torchvision's list
                         input), outputs `boxes` [D,4], `labels` I64 [D], `scores` [D]
  onnx.json              {"input_shape", "min_size", "max_size", "seed", "opset", "dynamic", "export_s",
                         "torch", "torchvision", "detections"}

The graph is traced at the --synthetic size. By default the input shape is fixed (what
torchvision's docs show); --dynamic makes H and W symbolic (torchvision's test_onnx does both).
"""
import argparse
import json
import os
import sys
import time
import warnings

import torch
import torchvision

sys.dont_write_bytecode = True  # no scripts/__pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torchvision as et  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--arch", choices=sorted(et.ARCHS), default="resnet50")
    p.add_argument("--num-classes", type=int, default=91, help="including background")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trainable-layers", type=int, default=3)
    p.add_argument("--min-size", type=int, default=800)
    p.add_argument("--max-size", type=int, default=1333)
    p.add_argument("--synthetic", default="512x512", help="HxW of the seeded synthetic image (export_torchvision.py's)")
    p.add_argument("--opset", type=int, default=11)
    p.add_argument("--dynamic", action="store_true", help="symbolic H and W")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()

    # The same sequence of seeded draws as export_torchvision.py main(), so the weights match.
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    model = et.build_model(a.arch, a.num_classes, a.trainable_layers, "frozen-bn", min_size=a.min_size, max_size=a.max_size)
    et.randomise_frozen_bn(model, gen)
    model.eval()
    os.makedirs(a.out_dir, exist_ok=True)
    h, w = (int(v) for v in a.synthetic.lower().split("x"))
    image_u8 = et.synthetic_image(h, w, gen)
    image = image_u8.permute(2, 0, 1).contiguous().float() / 255
    et.calibrate_heads(model, image)

    meta = {"format": "torchvision", "arch": a.arch, "num_classes": str(a.num_classes),
            "torchvision": torchvision.__version__, "seed": str(a.seed)}
    et.save_safetensors(os.path.join(a.out_dir, "weights.safetensors"), et.state_dict_for_export(model), meta)
    ref = et.run_reference(model, image_u8, False)
    et.save_safetensors(os.path.join(a.out_dir, "reference.safetensors"), ref,
                        {"min_size": str(a.min_size), "max_size": str(a.max_size)})

    t0 = time.perf_counter()
    # The tracer warns about every Python-side shape computation in torchvision's detection code
    # (expected for its export; the graph is checked against the detections by the benchmark).
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    kwargs = {}
    if a.dynamic:
        kwargs["dynamic_axes"] = {"images": [1, 2], "boxes": [0, 1], "labels": [0], "scores": [0]}
    with torch.no_grad():
        torch.onnx.export(model, ([image],), os.path.join(a.out_dir, "model.onnx"), opset_version=a.opset,
                          do_constant_folding=True, input_names=["images"], output_names=["boxes", "labels", "scores"], **kwargs)
    info = {"input_shape": [3, h, w], "min_size": a.min_size, "max_size": a.max_size, "seed": a.seed, "opset": a.opset, "dynamic": a.dynamic, "export_s": time.perf_counter() - t0,
            "torch": torch.__version__, "torchvision": torchvision.__version__, "detections": len(ref["scores"])}
    with open(os.path.join(a.out_dir, "onnx.json"), "w") as f:
        json.dump(info, f)
    print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
