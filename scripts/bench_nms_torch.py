#!/usr/bin/env python3
"""torchvision side of `npm run bench:nms` (scripts/bench-nms.ts): times torchvision.ops.nms on
the exact inputs the TypeScript benchmark wrote, with torch limited to 2 threads.

usage: /usr/bin/python3 scripts/bench_nms_torch.py CASES.json
CASES.json: {"reps": R, "warmup": W, "cases": [{"name": ..., "file": ..., "n": N, "iou": T}]}
Each file holds N*4 float32 boxes (x1,y1,x2,y2) followed by N float32 scores (little endian).
Prints one JSON object: {"torch": ver, "torchvision": ver, "threads": 2,
  "results": [{"name", "times_ms": [...], "median_ms", "kept": [...]}]}
"""
import json
import sys
import time

import numpy as np
import torch
import torchvision


def main() -> None:
    torch.set_num_threads(2)
    spec = json.load(open(sys.argv[1]))
    out = []
    for case in spec["cases"]:
        n = case["n"]
        raw = np.fromfile(case["file"], dtype="<f4")
        boxes = torch.from_numpy(raw[: 4 * n].reshape(n, 4).copy())
        scores = torch.from_numpy(raw[4 * n: 5 * n].copy())
        for _ in range(spec["warmup"]):
            torchvision.ops.nms(boxes, scores, case["iou"])
        times = []
        keep = None
        for _ in range(spec["reps"]):
            t0 = time.perf_counter()
            keep = torchvision.ops.nms(boxes, scores, case["iou"])
            times.append((time.perf_counter() - t0) * 1e3)
        out.append({"name": case["name"], "times_ms": times,
                    "median_ms": float(np.median(times)), "kept": keep.tolist()})
    json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__,
               "threads": torch.get_num_threads(), "results": out}, sys.stdout)


if __name__ == "__main__":
    main()
