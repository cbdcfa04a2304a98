#!/usr/bin/python3
"""Fixtures and golden outputs for the channel-merge tests, computed with numpy + PIL only
(independent of hpa-detect's code).

Writes test/fixtures/merge/sets/{id}_{red,green,blue,yellow}.{png,tif} (small 64x64 channel sets)
and test/fixtures/merge/golden/{id}_{sum,average,weights}.png (+ kaggle_sum_tensor.f32).

Sets:
  kaggle, kaggle2  64x64 crops of real Kaggle 2018 channel PNGs (8-bit gray), 4 consecutive files
                   of ../shared/data/hpa/kaggle-channels (sorted) form a set
  field            a crop of the colour-tinted RGB JPEG channels of HPA field 800_A6_1, decoded
                   by PIL and saved losslessly as RGB PNG (so the tinted rule is tested exactly)
  deep             16-bit: red as a 16-bit TIFF, the others 16-bit PNG (rule: v >> 8 first)
  alpha            red RGBA, green gray+alpha, blue gray, yellow RGBA (alpha must be ignored)
  extremes         synthetic gray ramps that saturate the sum and sit on every rounding tie

Rules (the documented merge): channel value = gray value, or for RGB(A) files red: R, green: G,
blue: B, yellow: floor((R + G) / 2); 16-bit reduced v >> 8 before that.
  sum:      R' = min(255, R + Y // 2), G' = min(255, G + Y // 2), B' = B
  average:  R' = (R + Y) // 2,         G' = (G + Y) // 2,         B' = B
  weights:  clamp(floor(x + 0.5), 0, 255), x = ((w0*R + w1*G) + w2*B) + w3*Y in float64
  tensor:   (v / 255 - mean[c]) / std[c], ImageNet mean/std, CHW float32 little-endian

Run: /usr/bin/python3 scripts/make_merge_goldens.py [path/to/shared/data]
"""
import os
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, '..', 'shared', 'data')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'merge')
SETS = os.path.join(OUT, 'sets')
GOLDEN = os.path.join(OUT, 'golden')
CHANNELS = ['red', 'green', 'blue', 'yellow']
SIZE = 64

# Every entry a multiple of 1/4: results are exact in float64 and many sit exactly on .5.
WEIGHTS = np.array([[0.5, 0.0, 0.0, 0.5],
                    [0.0, 1.5, 0.0, -0.5],
                    [0.25, 0.25, 0.5, 0.0]], dtype=np.float64)
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])

rng = np.random.default_rng(20240601)


def crop(a, y, x):
    return np.ascontiguousarray(a[y:y + SIZE, x:x + SIZE])


def busiest_crop(arrays):
    """Top-left corner (on a 32-pixel grid) where the weakest channel varies most."""
    h, w = arrays[0].shape[:2]
    best, corner = -1.0, (0, 0)
    for y in range(0, h - SIZE + 1, 32):
        for x in range(0, w - SIZE + 1, 32):
            score = min(float(crop(a, y, x).std()) for a in arrays)
            if score > best:
                best, corner = score, (y, x)
    return corner


def save(img, name):
    img.save(os.path.join(SETS, name))


def channel_value(path, channel):
    """The 8-bit value the merge reads from one channel file (the rule above), from the file."""
    img = Image.open(path)
    a = np.asarray(img)
    if a.dtype == np.uint16 or img.mode in ('I;16', 'I;16B', 'I'):
        a = (a.astype(np.uint32) >> 8).astype(np.uint8)
    a = a.astype(np.int64)
    if a.ndim == 2:
        return a
    if a.shape[2] <= 2:
        return a[:, :, 0]
    if channel == 'yellow':
        return (a[:, :, 0] + a[:, :, 1]) // 2
    return a[:, :, CHANNELS.index(channel)]


def merge(r, g, b, y, mode):
    if mode == 'sum':
        out = [np.minimum(255, r + y // 2), np.minimum(255, g + y // 2), b]
    elif mode == 'average':
        out = [(r + y) // 2, (g + y) // 2, b]
    else:
        f = [v.astype(np.float64) for v in (r, g, b, y)]
        out = []
        for w in WEIGHTS:
            x = ((w[0] * f[0] + w[1] * f[1]) + w[2] * f[2]) + w[3] * f[3]
            out.append(np.clip(np.floor(x + 0.5), 0, 255))
    return np.stack(out, axis=-1).astype(np.uint8)


def make_kaggle(set_id, start):
    folder = os.path.join(DATA, 'hpa', 'kaggle-channels')
    files = sorted(os.listdir(folder))[start:start + 4]
    arrays = [np.asarray(Image.open(os.path.join(folder, f))) for f in files]
    y, x = busiest_crop(arrays)
    for ch, a in zip(CHANNELS, arrays):
        save(Image.fromarray(crop(a, y, x)), f'{set_id}_{ch}.png')


def make_field():
    arrays = [np.asarray(Image.open(os.path.join(DATA, 'hpa', 'fields', f'800_A6_1_{ch}.jpg')).convert('RGB'))
              for ch in CHANNELS]
    y, x = busiest_crop([a.max(axis=2) for a in arrays])
    for ch, a in zip(CHANNELS, arrays):
        save(Image.fromarray(crop(a, y, x)), f'field_{ch}.png')


def u16_image(a16):
    img = Image.new('I;16', (a16.shape[1], a16.shape[0]))
    img.frombytes(a16.astype('<u2').tobytes())
    return img


def make_deep():
    for i, ch in enumerate(CHANNELS):
        a16 = rng.integers(0, 65536, size=(SIZE, SIZE), dtype=np.uint32)
        a16[: SIZE // 2] = (a16[: SIZE // 2] // 4)  # half dim, half full range
        img = u16_image(a16)
        save(img, f'deep_{ch}.tif' if ch == 'red' else f'deep_{ch}.png')


def make_alpha():
    def noise(shape):
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    save(Image.fromarray(noise((SIZE, SIZE, 4)), 'RGBA'), 'alpha_red.png')
    save(Image.fromarray(noise((SIZE, SIZE, 2)), 'LA'), 'alpha_green.png')
    save(Image.fromarray(noise((SIZE, SIZE)), 'L'), 'alpha_blue.png')
    save(Image.fromarray(noise((SIZE, SIZE, 4)), 'RGBA'), 'alpha_yellow.png')


def make_extremes():
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    planes = {
        'red': (xx * 4 + 3) % 256,
        'green': (yy * 4 + 1) % 256,
        'blue': (xx * 7 + yy * 3) % 256,
        'yellow': (yy * 4 + xx) % 256,
    }
    for ch, a in planes.items():
        save(Image.fromarray(a.astype(np.uint8), 'L'), f'extremes_{ch}.png')


def file_of(set_id, ch):
    for ext in ('png', 'tif'):
        p = os.path.join(SETS, f'{set_id}_{ch}.{ext}')
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f'{set_id}_{ch}')


def main():
    os.makedirs(SETS, exist_ok=True)
    os.makedirs(GOLDEN, exist_ok=True)
    make_kaggle('kaggle', 0)
    make_kaggle('kaggle2', 4)
    make_field()
    make_deep()
    make_alpha()
    make_extremes()
    for set_id in ('kaggle', 'kaggle2', 'field', 'deep', 'alpha', 'extremes'):
        r, g, b, y = (channel_value(file_of(set_id, ch), ch) for ch in CHANNELS)
        for mode in ('sum', 'average', 'weights'):
            Image.fromarray(merge(r, g, b, y, mode), 'RGB').save(os.path.join(GOLDEN, f'{set_id}_{mode}.png'))
        if set_id == 'kaggle':
            rgb = merge(r, g, b, y, 'sum').astype(np.float64)
            t = (rgb / 255.0 - MEAN) / STD  # HWC float64
            t.transpose(2, 0, 1).astype('<f4').tofile(os.path.join(GOLDEN, 'kaggle_sum_tensor.f32'))
    print(f'wrote fixtures under {OUT}')


if __name__ == '__main__':
    main()
