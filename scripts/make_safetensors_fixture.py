#!/usr/bin/python3
"""Independent safetensors reader/writer (struct + json + torch, no `safetensors` package) for interop tests.

  make_safetensors_fixture.py write OUT_DIR
      Writes OUT_DIR/python-aligned.safetensors (the layout the reference writer produces: tensors by
      descending dtype alignment then name, header padded with spaces to 8 bytes),
      OUT_DIR/python-unaligned.safetensors (same tensors in name order, header unpadded, so typed
      views are misaligned), and OUT_DIR/python-expected.json (dtype, shape, raw bytes as hex and
      values as torch sees them, per tensor).
  make_safetensors_fixture.py torch-adamw-step CHECKPOINT LR
      Loads an hpa-detect checkpoint (docs/checkpoint-format.md) into torch.optim.AdamW (params from
      param/<name>, state from optim/<name>/{exp_avg,exp_avg_sq,step}, hyper-parameters from the
      metadata document), takes one step at learning rate LR with the gradient
      g[i] = ((37 i) mod 17 - 8) / 8 for every parameter, and prints {name: hex of the new float32 bytes}.
  make_safetensors_fixture.py check FILE
      Reads FILE strictly per the spec, checks the reference writer's layout (padding, order), builds
      torch tensors from the bytes and prints {"metadata", "order", "tensors": {name: {dtype, shape,
      values}}} as JSON on stdout. Exits 1 with a message on any violation.

Values are JSON-safe: non-finite floats as "nan"/"inf"/"-inf", 64-bit integers as decimal strings.
"""
import json
import math
import os
import struct
import sys

import torch

from export_torchvision import load_safetensors  # the plain reader (no layout checks)

# (torch dtype, bytes per element) per safetensors dtype; rank = position in the reference Dtype enum.
DTYPES = {
    'BOOL': (torch.bool, 1), 'U8': (torch.uint8, 1), 'I8': (torch.int8, 1), 'I16': (torch.int16, 2),
    'F16': (torch.float16, 2), 'BF16': (torch.bfloat16, 2), 'I32': (torch.int32, 4),
    'F32': (torch.float32, 4), 'F64': (torch.float64, 8), 'I64': (torch.int64, 8),
}
RANK = {'BOOL': 0, 'U8': 1, 'I8': 2, 'I16': 5, 'U16': 6, 'F16': 7, 'BF16': 8, 'I32': 9, 'U32': 10,
        'F32': 11, 'F64': 12, 'I64': 13, 'U64': 14}
MAX_HEADER = 100_000_000


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def tensor_bytes(t):
    """Little-endian row-major bytes of a CPU tensor (numpy has no bfloat16: go through int16)."""
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    b = t.numpy().tobytes()
    assert sys.byteorder == 'little'
    return b


def json_values(t):
    flat = t.reshape(-1)
    if t.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        out = []
        for v in flat.double().tolist():
            if math.isnan(v):
                out.append('nan')
            elif math.isinf(v):
                out.append('inf' if v > 0 else '-inf')
            else:
                out.append(v)
        return out
    if t.dtype == torch.int64:
        return [str(v) for v in flat.tolist()]
    if t.dtype == torch.bool:
        return [bool(v) for v in flat.tolist()]
    return [int(v) for v in flat.tolist()]


def fixture_tensors():
    g = torch.Generator().manual_seed(0)
    return {
        'conv.weight': ('F32', torch.randn(2, 3, 2, 2, generator=g)),
        'special': ('F32', torch.tensor([float('nan'), float('inf'), float('-inf'), -0.0, 1e-45, 3.4028234663852886e38])),
        'double': ('F64', torch.tensor([[math.pi, -math.e], [1e-300, 1e300]], dtype=torch.float64)),
        'half': ('F16', torch.tensor([1.5, -2.0, 65504.0], dtype=torch.float16)),
        'bhalf': ('BF16', torch.tensor([1.0, -3.140625, 1e30], dtype=torch.bfloat16)),
        'optim/step': ('I64', torch.tensor([0, -2**62 - 1, 2**62 + 5], dtype=torch.int64)),
        'i32': ('I32', torch.tensor([[-2**31, 2**31 - 1], [0, 7]], dtype=torch.int32)),
        'i16': ('I16', torch.tensor([-32768, 32767, -1], dtype=torch.int16)),
        'i8': ('I8', torch.tensor([-128, 127, 3], dtype=torch.int8)),
        'u8': ('U8', torch.tensor([0, 255, 1, 128], dtype=torch.uint8)),
        'mask': ('BOOL', torch.tensor([[True, False, True], [False, False, True]])),
        'scalar': ('F32', torch.tensor(2.5)),
        'empty': ('F32', torch.zeros(0, 3)),
        'ünïcode.name': ('F64', torch.tensor([1.0, 2.0], dtype=torch.float64)),
    }


def write_file(path, tensors, metadata, reference_layout):
    if reference_layout:
        names = sorted(tensors, key=lambda n: (-RANK[tensors[n][0]], n.encode('utf-8')))
    else:
        names = sorted(tensors)
    header = {'__metadata__': metadata}
    blobs = []
    offset = 0
    for name in names:
        dtype, t = tensors[name]
        b = tensor_bytes(t)
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    text = json.dumps(header, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
    if reference_layout:
        text += b' ' * ((8 - len(text) % 8) % 8)
    elif len(text) % 8 == 0:
        text += b' '  # keep the data section misaligned on purpose
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def write(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    tensors = fixture_tensors()
    metadata = {'format': 'pt', 'note': 'written by scripts/make_safetensors_fixture.py'}
    write_file(os.path.join(out_dir, 'python-aligned.safetensors'), tensors, metadata, True)
    write_file(os.path.join(out_dir, 'python-unaligned.safetensors'), tensors, metadata, False)
    expected = {'metadata': metadata, 'tensors': {}}
    for name, (dtype, t) in tensors.items():
        expected['tensors'][name] = {
            'dtype': dtype, 'shape': list(t.shape), 'hex': tensor_bytes(t).hex(), 'values': json_values(t),
        }
    with open(os.path.join(out_dir, 'python-expected.json'), 'w', encoding='utf-8') as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
        f.write('\n')


def torch_adamw_step(path, lr):
    metadata, tensors = load_safetensors(path)
    doc = json.loads(metadata['checkpoint'])
    o = doc['optimizer']
    if doc['format_version'] != 1 or o['kind'] != 'adamw':
        fail('expected a version-1 AdamW checkpoint')
    names = sorted(k[len('param/'):] for k in tensors if k.startswith('param/'))
    params = [torch.nn.Parameter(tensors['param/' + n].clone()) for n in names]
    opt = torch.optim.AdamW(params, lr=lr, betas=tuple(o.get('betas', (0.9, 0.999))), eps=o.get('eps', 1e-8),
                            weight_decay=o.get('weightDecay', 1e-2), amsgrad=o.get('amsgrad', False))
    for n, p in zip(names, params):
        opt.state[p] = {slot: tensors[f'optim/{n}/{slot}'].clone() for slot in ('step', 'exp_avg', 'exp_avg_sq')}
        i = torch.arange(p.numel(), dtype=torch.int64)
        p.grad = (((37 * i) % 17 - 8).double() / 8).float().reshape(p.shape)
    opt.step()
    json.dump({n: tensor_bytes(p.detach()).hex() for n, p in zip(names, params)}, sys.stdout)


def check(path):
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 8:
        fail('shorter than 8 bytes')
    (n,) = struct.unpack('<Q', data[:8])
    if n > MAX_HEADER or 8 + n > len(data):
        fail(f'bad header length {n}')
    if n % 8 != 0:
        fail(f'header length {n} is not a multiple of 8 (reference writer pads)')
    raw = data[8:8 + n]
    text = raw.decode('utf-8')
    stripped = text.rstrip(' ')
    if len(raw) - len(stripped.encode('utf-8')) >= 8:
        fail('more than 7 padding spaces')
    if not text.startswith('{'):
        fail('header does not start with {')
    pairs = json.loads(text, object_pairs_hook=lambda kv: kv)
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        fail('duplicate keys in header')
    header = dict(pairs)
    metadata = header.pop('__metadata__', None)
    if metadata is not None:
        metadata = dict(metadata)
        if not all(isinstance(v, str) for v in metadata.values()):
            fail('metadata values must be strings')
    if '__metadata__' in keys and keys[0] != '__metadata__':
        fail('reference writer puts __metadata__ first')
    infos = {name: dict(info) for name, info in header.items()}
    order = sorted(infos, key=lambda nm: tuple(infos[nm]['data_offsets']))
    if [k for k in keys if k != '__metadata__'] != order:
        fail('header keys are not in data order')
    ref_order = sorted(infos, key=lambda nm: (-RANK[infos[nm]['dtype']], nm.encode('utf-8')))
    if order != ref_order:
        fail(f'data order {order} differs from the reference writer order {ref_order}')
    body = data[8 + n:]
    pos = 0
    out = {}
    for name in order:
        info = infos[name]
        dtype, shape, (b, e) = info['dtype'], info['shape'], info['data_offsets']
        tdtype, size = DTYPES[dtype]
        count = math.prod(shape)
        if b != pos or e - b != count * size:
            fail(f'tensor {name}: bad data_offsets {[b, e]}')
        pos = e
        if count == 0:
            t = torch.empty(shape, dtype=tdtype)
        elif tdtype == torch.bfloat16:
            t = torch.frombuffer(bytearray(body[b:e]), dtype=torch.int16).view(torch.bfloat16).reshape(shape)
        else:
            t = torch.frombuffer(bytearray(body[b:e]), dtype=tdtype).reshape(shape)
        out[name] = {'dtype': dtype, 'shape': list(t.shape), 'values': json_values(t)}
    if pos != len(body):
        fail(f'{len(body) - pos} trailing bytes in the data section')
    json.dump({'metadata': metadata, 'order': order, 'tensors': out}, sys.stdout, ensure_ascii=False)


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == 'write':
        write(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == 'torch-adamw-step':
        torch_adamw_step(sys.argv[2], float(sys.argv[3]))
    elif len(sys.argv) == 3 and sys.argv[1] == 'check':
        check(sys.argv[2])
    else:
        fail(__doc__)
