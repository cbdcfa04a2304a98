#!/usr/bin/env python3
"""Writes test/fixtures/kernels/{nms,boxes,anchors,matcher}_torchvision.json: torchvision 0.14's
results (Debian's python3-torchvision at /usr/bin/python3, offline) on seeded random and
adversarial inputs, for test/{nms,boxes,anchors,matcher}.test.ts.

    /usr/bin/python3 scripts/make_kernel_fixtures_nms_boxes.py [--out DIR]

(--out writes elsewhere; test/nms-fixtures.test.ts uses it to check that the committed fixtures
are exactly what this script makes.)

Floats are float32 values written as the exact decimal of their double (read back with
Math.fround they are bit-identical); NaN is written as null. Scores are distinct wherever the
result order depends on them (torchvision's order of tied scores is unspecified; the tests check
ties against a brute-force reference instead).
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torchvision
from torchvision.models.detection._utils import BoxCoder, Matcher
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import boxes as box_ops

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "kernels")


def f32(t):
    """Tensor/array -> flat list of Python floats (exact float32 values), NaN -> None."""
    a = np.asarray(t, dtype=np.float32).reshape(-1)
    return [None if math.isnan(v) else float(v) for v in a.tolist()]


def ints(t):
    return [int(v) for v in np.asarray(t).reshape(-1).tolist()]


def rand_boxes(g, n, lo=0.0, hi=500.0, wlo=4.0, whi=64.0):
    xy = torch.rand(n, 2, generator=g) * (hi - lo) + lo
    wh = torch.rand(n, 2, generator=g) * (whi - wlo) + wlo
    return torch.cat([xy, xy + wh], dim=1).float()


def clustered_boxes(g, n, sigma=6.0):
    k = max(1, n // 40)
    centres = torch.rand(k, 2, generator=g) * 500
    c = centres[torch.arange(n) % k] + torch.randn(n, 2, generator=g) * sigma
    wh = torch.rand(n, 2, generator=g) * 40 + 20
    return torch.cat([c - wh / 2, c + wh / 2], dim=1).float()


def distinct_scores(g, n):
    # k/1024: distinct, exact in float32 and short in JSON
    return ((torch.randperm(n, generator=g).float() + 1) / 1024).float()


def q16(boxes):
    """Coordinates rounded to 1/16 px: exact float32 values with short decimals (small JSON)."""
    return torch.round(boxes * 16) / 16


def iou32(a, b):
    """torchvision's CPU NMS IoU in float32 for two boxes (numpy scalars)."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    w = max(np.float32(0), min(a[2], b[2]) - max(a[0], b[0]))
    h = max(np.float32(0), min(a[3], b[3]) - max(a[1], b[1]))
    inter = np.float32(w * h)
    return np.float32(inter / np.float32(np.float32(area_a + area_b) - inter))


def nms_fixtures(g):
    cases = []

    def add(name, boxes, scores, iou):
        keep = torchvision.ops.nms(boxes, scores, iou)
        cases.append({"name": name, "iou": iou, "boxes": f32(boxes), "scores": f32(scores),
                      "keep": ints(keep)})

    for n, thr in [(300, 0.5), (400, 0.7), (120, 0.0), (120, 1.0), (50, 0.3)]:
        add(f"uniform n={n} iou={thr}", q16(rand_boxes(g, n)), distinct_scores(g, n), thr)
    # full-precision coordinates too
    add("uniform full precision n=150 iou=0.7", rand_boxes(g, 150), distinct_scores(g, 150), 0.7)
    for n, thr in [(400, 0.7), (200, 0.5)]:
        add(f"clustered n={n} iou={thr}", q16(clustered_boxes(g, n)), distinct_scores(g, n), thr)
    # Wide size range (several grid levels in our kernel): sizes 2..300.
    add("mixed sizes n=250 iou=0.6", q16(rand_boxes(g, 250, 0, 400, 2, 300)),
        distinct_scores(g, 250), 0.6)
    add("empty", torch.zeros(0, 4), torch.zeros(0), 0.5)
    add("single", torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.tensor([0.5]), 0.5)

    # Degenerate and inverted boxes among ordinary and duplicated ones.
    base = rand_boxes(g, 30, 0, 60, 5, 30)
    extra = torch.tensor([
        [10, 10, 10, 20],   # zero width
        [10, 10, 20, 10],   # zero height
        [5, 5, 5, 5],       # a point
        [30, 30, 20, 40],   # inverted x
        [30, 40, 40, 30],   # inverted y
        [40, 40, 30, 30],   # inverted both (positive "area")
        [0, 0, 20, 20], [0, 0, 20, 20],  # exact duplicates
        [-10, -10, 5, 5],   # negative coordinates
    ], dtype=torch.float32)
    boxes = torch.cat([base, extra])
    add("degenerate and inverted", boxes, distinct_scores(g, boxes.shape[0]), 0.5)

    # Pairs whose float32 IoU sits exactly at the threshold, and +-1e-5, +-1 ulp around it.
    # Each pair lives far from the others (integer offsets keep the arithmetic identical).
    exact_pairs = [
        ([0, 0, 10, 10], [0, 0, 10, 7]),    # 0.7f
        ([0, 0, 10, 10], [0, 0, 10, 5]),    # 0.5 exactly
        ([0, 0, 4, 4], [2, 0, 6, 4]),       # 8/24 = 1/3
        ([0, 0, 3, 3], [1, 1, 4, 4]),       # 4/14
    ]
    for a, b in exact_pairs:
        v = float(iou32(a, b))
        for label, thr in [("=iou32", v), ("-1e-5", v - 1e-5), ("+1e-5", v + 1e-5),
                           ("-1ulp(double)", np.nextafter(v, -1.0)),
                           ("rounded decimal", round(v, 6))]:
            if not (0.0 <= thr <= 1.0):
                continue
            k = 6
            bx = []
            for p in range(k):
                off = 100.0 * p
                bx.append([a[0] + off, a[1], a[2] + off, a[3]])
                bx.append([b[0] + off, b[1], b[2] + off, b[3]])
            boxes = torch.tensor(bx, dtype=torch.float32)
            # alternate which box of the pair ranks first
            scores = torch.tensor([0.9 - 0.01 * i if (i // 2) % 2 == 0 else 0.5 - 0.01 * i
                                   for i in range(2 * k)], dtype=torch.float32)
            add(f"pair iou={v!r} thr {label}", boxes, scores, float(thr))
    # Random overlapping pairs, threshold at their float32 IoU and around it.
    for p in range(16):
        a = (torch.rand(4, generator=g) * 50).tolist()
        a = [min(a[0], a[2]), min(a[1], a[3]), max(a[0], a[2]) + 1, max(a[1], a[3]) + 1]
        j = (torch.rand(4, generator=g) * 6 - 3).tolist()
        b = [a[0] + j[0], a[1] + j[1], a[2] + j[2], a[3] + j[3]]
        a32 = np.asarray(a, dtype=np.float32)
        b32 = np.asarray(b, dtype=np.float32)
        v = float(iou32(a32, b32))
        for label, thr in [("=", v), ("-1e-5", v - 1e-5), ("+1e-5", v + 1e-5),
                           ("-ulp", np.nextafter(np.float32(v), np.float32(0)).item())]:
            if not (0.0 <= thr <= 1.0):
                continue
            add(f"random pair {p} thr {label}", torch.tensor(np.stack([a32, b32])),
                torch.tensor([0.6, 0.4]), float(thr))

    batched = []
    for n, ncls, thr in [(300, 5, 0.5), (300, 3, 0.7), (100, 1, 0.5), (0, 2, 0.5)]:
        boxes = q16(clustered_boxes(g, n)) if n else torch.zeros(0, 4)
        scores = distinct_scores(g, n)
        idxs = torch.randint(0, ncls, (n,), generator=g) * 7 - 3  # arbitrary ids, negatives too
        keep = box_ops._batched_nms_vanilla(boxes, scores, idxs, thr)
        trick = box_ops._batched_nms_coordinate_trick(boxes, scores, idxs, thr)
        assert keep.tolist() == trick.tolist(), "vanilla and coordinate trick differ"
        batched.append({"name": f"batched n={n} classes={ncls} iou={thr}", "iou": thr,
                        "boxes": f32(boxes), "scores": f32(scores), "idxs": ints(idxs),
                        "keep": ints(keep)})
    return {"nms": cases, "batched": batched}


def boxes_fixtures(g):
    out = {}
    b1 = torch.cat([rand_boxes(g, 16, 0, 100, 1, 40),
                    torch.tensor([[5, 5, 5, 5], [10, 10, 0, 0], [0, 0, 10, 10], [0, 0, 0, 0]],
                                 dtype=torch.float32)])
    b2 = torch.cat([rand_boxes(g, 25, 0, 100, 1, 40),
                    torch.tensor([[0, 0, 10, 10], [2, 2, 2, 9], [1, 1, 1, 1]],
                                 dtype=torch.float32)])
    out["box_iou"] = {"boxes1": f32(b1), "boxes2": f32(b2), "iou": f32(box_ops.box_iou(b1, b2))}

    coders = []
    for weights in [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0), (2.5, 0.5, 3.0, 1.7)]:
        coder = BoxCoder(weights)
        gt = rand_boxes(g, 24, 0, 300, 1, 120)
        props = rand_boxes(g, 24, 0, 300, 2, 120)
        enc = coder.encode_single(gt, props)
        k = 3
        rel = torch.randn(24, 4 * k, generator=g) * 2
        rel[0, 2] = 30.0  # hits the dw clamp
        rel[1, 3] = 9.0   # hits the dh clamp
        rel[2, 6] = -20.0
        dec = coder.decode_single(rel, props)
        dec1 = coder.decode_single(enc, props)
        coders.append({"weights": list(weights), "bbox_xform_clip": coder.bbox_xform_clip,
                       "reference": f32(gt), "proposals": f32(props), "encoded": f32(enc),
                       "rel_codes": f32(rel), "k": k, "decoded": f32(dec),
                       "decoded_roundtrip": f32(dec1)})
    out["box_coder"] = coders

    cb = rand_boxes(g, 30, -50, 150, 1, 80)
    out["clip"] = {"boxes": f32(cb), "size": [100, 120],
                   "clipped": f32(box_ops.clip_boxes_to_image(cb, (100, 120)))}
    sb = torch.cat([rand_boxes(g, 30, 0, 50, 0, 10),
                    torch.tensor([[0, 0, 5, 5], [1, 1, 6, 5.99999], [2, 2, 2.1, 9],
                                  [3, 3, 1, 9]], dtype=torch.float32)])
    out["remove_small"] = [{"boxes": f32(sb), "min_size": m,
                            "keep": ints(box_ops.remove_small_boxes(sb, m))}
                           for m in (5.0, 1e-3, 0.0, 2.5)]
    return out


def anchors_fixtures():
    configs = [
        {"name": "fpn default",
         "sizes": [[32], [64], [128], [256], [512]], "ratios": [[0.5, 1.0, 2.0]] * 5,
         "image": [64, 48], "grids": [[16, 12], [8, 6], [4, 3], [2, 2], [1, 1]]},
        {"name": "single level",
         "sizes": [[128, 256, 512]], "ratios": [[0.5, 1.0, 2.0]],
         "image": [80, 112], "grids": [[5, 7]]},
        {"name": "odd sizes and ratios (half-even rounding)",
         "sizes": [[3, 5, 7.5], [2, 9]], "ratios": [[0.25, 0.7, 1.3, 3.0], [1.0, 0.5]],
         "image": [30, 31], "grids": [[4, 5], [3, 2]]},
    ]
    out = []
    for c in configs:
        gen = AnchorGenerator(tuple(tuple(s) for s in c["sizes"]),
                              tuple(tuple(r) for r in c["ratios"]))
        h, w = c["image"]
        images = ImageList(torch.zeros(1, 3, h, w), [(h, w)])
        feats = [torch.zeros(1, 1, gh, gw) for gh, gw in c["grids"]]
        anchors = gen(images, feats)[0]
        cell = [f32(a) for a in gen.cell_anchors]
        out.append({**c, "cell_anchors": cell, "anchors": f32(anchors)})
    return out


def matcher_fixtures(g):
    cases = []

    def add(name, q, high, low, allow):
        m = Matcher(high, low, allow_low_quality_matches=allow)
        res = m(q.clone())
        cases.append({"name": name, "m": q.shape[0], "n": q.shape[1], "quality": f32(q),
                      "high": high, "low": low, "allow_low_quality": allow,
                      "matches": ints(res)})

    gt = rand_boxes(g, 6, 0, 200, 20, 80)
    anchors = rand_boxes(g, 60, 0, 200, 10, 90)
    q = box_ops.box_iou(gt, anchors)
    for high, low in [(0.7, 0.3), (0.5, 0.5), (0.5, 0.0)]:
        for allow in (False, True):
            add(f"random iou {high}/{low} allow={allow}", q, high, low, allow)
    # Hand-made: values exactly at the thresholds (as float32), ties between ground truths
    # (first max wins) and ties for a ground truth's best prediction (all of them updated).
    t = torch.tensor([
        [0.7, 0.3, 0.1, 0.5, 0.2, 0.2, 0.0, 0.69999],
        [0.7, 0.2, 0.4, 0.5, 0.2, 0.1, 0.0, 0.3],
        [0.1, 0.29999, 0.4, 0.6, 0.05, 0.05, 0.0, 0.1],
    ], dtype=torch.float32)
    for allow in (False, True):
        add(f"hand ties and exact thresholds allow={allow}", t, 0.7, 0.3, allow)
    # A NaN quality (0/0 IoU of two empty boxes).
    tn = t.clone()
    tn[1, 4] = float("nan")
    for allow in (False, True):
        add(f"NaN entry allow={allow}", tn, 0.7, 0.3, allow)
    return cases


def main() -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(20240603)
    out_dir = OUT
    if "--out" in sys.argv:
        out_dir = sys.argv[sys.argv.index("--out") + 1]
    os.makedirs(out_dir, exist_ok=True)
    meta = {"torch": torch.__version__, "torchvision": torchvision.__version__,
            "script": "scripts/make_kernel_fixtures_nms_boxes.py"}
    files = {
        "nms_torchvision.json": nms_fixtures(g),
        "boxes_torchvision.json": boxes_fixtures(g),
        "anchors_torchvision.json": {"cases": anchors_fixtures()},
        "matcher_torchvision.json": {"cases": matcher_fixtures(g)},
    }
    for name, data in files.items():
        path = os.path.join(out_dir, name)
        with open(path, "w") as f:
            json.dump({"meta": meta, **data}, f, separators=(",", ":"), allow_nan=False)
        print(f"{path}: {os.path.getsize(path)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
