#!/usr/bin/python3
"""torchvision side of scripts/bench-roi-align.ts: reads the inputs the TS bench wrote, writes
torchvision's results (roi_align / MultiScaleRoIAlign forward and autograd backward) next to them
for the equality check, prints "ready", then answers one timed call per request line
("NAME fwd" or "NAME fwd_bwd" -> elapsed ms, "NAME fwd cpu" -> this thread's CPU ms; "quit" ends), so that the bench can interleave
torchvision's repetitions with its own and both see the same machine load. torch is limited to
2 threads (its CPU roi_align is single-threaded anyway).

usage: /usr/bin/python3 scripts/bench_roi_align.py DIR   (DIR holds config.json and *.bin)
"""
import json
import os
import sys
import time

import numpy as np
import torch
from torchvision.ops import roi_align, MultiScaleRoIAlign

torch.set_num_threads(2)


def load(d, name, shape):
    return torch.from_numpy(np.fromfile(os.path.join(d, name), dtype='<f4').reshape(shape))


def time_ms(fn, clock=time.perf_counter):
    t0 = clock()
    fn()
    return (clock() - t0) * 1e3


def single_fns(feats, rois, args, grad):
    x = feats.clone().requires_grad_(True)

    def fwd():
        with torch.no_grad():
            roi_align(feats, rois, **args)

    def fwd_bwd():
        x.grad = None
        roi_align(x, rois, **args).backward(grad)

    return fwd, fwd_bwd, x


def multi_fns(pooler, feats, xs, boxes, image_shapes, grad):
    def fwd():
        with torch.no_grad():
            return pooler({str(i): f for i, f in enumerate(feats)}, boxes, image_shapes)

    def fwd_bwd():
        for x in xs:
            x.grad = None
        pooler({str(i): x for i, x in enumerate(xs)}, boxes, image_shapes).backward(grad)

    return fwd, fwd_bwd


def main():
    d = sys.argv[1]
    cfg = json.load(open(os.path.join(d, 'config.json')))
    fns = {}
    for case in cfg['single']:
        feats = load(d, case['features'], case['featureShape'])
        rois = load(d, case['rois'], [-1, 5])
        k = rois.shape[0]
        c = case['featureShape'][1]
        oh, ow = case['outputSize']
        grad = load(d, case['gradOutput'], [k, c, oh, ow])
        args = dict(output_size=(oh, ow), spatial_scale=case['scale'], sampling_ratio=case['samplingRatio'],
                    aligned=case['aligned'])
        out = roi_align(feats, rois, **args)
        out.numpy().astype('<f4').tofile(os.path.join(d, case['name'] + '.torch_fwd.bin'))
        fwd, fwd_bwd, x = single_fns(feats, rois, args, grad)
        fwd_bwd()
        x.grad.numpy().astype('<f4').tofile(os.path.join(d, case['name'] + '.torch_grad.bin'))
        fns[case['name']] = {'fwd': fwd, 'fwd_bwd': fwd_bwd}
    for case in cfg['multi']:
        feats = [load(d, f, s) for f, s in zip(case['features'], case['levelShapes'])]
        rois = load(d, case['rois'], [-1, 5])
        n = case['levelShapes'][0][0]
        boxes = [rois[rois[:, 0] == i, 1:] for i in range(n)]
        order = torch.cat([torch.nonzero(rois[:, 0] == i)[:, 0] for i in range(n)])
        image_shapes = [tuple(s) for s in case['imageShapes']]
        pooler = MultiScaleRoIAlign([str(i) for i in range(len(feats))], output_size=tuple(case['outputSize']),
                                    sampling_ratio=case['samplingRatio'])
        xs = [f.clone().requires_grad_(True) for f in feats]
        k = rois.shape[0]
        c = feats[0].shape[1]
        grad = load(d, case['gradOutput'], [k, c] + case['outputSize'])[order]

        fwd, fwd_bwd = multi_fns(pooler, feats, xs, boxes, image_shapes, grad)
        out = torch.empty(k, c, *case['outputSize'])
        out[order] = fwd()
        out.numpy().astype('<f4').tofile(os.path.join(d, case['name'] + '.torch_fwd.bin'))
        fwd_bwd()
        for i, x in enumerate(xs):
            x.grad.numpy().astype('<f4').tofile(os.path.join(d, f"{case['name']}.torch_grad{i}.bin"))
        fns[case['name']] = {'fwd': fwd, 'fwd_bwd': fwd_bwd}
    print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] == 'quit':
            break
        # "NAME MODE cpu": CPU time of this thread (torch's roi_align and its CPU autograd backward
        # run on the calling thread), less sensitive to other jobs on the machine than wall time.
        clock = time.thread_time if len(parts) > 2 and parts[2] == 'cpu' else time.perf_counter
        print(f'{time_ms(fns[parts[0]][parts[1]], clock):.4f}', flush=True)


if __name__ == '__main__':
    main()
