#!/usr/bin/python3
"""Writes the reference fixtures for the RoIAlign, multi-scale RoIAlign and optimizer kernels.

Run with Debian's torch/torchvision (offline):  /usr/bin/python3 scripts/make_kernel_fixtures_roi_optim.py

Outputs (compact JSON; every float array is base64 of little-endian float32, exact):
  test/fixtures/kernels/roi_align.json       torchvision.ops.roi_align forward + autograd backward
  test/fixtures/kernels/roi_multiscale.json  torchvision.ops.MultiScaleRoIAlign (4 levels) fwd + bwd
  test/fixtures/kernels/optim_sgd.json       torch.optim.SGD trajectories
  test/fixtures/kernels/optim_adamw.json     torch.optim.AdamW trajectories
  test/fixtures/kernels/optim_clip.json      torch.nn.utils.clip_grad_norm_
Everything is seeded; rerunning reproduces the files byte for byte.
"""
import base64
import json
import math
import os
import sys

import numpy as np
import torch
import torchvision
from torchvision.ops import roi_align, MultiScaleRoIAlign

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'kernels')


def b64(t):
    a = np.ascontiguousarray(t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t, dtype='<f4')
    return base64.b64encode(a.tobytes()).decode('ascii')


def write(name, obj):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {path} ({os.path.getsize(path)} bytes)', file=sys.stderr)


def adversarial_rois(g, n, c, h, w, scale):
    """RoIs in image coordinates for a feature map of h x w at `scale`: random ones plus the edge cases."""
    H, W = h / scale, w / scale  # image extent
    rois = []
    for i in range(6):  # random boxes, partly outside the map
        x1 = float(torch.empty(1).uniform_(-0.2 * W, W, generator=g))
        y1 = float(torch.empty(1).uniform_(-0.2 * H, H, generator=g))
        bw = float(torch.empty(1).uniform_(0.05 * W, 0.9 * W, generator=g))
        bh = float(torch.empty(1).uniform_(0.05 * H, 0.9 * H, generator=g))
        rois.append([i % n, x1, y1, x1 + bw, y1 + bh])
    rois += [
        [0, -3 * W, -3 * H, -2 * W, -2 * H],          # entirely beyond the map (top-left)
        [1 % n, 1.5 * W, 0.2 * H, 2.5 * W, 0.8 * H],   # entirely beyond the map (right)
        [0, -0.5 * W, -0.5 * H, 1.5 * W, 1.5 * H],     # larger than the map
        [0, 0.3 * W, 0.4 * H, 0.3 * W, 0.4 * H],       # degenerate: a point
        [1 % n, 0.2 * W, 0.1 * H, 0.2 * W, 0.7 * H],   # degenerate: zero width
        [0, 0.7 * W, 0.6 * H, 0.2 * W, 0.1 * H],       # inverted
        [1 % n, 0.0, 0.0, W, H],                       # exactly the map
        [0, (w - 1) / scale, (h - 1) / scale, W, H],   # on the last row/column (border rule)
        [1 % n, -1 / scale, -1 / scale, 0.0, 0.0],     # on the -1 border
    ]
    return torch.tensor(rois, dtype=torch.float32)


def roi_fixtures():
    g = torch.Generator().manual_seed(1234)
    n, c, h, w = 2, 2, 9, 11
    out_size = (2, 3)
    groups = []
    for scale in [1.0, 0.5, 0.25, 1 / 32]:
        feats = torch.randn(n, c, h, w, generator=g)
        rois = adversarial_rois(g, n, c, h, w, scale)
        grad_out = torch.randn(rois.shape[0], c, *out_size, generator=g)
        cases = []
        for aligned in [False, True]:
            for sr in [-1, 0, 1, 2, 3]:
                x = feats.clone().requires_grad_(True)
                y = roi_align(x, rois, out_size, spatial_scale=scale, sampling_ratio=sr, aligned=aligned)
                y.backward(grad_out)
                cases.append(dict(aligned=aligned, samplingRatio=sr, output=b64(y), gradFeatures=b64(x.grad)))
        groups.append(dict(scale=scale, featureShape=[n, c, h, w], outputSize=list(out_size), features=b64(feats),
                           rois=b64(rois), gradOutput=b64(grad_out), cases=cases))

    def single(feats, rois, out_size, scale, sr, aligned, grad_out):
        x = feats.clone().requires_grad_(True)
        y = roi_align(x, rois, out_size, spatial_scale=scale, sampling_ratio=sr, aligned=aligned)
        y.backward(grad_out)
        return dict(scale=scale, featureShape=list(feats.shape), outputSize=list(out_size), features=b64(feats),
                    rois=b64(rois), gradOutput=b64(grad_out),
                    cases=[dict(aligned=aligned, samplingRatio=sr, output=b64(y), gradFeatures=b64(x.grad))])

    # Empty RoI list.
    groups.append(single(torch.randn(1, 2, 5, 5, generator=g), torch.zeros(0, 5), (7, 7), 1.0, 2, False,
                         torch.zeros(0, 2, 7, 7)))
    # A benchmark-like case: 7x7, sr 2, scale 1/4, boxes drawn as in the benchmark.
    k = 12
    xy = torch.rand(k, 2, generator=g) * 80
    wh = 8 + torch.rand(k, 2, generator=g) * 100
    rois = torch.cat([torch.zeros(k, 1), xy, xy + wh], 1)
    groups.append(single(torch.randn(1, 2, 24, 24, generator=g), rois, (7, 7), 0.25, 2, False,
                         torch.randn(k, 2, 7, 7, generator=g)))
    write('roi_align.json', dict(torchvision=torchvision.__version__, groups=groups))


def multiscale_fixtures():
    g = torch.Generator().manual_seed(99)
    image_shapes = [(64, 64), (60, 56)]
    c = 2
    sizes = [16, 8, 4, 2]  # scales 1/4 .. 1/32 -> levels 2..5
    feats = [torch.randn(2, c, s, s, generator=g) for s in sizes]
    boxes = []
    for i in range(2):
        b = []
        for _ in range(10):
            cx, cy = [float(v) for v in torch.rand(2, generator=g) * 64]
            side = float(torch.exp(torch.empty(1).uniform_(math.log(4), math.log(700), generator=g)))
            ar = float(torch.empty(1).uniform_(0.5, 2.0, generator=g))
            bw, bh = side * math.sqrt(ar), side / math.sqrt(ar)
            b.append([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
        boxes.append(b)
    # Exact level boundaries (sqrt(area) = 112, 224, 448 -> levels 3, 4, 5), zero area, inverted.
    boxes[0] += [[0, 0, 112, 112], [10, 10, 234, 234], [0, 0, 448, 448], [5, 5, 5, 30]]
    boxes[1] += [[0, 0, 111.9, 112], [20, 30, 10, 5], [40, 30, 10, 50]]
    boxes = [torch.tensor(b, dtype=torch.float32) for b in boxes]
    pooler = MultiScaleRoIAlign(['0', '1', '2', '3'], output_size=(3, 2), sampling_ratio=2)
    xs = [f.clone().requires_grad_(True) for f in feats]
    y = pooler({str(i): x for i, x in enumerate(xs)}, boxes, image_shapes)
    k = y.shape[0]
    grad_out = torch.randn(k, c, 3, 2, generator=g)
    y.backward(grad_out)
    rois = torch.cat([torch.cat([torch.full((len(b), 1), float(i)), b], 1) for i, b in enumerate(boxes)], 0)
    levels = pooler.map_levels(boxes)  # may hold garbage for NaN areas (inverted boxes)
    area = torch.cat([(b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) for b in boxes])
    levels = torch.where(area >= 0, levels, torch.full_like(levels, -1))
    write('roi_multiscale.json', dict(
        torchvision=torchvision.__version__, imageShapes=[list(s) for s in image_shapes],
        scales=pooler.scales, outputSize=[3, 2], samplingRatio=2, canonicalScale=224, canonicalLevel=4,
        levelShapes=[[2, c, s, s] for s in sizes], features=[b64(f) for f in feats], rois=b64(rois),
        levels=levels.tolist(), output=b64(y), gradOutput=b64(grad_out), gradFeatures=[b64(x.grad) for x in xs]))


def optim_fixtures():
    g = torch.Generator().manual_seed(7)
    n, steps = 37, 6  # odd length: exercises the vector-loop tails
    sgd_cfgs = [
        dict(lr=0.1),
        dict(lr=0.1, momentum=0.9),
        dict(lr=0.05, momentum=0.9, dampening=0.3),
        dict(lr=0.05, momentum=0.8, nesterov=True),
        dict(lr=0.1, momentum=0.9, weight_decay=0.01),
        dict(lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.05),
        dict(lr=0.1, weight_decay=0.1, maximize=True),
    ]
    adamw_cfgs = [
        dict(lr=1e-2),
        dict(lr=1e-2, weight_decay=0.0),
        dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        dict(lr=1e-2, amsgrad=True),
        dict(lr=5e-3, betas=(0.9, 0.95), weight_decay=0.05, amsgrad=True, maximize=True),
    ]

    def trajectory(cls, cfg):
        p0 = torch.randn(n, generator=g)
        grads = [torch.randn(n, generator=g) * (1 + 2 * (i % 3)) for i in range(steps)]
        p = torch.nn.Parameter(p0.clone())
        opt = cls([p], **cfg)
        params = []
        for gr in grads:
            p.grad = gr.clone()
            opt.step()
            params.append(b64(p.detach()))
        st = opt.state[p]
        state = {k: b64(v) for k, v in st.items() if isinstance(v, torch.Tensor) and v.numel() == n}
        return dict(options=cfg, param=b64(p0), grads=[b64(x) for x in grads], params=params, finalState=state)

    write('optim_sgd.json', dict(torch=torch.__version__, n=n,
                                  cases=[trajectory(torch.optim.SGD, c) for c in sgd_cfgs]))
    write('optim_adamw.json', dict(torch=torch.__version__, n=n,
                                    cases=[trajectory(torch.optim.AdamW, c) for c in adamw_cfgs]))

    clip = []
    for max_norm, lens, mult in [(1.0, [37, 5, 130], 1.0), (100.0, [37, 5, 130], 1.0), (0.5, [1, 1000], 3.0),
                                 (2.0, [17], 0.01)]:
        grads = [torch.randn(m, generator=g) * mult for m in lens]
        ps = [torch.nn.Parameter(torch.zeros(m)) for m in lens]
        for p, gr in zip(ps, grads):
            p.grad = gr.clone()
        total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
        clip.append(dict(maxNorm=max_norm, grads=[b64(x) for x in grads], clipped=[b64(p.grad) for p in ps],
                         totalNorm=float(total)))
    write('optim_clip.json', dict(torch=torch.__version__, cases=clip))


if __name__ == '__main__':
    roi_fixtures()
    multiscale_fixtures()
    optim_fixtures()
