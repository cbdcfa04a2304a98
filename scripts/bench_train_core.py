#!/usr/bin/python3
"""torch side of scripts/bench-train-core.ts: torchvision's resnet18 with GroupNorm(32) loaded with
our weights (DIR/weights.safetensors), one input (DIR/input.safetensors: images [1,3,S,S] F32,
labels [1] I64) and SGD (lr, momentum from DIR/config.json), config.json's threads (default 2).

It first writes the loss and the gradients of the given weights to DIR/torch_grads.safetensors
and those of a float64 copy of the model to DIR/torch_grads64.safetensors (the reference that
shows how far float32 rounding alone moves each gradient), prints the BLAS it runs on, then "ready", and answers one timed training
step per request line "step" with a JSON line {"fwd_ms", "bwd_ms", "opt_ms", "cpu_ms"} so that the
TS bench interleaves torch's repetitions with its own (both see the same machine load); "rss"
answers {"peak_rss_mb"}; "quit" ends.

usage: /usr/bin/python3 scripts/bench_train_core.py DIR
"""
import copy
import json
import os
import resource
import struct
import sys
import time

import torch
import torch.nn as nn
import torchvision

torch.set_num_threads(2)

DTYPES = {'F32': torch.float32, 'I64': torch.int64}
SIZES = {'F32': 4, 'I64': 8}


def read_safetensors(path):
    """Minimal safetensors reader (struct + json), so the safetensors package is not needed."""
    data = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        b, end = e['data_offsets']
        t = torch.frombuffer(bytearray(data[base + b:base + end]), dtype=DTYPES[e['dtype']])
        out[name] = t.reshape(e['shape'])
    return out


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        t = t.detach().contiguous()
        b = t.numpy().tobytes()
        header[name] = {'dtype': 'F64' if t.dtype == torch.float64 else 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def blas_info():
    """The BLAS line of torch's build config and the BLAS library actually mapped into this process."""
    cfg = [f for f in torch.__config__.show().replace('\n', ',').split(',') if 'BLAS' in f or 'LAPACK' in f]
    cfg = [f.strip().replace('- Build settings: ', '') for f in cfg]
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))  # make sure the BLAS library is loaded
    libs = sorted({line.split()[-1] for line in open('/proc/self/maps') if 'blas' in line.lower() and '/' in line})
    return {'config': cfg, 'loaded': libs, 'openblas_pthread': any('openblas-pthread' in p for p in libs)}


def main():
    d = sys.argv[1]
    cfg = json.load(open(os.path.join(d, 'config.json')))
    torch.set_num_threads(int(cfg.get('threads', 2)))
    model = torchvision.models.resnet18(num_classes=cfg['numClasses'], norm_layer=lambda c: nn.GroupNorm(32, c))
    state = read_safetensors(os.path.join(d, 'weights.safetensors'))
    model.load_state_dict(state, strict=True)
    model.train()
    inp = read_safetensors(os.path.join(d, 'input.safetensors'))
    images, labels = inp['images'], inp['labels']
    loss_fn = nn.CrossEntropyLoss()

    model64 = copy.deepcopy(model).double()
    for m, x, out in ((model64, images.double(), 'torch_grads64'), (model, images, 'torch_grads')):
        loss = loss_fn(m(x), labels)
        loss.backward()
        grads = {name: p.grad for name, p in m.named_parameters()}
        grads['loss'] = loss.detach().reshape(1)
        write_safetensors(os.path.join(d, out + '.safetensors'), grads)
    del model64

    opt = torch.optim.SGD(model.parameters(), lr=cfg['lr'], momentum=cfg['momentum'])
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'blas': blas_info()}), flush=True)
    print('ready', flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == 'quit':
            break
        if cmd == 'rss':
            print(json.dumps({'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
            continue
        c0 = time.process_time()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        print(json.dumps({'fwd_ms': (t1 - t0) * 1e3, 'bwd_ms': (t2 - t1) * 1e3, 'opt_ms': (t3 - t2) * 1e3,
                          'cpu_ms': (time.process_time() - c0) * 1e3}), flush=True)


if __name__ == '__main__':
    main()
