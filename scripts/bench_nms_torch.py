#!/usr/bin/env python3
"""torchvision side of `npm run bench:nms` (scripts/bench-nms.ts): times torchvision.ops.nms on
the exact inputs the TypeScript benchmark wrote, with torch limited to 2 threads.

usage: /usr/bin/python3 scripts/bench_nms_torch.py CASES.json
CASES.json: {"cases": [{"name": ..., "file": ..., "n": N, "iou": T}]}; each file holds N*4
float32 boxes (x1,y1,x2,y2) followed by N float32 scores (little endian).
Line protocol on stdin/stdout, so that the benchmark can interleave both sides' repetitions
(the same machine load for both): prints "ready" (with versions) once, then answers
  "run I"   -> "WALL CPU": wall-clock and process CPU milliseconds of one torchvision.ops.nms
               call on case I (CPU time is what a busy machine distorts least)
  "keep I"  -> the kept indices of case I as a JSON list
  "quit"    -> exits
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
    cases = []
    for case in spec["cases"]:
        n = case["n"]
        raw = np.fromfile(case["file"], dtype="<f4")
        boxes = torch.from_numpy(raw[: 4 * n].reshape(n, 4).copy())
        scores = torch.from_numpy(raw[4 * n: 5 * n].copy())
        cases.append((boxes, scores, float(case["iou"])))
    print(json.dumps({"ready": True, "torch": torch.__version__,
                      "torchvision": torchvision.__version__,
                      "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        cmd, *rest = line.split()
        if cmd == "quit":
            break
        boxes, scores, iou = cases[int(rest[0])]
        if cmd == "run":
            c0 = time.process_time()
            t0 = time.perf_counter()
            torchvision.ops.nms(boxes, scores, iou)
            t1 = time.perf_counter()
            c1 = time.process_time()
            print(f"{(t1 - t0) * 1e3:.6f} {(c1 - c0) * 1e3:.6f}", flush=True)
        elif cmd == "keep":
            print(json.dumps(torchvision.ops.nms(boxes, scores, iou).tolist()), flush=True)


if __name__ == "__main__":
    main()
