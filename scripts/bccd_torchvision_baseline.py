#!/usr/bin/python3
"""torchvision side of the BCCD comparison (issue 5, docs/bccd-comparison.md): Faster R-CNN with a
ResNet-18 FPN GroupNorm backbone trained from scratch on BCCD train.txt under a wall-clock budget,
then evaluated on val.txt.

Run with Debian's torch 1.13 / torchvision 0.14 (/usr/bin/python3, `apt-get install
python3-torchvision`); offline, nothing is downloaded.

    /usr/bin/python3 scripts/bccd_torchvision_baseline.py --data ../shared/data/bccd --minutes 30 --out bccd-torchvision

What it matches on our side (`hpa-detect train --preset resnet18-fpn-gn`; every choice is listed in
docs/bccd-comparison.md):
  * classes: the names seen in the training annotations, sorted by code point, ids 1..K, as
    src/data/class-map.ts (ClassMap.fromAnnotations) numbers them: Platelets 1, RBC 2, WBC 3;
  * boxes as written in the XML (x1, y1, x2, y2 pixels, no -1), clipped to the image; degenerate
    boxes (x2 <= x1 or y2 <= y1: one in train, one in val) dropped and counted; difficult boxes left
    out of training (py-faster-rcnn's rule and our dataset's default), used by the evaluation as
    "ignore" (BCCD has none);
  * model: torchvision's ResNet-18 with GroupNorm(32) (norm_layer), _resnet_fpn_extractor with
    GroupNorm(32) in the FPN too (exactly our preset's parameter names, see docs/models.md),
    trainable_layers 5, anchors 32..512 x (0.5, 1, 2) (torchvision's defaults, our preset's),
    min_size 480, max_size 640 (640x480 BCCD images pass at scale 1), num_classes 4, everything else
    torchvision 0.14's FasterRCNN defaults;
  * training: batch 2, epochs shuffled from a seeded stream, the last partial batch dropped (our
    Trainer's EpochOrder, DataLoader(drop_last=True)), horizontal flip p=0.5 (vertical flip off
    unless --vflip), SGD lr 0.02 momentum 0.9 weight decay 1e-4 on every parameter (torchvision
    references' default), linear warm-up from 0.001 x lr over 100 iterations (torch LinearLR; our
    schedule `{kind:'linear', startFactor:0.001, totalIters:100}`), then LR x0.1 at 70% and 90% of
    the iterations the budget is expected to allow (--budget-lr-drops; the rule of our trainer's
    time budget, src/train/budget-lr-steps.ts: before each iteration from the third, expected =
    done + floor(left / pace), the pace measured from the end of the first iteration; each drop not
    yet reached moves to floor(f x expected), one that is reached stays), no gradient clipping
    unless --clip-grad-norm, torch.set_num_threads(2);
  * the budget is checked after every iteration; evaluation time is not counted.

Outputs in --out:
  train_log.csv        one row per iteration: iter, epoch, lr, the four losses and their sum,
                       seconds of the iteration, images/s, elapsed seconds
  predictions.json     val predictions at score > 0.05 in `hpa-detect predict`'s format
                       (format "hpa-detect/predictions" version 1, src/infer/predict-outputs.ts;
                       box means per channel included), for `hpa-detect evaluate`
  summary.json         settings, iterations, images seen, timings, BLAS, the quick mAP below
  model.pth            (only with --save-model) the state_dict; scripts/export_torchvision.py
                       --from-pth turns it into safetensors for `hpa-detect predict`

The mAP this script prints is its own quick figure (VOC all-point AP, IoU without +1, difficult
ignored), a sanity check; the reported comparison uses `hpa-detect evaluate` on both sides.
"""
import argparse
import bisect
import csv
import fractions as fractions_module
import functools
import json
import math
import os
import random
import sys
import time
import xml.etree.ElementTree as ET

import torch
import torchvision
from torchvision.io import ImageReadMode, read_image
from torchvision.models import resnet18
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.faster_rcnn import FasterRCNN

LOSS_KEYS = ["loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"]
PRESET_NAME = "torchvision-resnet18-fpn-gn"


# ---------------------------------------------------------------- BLAS check


def blas_libraries():
    """The BLAS/LAPACK shared objects this process has mapped after a matmul. Debian's torch says
    BLAS_INFO=generic in its build config and gets whichever libblas.so.3 the alternatives system
    points at, so the mapped file is what tells OpenBLAS from the reference BLAS."""
    a = torch.randn(64, 64)
    (a @ a).sum().item()
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and any(k in parts[-1].lower() for k in ("blas", "lapack", "mkl", "blis", "atlas")):
                    libs.add(parts[-1])
    except OSError:
        pass
    return sorted(libs)


def blas_kind(libs):
    joined = " ".join(libs).lower()
    for key, name in (("openblas", "OpenBLAS"), ("mkl", "MKL"), ("blis", "BLIS"), ("atlas", "ATLAS")):
        if key in joined:
            return name
    if libs:
        return "reference"  # /usr/lib/x86_64-linux-gnu/blas/libblas.so.3 (netlib)
    return "unknown"


# ---------------------------------------------------------------- data


def read_ids(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def parse_voc(path):
    """One LabelImg/VOC XML: (width, height, filename, [(name, x1, y1, x2, y2, difficult)])."""
    root = ET.parse(path).getroot()
    size = root.find("size")
    width, height = int(float(size.find("width").text)), int(float(size.find("height").text))
    filename = (root.findtext("filename") or "").strip()
    objects = []
    for obj in root.findall("object"):
        name = obj.find("name").text.strip()
        box = obj.find("bndbox")
        x1, y1, x2, y2 = (float(box.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
        difficult = (obj.findtext("difficult") or "0").strip() == "1"
        objects.append((name, x1, y1, x2, y2, difficult))
    return width, height, filename, objects


def load_split(data_dir, split, classes=None):
    """Records of one split: id, image path, size, boxes [n,4], labels [n], difficult [n]; and
    counts of what was dropped. `classes` None: the sorted names seen in this split (ClassMap.fromAnnotations)."""
    ids = read_ids(os.path.join(data_dir, f"{split}.txt"))
    parsed = []
    for i in ids:
        w, h, fname, objs = parse_voc(os.path.join(data_dir, "Annotations", f"{i}.xml"))
        image = os.path.join(data_dir, "JPEGImages", fname if fname else f"{i}.jpg")
        if not os.path.exists(image):
            image = os.path.join(data_dir, "JPEGImages", f"{i}.jpg")
        parsed.append((i, image, w, h, objs))
    if classes is None:
        classes = sorted({o[0] for _, _, _, _, objs in parsed for o in objs})
    label_of = {c: k + 1 for k, c in enumerate(classes)}
    records, degenerate, clipped = [], [], 0
    for i, image, w, h, objs in sorted(parsed, key=lambda p: p[0]):
        boxes, labels, difficult = [], [], []
        for name, x1, y1, x2, y2, diff in objs:
            if name not in label_of:
                raise SystemExit(f"{i}: class '{name}' is not in the training classes {classes}")
            c = (min(max(x1, 0), w), min(max(y1, 0), h), min(max(x2, 0), w), min(max(y2, 0), h))
            clipped += c != (x1, y1, x2, y2)
            if c[2] <= c[0] or c[3] <= c[1]:
                degenerate.append(f"{i} {name} ({x1:g},{y1:g},{x2:g},{y2:g})")
                continue
            boxes.append(c)
            labels.append(label_of[name])
            difficult.append(diff)
        records.append({
            "id": i, "image": image, "width": w, "height": h,
            "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor(labels, dtype=torch.int64),
            "difficult": torch.tensor(difficult, dtype=torch.bool),
        })
    return records, classes, {"degenerate": degenerate, "clipped": clipped}


def load_image(path):
    """uint8 [3,H,W] RGB."""
    return read_image(path, ImageReadMode.RGB)


def training_sample(rec, rng, hflip, vflip):
    """Image float [3,H,W] in [0,1] and target (difficult boxes left out), randomly flipped.
    Two draws per sample whatever the outcome, so the stream does not depend on outcomes."""
    img = load_image(rec["image"]).float().div_(255)
    keep = ~rec["difficult"]
    boxes, labels = rec["boxes"][keep].clone(), rec["labels"][keep].clone()
    _, H, W = img.shape
    u_h, u_v = rng.random(), rng.random()
    if u_h < hflip:
        img = img.flip(-1)
        boxes[:, [0, 2]] = W - boxes[:, [2, 0]]
    if u_v < vflip:
        img = img.flip(-2)
        boxes[:, [1, 3]] = H - boxes[:, [3, 1]]
    return img, {"boxes": boxes, "labels": labels}


# ---------------------------------------------------------------- model


def build_model(num_classes, min_size, max_size):
    """Our resnet18-fpn-gn preset in torchvision: GroupNorm(32) in the ResNet-18 body and the FPN
    (same parameter names as scripts/export_torchvision.py --norm group-norm), all 5 layers
    trainable, default anchors ((32,),(64,),(128,),(256,),(512,)) x (0.5, 1, 2)."""
    gn = functools.partial(torch.nn.GroupNorm, 32)
    body = resnet18(weights=None, norm_layer=gn)
    backbone = _resnet_fpn_extractor(body, 5, norm_layer=gn)
    return FasterRCNN(backbone, num_classes=num_classes, min_size=min_size, max_size=max_size, box_score_thresh=0.05)


# ---------------------------------------------------------------- evaluation (quick figure)


def box_iou(a, b):
    """IoU without the +1 of old VOC code: areas (x2-x1)(y2-y1)."""
    return torchvision.ops.box_iou(a, b)


def voc_ap(recall, precision):
    """VOC 2010+ all-point interpolated AP."""
    mrec = [0.0] + recall + [1.0]
    mpre = [0.0] + precision + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1) if mrec[i + 1] != mrec[i])


def quick_ap(records, preds, label, iou_thresh):
    """AP of one class: detections sorted by score (stable), each matched to the unmatched
    ground-truth box of highest IoU >= threshold; a match to a difficult box is ignored."""
    gt = {}
    npos = 0
    for r in records:
        m = r["labels"] == label
        gt[r["id"]] = {"boxes": r["boxes"][m], "difficult": r["difficult"][m], "used": [False] * int(m.sum())}
        npos += int((~r["difficult"][m]).sum())
    dets = []
    for r in records:
        p = preds[r["id"]]
        m = p["labels"] == label
        for s, b in zip(p["scores"][m].tolist(), p["boxes"][m]):
            dets.append((s, r["id"], b))
    dets.sort(key=lambda d: -d[0])
    tp, fp = [], []
    for _, i, b in dets:
        g = gt[i]
        if len(g["boxes"]) == 0:
            tp.append(0); fp.append(1)
            continue
        ious = box_iou(b[None], g["boxes"])[0]
        best = int(ious.argmax())
        if float(ious[best]) >= iou_thresh:
            if bool(g["difficult"][best]):
                continue
            if not g["used"][best]:
                g["used"][best] = True
                tp.append(1); fp.append(0)
            else:
                tp.append(0); fp.append(1)
        else:
            tp.append(0); fp.append(1)
    if npos == 0:
        return float("nan")
    ctp = cfp = 0
    recall, precision = [], []
    for t, f in zip(tp, fp):
        ctp += t; cfp += f
        recall.append(ctp / npos)
        precision.append(ctp / max(ctp + cfp, 1e-12))
    return voc_ap(recall, precision)


def channel_means(img_u8, box):
    """Mean of each channel inside the box, pixels whose centre lies inside (boxPixels in src/infer/predict-means.ts)."""
    _, H, W = img_u8.shape
    x0 = max(0, min(W - 1, math.floor(box[0])))
    y0 = max(0, min(H - 1, math.floor(box[1])))
    x1 = max(x0 + 1, min(W, math.ceil(box[2])))
    y1 = max(y0 + 1, min(H, math.ceil(box[3])))
    return img_u8[:, y0:y1, x0:x1].double().mean(dim=(1, 2)).tolist()


def write_predictions_json(path, doc):
    """predictions.json as `hpa-detect predict` lays it out (src/infer/predict-outputs.ts,
    predictionsJsonChunks): the run's fields indented, one line per image; written atomically."""
    lines = []
    for k, v in doc.items():
        key = json.dumps(k)
        if not isinstance(v, list):
            lines.append(f" {key}: {json.dumps(v)}")
        elif not v:
            lines.append(f" {key}: []")
        else:
            lines.append(f" {key}: [\n" + ",\n".join("  " + json.dumps(x, separators=(",", ":")) for x in v) + "\n ]")
    with open(path + ".tmp", "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")
    os.replace(path + ".tmp", path)


# ---------------------------------------------------------------- main


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "bccd"),
                   help="BCCD in VOC layout: Annotations/, JPEGImages/, train.txt, val.txt (default ../shared/data/bccd)")
    p.add_argument("--minutes", type=float, default=30.0, help="wall-clock training budget, checked after every iteration (default 30)")
    p.add_argument("--out", default="bccd-torchvision", help="output folder (default bccd-torchvision)")
    p.add_argument("--seed", type=int, default=1, help="seeds initialisation, RPN/RoI sampling, shuffling and flips (default 1)")
    p.add_argument("--max-iters", type=int, default=0, help="stop after this many iterations too (0: budget only; for smoke tests)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--max-val-images", type=int, default=0, help="evaluate only the first N val images (0: all; for smoke tests)")
    p.add_argument("--train-split", default="train")
    p.add_argument("--val-split", default="val")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup-iters", type=int, default=100, help="linear warm-up length (default 100)")
    p.add_argument("--warmup-factor", type=float, default=0.001, help="warm-up start factor (default 0.001)")
    p.add_argument("--budget-lr-drops", default="0.7,0.9",
                   help="LR x0.1 at these fractions of the iterations the budget is expected to allow (default 0.7,0.9; "
                        "'none': constant LR after warm-up)")
    p.add_argument("--hflip", type=float, default=0.5, help="horizontal flip probability (default 0.5)")
    p.add_argument("--vflip", type=float, default=0.0, help="vertical flip probability (default 0)")
    p.add_argument("--clip-grad-norm", type=float, default=0.0, help="clip the global gradient norm (0: off, the default)")
    p.add_argument("--min-size", type=int, default=480)
    p.add_argument("--max-size", type=int, default=640)
    p.add_argument("--score-thresh", type=float, default=0.05, help="box_score_thresh at evaluation (default 0.05)")
    p.add_argument("--save-model", action="store_true", help="also write model.pth (state_dict, about 110 MB)")
    p.add_argument("--allow-slow-blas", action="store_true", help="run even if torch uses the reference BLAS")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    libs = blas_libraries()
    kind = blas_kind(libs)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, threads {torch.get_num_threads()}")
    print("torch.__config__.show():")
    print(torch.__config__.show().rstrip())
    print(f"BLAS in use: {kind} ({', '.join(libs) or 'no BLAS library mapped'})")
    if kind == "reference" and not args.allow_slow_blas:
        sys.exit("refusing to run: torch is using the reference (netlib) BLAS, several times slower than OpenBLAS; "
                 "its timings and the iterations it fits in the budget would not be representative. Install "
                 "libopenblas0-pthread (`apt-get install libopenblas0-pthread`, it becomes the libblas.so.3 "
                 "alternative) or pass --allow-slow-blas.")

    os.makedirs(args.out, exist_ok=True)
    train, classes, train_drop = load_split(args.data, args.train_split)
    val, _, val_drop = load_split(args.data, args.val_split, classes)
    if args.max_val_images:
        val = val[:args.max_val_images]
    print(f"classes (label 1..{len(classes)}, sorted as ClassMap.fromAnnotations): " + ", ".join(f"{k + 1} {c}" for k, c in enumerate(classes)))
    for name, recs, drop in (("train", train, train_drop), ("val", val, val_drop)):
        counts = {c: int(sum(int((r["labels"] == k + 1).sum()) for r in recs)) for k, c in enumerate(classes)}
        ndiff = sum(int(r["difficult"].sum()) for r in recs)
        print(f"{name}: {len(recs)} images, boxes {counts}, difficult {ndiff}, clipped {drop['clipped']}, "
              f"degenerate dropped {len(drop['degenerate'])}" + (f": {'; '.join(drop['degenerate'])}" if drop["degenerate"] else ""))

    torch.manual_seed(args.seed)
    model = build_model(len(classes) + 1, args.min_size, args.max_size)
    nparams = sum(t.numel() for t in model.parameters() if t.requires_grad)
    print(f"model: Faster R-CNN ResNet-18 FPN GroupNorm(32) (backbone + FPN), {nparams} trainable parameters, "
          f"min_size {args.min_size}, max_size {args.max_size}")
    params = [t for t in model.parameters() if t.requires_grad]
    optimizer = torch.optim.SGD(params, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    warm = max(1, args.warmup_iters)
    # Exact fractions: floor(0.7 * 70) in floats is 48, not 49 (our side computes it in integers too).
    fractions = [] if args.budget_lr_drops == "none" else [fractions_module.Fraction(f) for f in args.budget_lr_drops.split(",")]
    if any(not 0 < f <= 1 for f in fractions) or fractions != sorted(fractions):
        sys.exit(f"--budget-lr-drops must be increasing fractions in (0, 1] or 'none', got {args.budget_lr_drops}")
    milestones = [math.inf] * len(fractions)

    shuffle_rng = random.Random(args.seed)
    augment_rng = random.Random(args.seed + 1)
    steps_per_epoch = len(train) // args.batch
    if steps_per_epoch == 0:
        sys.exit(f"batch {args.batch} is larger than the training set ({len(train)} images)")
    budget_s = args.minutes * 60
    log_path = os.path.join(args.out, "train_log.csv")
    log_file = open(log_path, "w", newline="")
    log = csv.writer(log_file)
    log.writerow(["iter", "epoch", "lr", "loss", *LOSS_KEYS, "iter_s", "images_per_s", "elapsed_s"])
    print(f"training: batch {args.batch}, {steps_per_epoch} iterations per epoch (last partial batch dropped), "
          f"SGD lr {args.lr} momentum {args.momentum} wd {args.weight_decay}, warm-up {args.warmup_factor} over {warm} iters, "
          f"LR x0.1 at {args.budget_lr_drops} of the budget's iterations, "
          f"hflip {args.hflip}, vflip {args.vflip}, clip {args.clip_grad_norm or 'off'}, budget {args.minutes} min"
          + (f", at most {args.max_iters} iters" if args.max_iters else ""))

    model.train()
    it, images_seen, order, stop_reason = 0, 0, [], "budget"
    start = time.perf_counter()
    while True:
        if it % steps_per_epoch == 0:
            order = list(range(len(train)))
            shuffle_rng.shuffle(order)
        k = it % steps_per_epoch
        batch_idx = order[k * args.batch:(k + 1) * args.batch]
        t0 = time.perf_counter()
        images, targets = zip(*(training_sample(train[i], augment_rng, args.hflip, args.vflip) for i in batch_idx))
        if it > 1 and fractions:
            now = time.perf_counter()
            expected = it + math.floor(max(0.0, budget_s - (now - start)) / ((now - first_done) / (it - 1)))
            moved = [m if m <= it else max(it, math.floor(f * expected)) for m, f in zip(milestones, fractions)]
            drops = sum(m == it for m in moved)  # a drop takes effect at this iteration (reached ones stay below it)
            if drops:
                print(f"iter {it + 1}: LR x{0.1 ** drops:g} (drop {sum(m <= it for m in moved)} of {len(fractions)}; "
                      f"about {expected} iterations fit the budget)", flush=True)
            milestones = moved
        lr = args.lr * (args.warmup_factor + (1 - args.warmup_factor) * min(it, warm) / warm) * 0.1 ** bisect.bisect_right(milestones, it)
        for group in optimizer.param_groups:
            group["lr"] = lr
        losses = model(list(images), list(targets))
        loss = sum(losses[key] for key in LOSS_KEYS)
        if not math.isfinite(loss.item()):
            stop_reason = f"non-finite loss at iteration {it}"
            print(f"stopping: {stop_reason}: " + ", ".join(f"{key} {losses[key].item():.4f}" for key in LOSS_KEYS))
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if args.clip_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, args.clip_grad_norm)
        optimizer.step()
        now = time.perf_counter()
        it += 1
        if it == 1:
            first_done = now  # the pace is measured from the second iteration on (the first one warms up)
        images_seen += len(batch_idx)
        iter_s, elapsed = now - t0, now - start
        vals = [losses[key].item() for key in LOSS_KEYS]
        log.writerow([it, (it - 1) // steps_per_epoch, f"{lr:.6g}", f"{loss.item():.6f}",
                      *(f"{v:.6f}" for v in vals), f"{iter_s:.3f}", f"{len(batch_idx) / iter_s:.3f}", f"{elapsed:.1f}"])
        log_file.flush()
        if it <= 5 or it % 10 == 0:
            print(f"iter {it:4d} ep {(it - 1) // steps_per_epoch} lr {lr:.5f} loss {loss.item():.4f} "
                  + " ".join(f"{key[5:]} {v:.4f}" for key, v in zip(LOSS_KEYS, vals))
                  + f" | {iter_s:.2f} s/it {len(batch_idx) / iter_s:.2f} img/s | {elapsed / 60:.1f} min", flush=True)
        if elapsed >= budget_s:
            break
        if args.max_iters and it >= args.max_iters:
            stop_reason = f"--max-iters {args.max_iters}"
            break
    train_s = time.perf_counter() - start
    log_file.close()
    print(f"stopped ({stop_reason}) after {it} iterations, {images_seen} images ({images_seen / len(train):.2f} epochs) "
          f"in {train_s:.1f} s: {train_s / max(it, 1):.2f} s/iteration, {images_seen / train_s:.2f} images/s")

    if args.save_model:
        torch.save(model.state_dict(), os.path.join(args.out, "model.pth"))

    # Evaluation (not counted in the budget).
    model.eval()
    model.roi_heads.score_thresh = args.score_thresh
    preds, images_json = {}, []
    t_eval = time.perf_counter()
    with torch.no_grad():
        for n, rec in enumerate(val):
            img_u8 = load_image(rec["image"])
            out = model([img_u8.float().div(255)])[0]
            preds[rec["id"]] = out
            dets = []
            for b, s, l in zip(out["boxes"].tolist(), out["scores"].tolist(), out["labels"].tolist()):
                means = channel_means(img_u8, b)
                dets.append({"label": int(l), "className": classes[int(l) - 1], "score": float(s),
                             "box": [float(v) for v in b], "means": dict(zip(("red", "green", "blue"), means))})
            images_json.append({"image": rec["image"], "name": rec["id"], "source": "image", "width": int(img_u8.shape[2]),
                                "height": int(img_u8.shape[1]), "channels": ["red", "green", "blue"], "bitDepth": 8, "detections": dets})
            if (n + 1) % 20 == 0:
                print(f"eval {n + 1}/{len(val)}", flush=True)
    eval_s = time.perf_counter() - t_eval
    pred_path = os.path.join(args.out, "predictions.json")
    doc = {"format": "hpa-detect/predictions", "version": 1, "producer": "scripts/bccd_torchvision_baseline.py",
           "torch": torch.__version__, "torchvision": torchvision.__version__, "provider": "torch-cpu", "preset": PRESET_NAME,
           "scoreThreshold": args.score_thresh, "classNames": classes, "images": images_json, "failures": []}
    write_predictions_json(pred_path, doc)

    ap50 = {c: quick_ap(val, preds, k + 1, 0.5) for k, c in enumerate(classes)}
    thresholds = [0.5 + 0.05 * t for t in range(10)]
    ap_coco = {c: sum(quick_ap(val, preds, k + 1, t) for t in thresholds) / len(thresholds) for k, c in enumerate(classes)}
    map50 = sum(ap50.values()) / len(ap50)
    map5095 = sum(ap_coco.values()) / len(ap_coco)
    print(f"evaluated {len(val)} val images in {eval_s:.1f} s ({eval_s / len(val):.2f} s/image); predictions: {pred_path}")
    print("script's own quick figure (VOC all-point AP, IoU without +1, difficult ignored; the comparison uses hpa-detect evaluate):")
    for c in classes:
        print(f"  {c:10s} AP@0.5 {ap50[c]:.4f}   AP@[.5:.95] {ap_coco[c]:.4f}")
    print(f"  quick mAP@0.5 {map50:.4f}   quick mAP@[.5:.95] {map5095:.4f} (mean of VOC all-point AP at IoU .50:.05:.95)")

    summary = {
        "preset": PRESET_NAME, "torch": torch.__version__, "torchvision": torchvision.__version__,
        "blas": kind, "blasLibraries": libs, "threads": torch.get_num_threads(),
        "classes": classes, "trainImages": len(train), "valImages": len(val),
        "degenerateDropped": {"train": train_drop["degenerate"], "val": val_drop["degenerate"]},
        "settings": {k: v for k, v in vars(args).items()},
        "iterations": it, "imagesSeen": images_seen, "epochs": images_seen / len(train), "stopReason": stop_reason,
        "lrDropsAtIteration": [m + 1 for m in milestones if m < it],
        "trainSeconds": train_s, "secondsPerIteration": train_s / max(it, 1), "evalSeconds": eval_s,
        "quick": {"note": "script's own VOC all-point AP, IoU without +1; not the reported evaluator",
                  "ap50": ap50, "ap50to95": ap_coco, "map50": map50, "map50to95": map5095},
    }
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
