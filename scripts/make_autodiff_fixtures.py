#!/usr/bin/python3
"""Torch-autograd reference for the autodiff parity test (test/autodiff-torch.test.ts).

Builds a small network from the ops ResNet-FPN uses (conv, frozen batch norm, GroupNorm, relu,
max pool, residual add, nearest upsampling, linear, softmax cross-entropy with ignore index and
class weights, smooth L1) with seeded weights, runs it in float64 and writes the weights, inputs,
loss and the gradients of every trainable parameter to test/fixtures/graph/resnet_fpn_tiny.json.

Run with Debian's torch, offline:  /usr/bin/python3 scripts/make_autodiff_fixtures.py
The TypeScript test mirrors the architecture below; keep the two in step.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'graph', 'resnet_fpn_tiny.json')


def frozen_bn(x, p, prefix, eps=1e-5):
    """torchvision.ops.FrozenBatchNorm2d."""
    scale = p[prefix + '.weight'] * (p[prefix + '.running_var'] + eps).rsqrt()
    bias = p[prefix + '.bias'] - p[prefix + '.running_mean'] * scale
    return x * scale.reshape(1, -1, 1, 1) + bias.reshape(1, -1, 1, 1)


def forward(p, x, labels, box_targets, class_weights):
    y = F.conv2d(x, p['stem.conv1.weight'], padding=1)
    y = F.relu(frozen_bn(y, p, 'stem.bn1'))
    c1 = F.max_pool2d(y, 3, stride=2, padding=1)
    y = F.conv2d(c1, p['layer1.0.conv1.weight'], padding=1)
    y = F.relu(F.group_norm(y, 4, p['layer1.0.gn1.weight'], p['layer1.0.gn1.bias'], eps=1e-5))
    y = F.conv2d(y, p['layer1.0.conv2.weight'], padding=1)
    y = F.group_norm(y, 4, p['layer1.0.gn2.weight'], p['layer1.0.gn2.bias'], eps=1e-5)
    c2 = F.relu(y + c1)
    c3 = F.relu(F.conv2d(c2, p['layer2.0.conv1.weight'], p['layer2.0.conv1.bias'], stride=2, padding=1))
    inner3 = F.conv2d(c3, p['fpn.inner_blocks.1.weight'], p['fpn.inner_blocks.1.bias'])
    inner2 = F.conv2d(c2, p['fpn.inner_blocks.0.weight'], p['fpn.inner_blocks.0.bias'])
    top_down = inner2 + F.interpolate(inner3, scale_factor=2, mode='nearest')
    p2 = F.conv2d(top_down, p['fpn.layer_blocks.0.weight'], p['fpn.layer_blocks.0.bias'], padding=1)
    pooled = torch.flatten(F.adaptive_avg_pool2d(p2, 1), 1)
    logits = F.linear(pooled, p['head.cls_score.weight'], p['head.cls_score.bias'])
    boxes = F.linear(pooled, p['head.bbox_pred.weight'], p['head.bbox_pred.bias'])
    ce = F.cross_entropy(logits, labels, weight=class_weights, ignore_index=-100)
    box = F.smooth_l1_loss(boxes, box_targets, beta=1.0 / 9)
    return ce + box


def main():
    torch.manual_seed(1234)
    dt = torch.float64
    shapes = {
        'stem.conv1.weight': (8, 3, 3, 3),
        'stem.bn1.weight': (8,), 'stem.bn1.bias': (8,), 'stem.bn1.running_mean': (8,), 'stem.bn1.running_var': (8,),
        'layer1.0.conv1.weight': (8, 8, 3, 3), 'layer1.0.gn1.weight': (8,), 'layer1.0.gn1.bias': (8,),
        'layer1.0.conv2.weight': (8, 8, 3, 3), 'layer1.0.gn2.weight': (8,), 'layer1.0.gn2.bias': (8,),
        'layer2.0.conv1.weight': (8, 8, 3, 3), 'layer2.0.conv1.bias': (8,),
        'fpn.inner_blocks.0.weight': (8, 8, 1, 1), 'fpn.inner_blocks.0.bias': (8,),
        'fpn.inner_blocks.1.weight': (8, 8, 1, 1), 'fpn.inner_blocks.1.bias': (8,),
        'fpn.layer_blocks.0.weight': (8, 8, 3, 3), 'fpn.layer_blocks.0.bias': (8,),
        'head.cls_score.weight': (5, 8), 'head.cls_score.bias': (5,),
        'head.bbox_pred.weight': (4, 8), 'head.bbox_pred.bias': (4,),
    }
    frozen = {k for k in shapes if k.startswith('stem.bn1.')}
    params = {}
    for name, shape in shapes.items():
        t = torch.randn(*shape, dtype=dt)
        if name.endswith('running_var'):
            t = t.abs() + 0.5
        elif name.endswith('.weight') and len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            t = t * (2.0 / fan_in) ** 0.5
        elif 'gn' in name and name.endswith('.weight'):
            t = 1.0 + 0.1 * t
        params[name] = t.requires_grad_(name not in frozen)
    x = torch.randn(4, 3, 12, 12, dtype=dt)
    labels = torch.tensor([1, -100, 3, 0], dtype=torch.int64)
    box_targets = 0.3 * torch.randn(4, 4, dtype=dt)
    class_weights = torch.tensor([1.0, 0.5, 2.0, 1.5, 0.8], dtype=dt)
    loss = forward(params, x, labels, box_targets, class_weights)
    loss.backward()

    def t2j(t):
        return {'dims': list(t.shape), 'data': [float(v) for v in t.detach().reshape(-1).tolist()]}

    fixture = {
        'about': 'torch %s float64 autograd reference; made by scripts/make_autodiff_fixtures.py' % torch.__version__,
        'input': t2j(x),
        'labels': labels.tolist(),
        'box_targets': t2j(box_targets),
        'class_weights': class_weights.tolist(),
        'params': {k: t2j(v) for k, v in params.items()},
        'trainable': [k for k in shapes if k not in frozen],
        'loss': float(loss),
        'grads': {k: t2j(v.grad) for k, v in params.items() if k not in frozen},
    }
    with open(OUT, 'w') as f:
        json.dump(fixture, f, separators=(',', ':'))
    print('wrote %s (loss %.6f)' % (OUT, float(loss)), file=sys.stderr)


if __name__ == '__main__':
    main()
