#!/usr/bin/python3
"""Learning rates from torch.optim.lr_scheduler (torch 1.13) for the schedules of src/train/schedule.ts.

  /usr/bin/python3 scripts/make_schedule_fixtures.py > test/fixtures/train/schedules.json

Each case holds our JSON schedule config, the base lr and the lr torch's scheduler objects give after
0, 1, 2, ... calls of scheduler.step() (read from the optimizer's param group, as a training loop sees it).
The 'torchvision-detection' case replays references/detection/train.py + engine.py: a per-iteration
LinearLR warm-up during epoch 0 (dropped afterwards) and MultiStepLR stepped once per epoch.
"""
import json
import sys
import warnings

import torch
from torch.optim import lr_scheduler as S

warnings.filterwarnings('ignore')


def make(opt, c):
    k = c['kind']
    if k == 'constant':
        return S.LambdaLR(opt, lambda _: 1.0)
    if k == 'linear':
        return S.LinearLR(opt, start_factor=c['startFactor'], end_factor=c.get('endFactor', 1.0), total_iters=c['totalIters'])
    if k == 'step':
        return S.StepLR(opt, step_size=c['stepSize'], gamma=c['gamma'])
    if k == 'multistep':
        return S.MultiStepLR(opt, milestones=c['milestones'], gamma=c['gamma'])
    if k == 'cosine':
        return S.CosineAnnealingLR(opt, T_max=c['tMax'], eta_min=c.get('etaMin', 0.0))
    if k == 'chain':
        return S.ChainedScheduler([make(opt, s) for s in c['schedules']])
    if k == 'sequential':
        return S.SequentialLR(opt, [make(opt, s) for s in c['schedules']], milestones=c['milestones'])
    raise ValueError(k)


def optimizer(base_lr):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)


def run(config, base_lr, steps):
    opt = optimizer(base_lr)
    sched = make(opt, config)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]['lr'])
        opt.step()
        sched.step()
    return out


def torchvision_detection(base_lr, iters_per_epoch, epochs, lr_steps, gamma):
    opt = optimizer(base_lr)
    main = S.MultiStepLR(opt, milestones=lr_steps, gamma=gamma)
    out = []
    for epoch in range(epochs):
        warm = None
        if epoch == 0:
            warm = S.LinearLR(opt, start_factor=1.0 / 1000, total_iters=min(1000, iters_per_epoch - 1))
        for _ in range(iters_per_epoch):
            out.append(opt.param_groups[0]['lr'])
            opt.step()
            if warm is not None:
                warm.step()
        main.step()
    return out


CASES = [
    ('constant', {'kind': 'constant'}, 0.02, 5),
    ('linear warm-up', {'kind': 'linear', 'startFactor': 0.001, 'totalIters': 10}, 0.02, 15),
    ('linear to 0.5', {'kind': 'linear', 'startFactor': 0.25, 'endFactor': 0.5, 'totalIters': 4}, 0.1, 8),
    ('step', {'kind': 'step', 'stepSize': 4, 'gamma': 0.5}, 0.1, 13),
    ('multistep', {'kind': 'multistep', 'milestones': [3, 7, 7], 'gamma': 0.1}, 0.02, 12),
    ('cosine', {'kind': 'cosine', 'tMax': 10, 'etaMin': 0.001}, 0.1, 25),
    ('cosine eta 0', {'kind': 'cosine', 'tMax': 7}, 0.05, 20),
    ('chain warm-up × multistep', {'kind': 'chain', 'schedules': [
        {'kind': 'linear', 'startFactor': 0.001, 'totalIters': 5}, {'kind': 'multistep', 'milestones': [8, 12], 'gamma': 0.1}]}, 0.02, 16),
    ('chain warm-up × cosine', {'kind': 'chain', 'schedules': [
        {'kind': 'linear', 'startFactor': 0.01, 'totalIters': 6}, {'kind': 'cosine', 'tMax': 20}]}, 0.1, 24),
    ('sequential warm-up → cosine', {'kind': 'sequential', 'milestones': [5], 'schedules': [
        {'kind': 'linear', 'startFactor': 0.01, 'totalIters': 5}, {'kind': 'cosine', 'tMax': 10, 'etaMin': 1e-4}]}, 0.1, 20),
    ('sequential warm-up → multistep', {'kind': 'sequential', 'milestones': [4], 'schedules': [
        {'kind': 'linear', 'startFactor': 0.1, 'totalIters': 4}, {'kind': 'multistep', 'milestones': [3, 6], 'gamma': 0.5}]}, 0.2, 14),
]


def main():
    cases = [{'name': n, 'config': c, 'baseLr': lr, 'lrs': run(c, lr, steps)} for n, c, lr, steps in CASES]
    cases.append({'name': 'torchvision-detection', 'config': None, 'baseLr': 0.02,
                  'detection': {'itersPerEpoch': 6, 'lrSteps': [2, 3], 'gamma': 0.1},
                  'lrs': torchvision_detection(0.02, 6, 4, [2, 3], 0.1)})
    json.dump({'torch': torch.__version__, 'cases': cases}, sys.stdout, indent=1)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
