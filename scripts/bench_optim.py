#!/usr/bin/python3
"""torch side of scripts/bench-optim.ts: reads param.bin and grad.bin (float32) from DIR, runs one
torch.optim.AdamW step for the equality check (result written to DIR/torch_param.bin), then times
AdamW steps (foreach=True and the default single-tensor loop) with torch limited to 2 threads.

usage: /usr/bin/python3 scripts/bench_optim.py DIR REPS   -> prints JSON timings (ms, medians)
"""
import json
import os
import sys
import time

import numpy as np
import torch

torch.set_num_threads(2)


def main():
    d, reps = sys.argv[1], int(sys.argv[2])
    cfg = json.load(open(os.path.join(d, 'config.json')))
    p0 = torch.from_numpy(np.fromfile(os.path.join(d, 'param.bin'), dtype='<f4'))
    g = torch.from_numpy(np.fromfile(os.path.join(d, 'grad.bin'), dtype='<f4'))
    res = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'n': int(p0.numel())}
    for foreach in [False, True]:
        p = torch.nn.Parameter(p0.clone())
        p.grad = g
        opt = torch.optim.AdamW([p], lr=cfg['lr'], weight_decay=cfg['weightDecay'], foreach=foreach)
        opt.step()
        if not foreach:
            p.detach().numpy().astype('<f4').tofile(os.path.join(d, 'torch_param.bin'))
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            opt.step()
            ts.append((time.perf_counter() - t0) * 1e3)
        res['foreach_ms' if foreach else 'single_tensor_ms'] = float(np.median(ts))
        del opt, p
    print(json.dumps(res))


if __name__ == '__main__':
    main()
