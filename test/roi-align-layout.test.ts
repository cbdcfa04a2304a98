/**
 * RoIAlign forward has two loops (native/roi_align.h): channel-outer over the NCHW planes, and
 * channel-inner over a blocked copy (16 channels per pixel) chosen for many RoIs on a map. They
 * must give bitwise the same output. HPA_ROI_ALIGN_LAYOUT (read once per process) forces one, so
 * each layout runs in a child process over the same seeded inputs (single-level and multi-scale,
 * channel counts that are not multiples of 8 or 16, windows wider than 4 columns, points, boxes
 * outside the map, aligned and adaptive sampling, thread counts 1, 2, 3 and the default), and
 * the outputs' bytes are compared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { roiAlignSync } from '../src/detection/roi-align.js';
import { multiScaleRoiAlignSync } from '../src/detection/multiscale-roi-align.js';
import { Rng } from '../src/util/rng.js';

type Shape = [number, number, number, number];

function outputs(): string[] {
  const rng = new Rng(41);
  const hashes: string[] = [];
  const hash = (a: Float32Array) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
  const cases: { shape: Shape; k: number; out: number; scale: number; sr: number; aligned: boolean; big: number }[] = [
    { shape: [1, 256, 64, 64], k: 600, out: 7, scale: 0.25, sr: 2, aligned: false, big: 100 },
    { shape: [2, 40, 20, 24], k: 300, out: 7, scale: 0.5, sr: 2, aligned: true, big: 60 },
    { shape: [1, 24, 16, 16], k: 200, out: 5, scale: 1, sr: -1, aligned: false, big: 30 },
    { shape: [2, 19, 12, 40], k: 400, out: 3, scale: 1, sr: 3, aligned: true, big: 50 },
    { shape: [1, 33, 3, 3], k: 50, out: 7, scale: 1, sr: 2, aligned: false, big: 4 },
  ];
  for (const c of cases) {
    const [n, ch, h, w] = c.shape;
    const feats = Float32Array.from({ length: n * ch * h * w }, () => rng.normal());
    const rois = new Float32Array(c.k * 5);
    for (let i = 0; i < c.k; i++) {
      const x = rng.uniform(-10, w / c.scale + 10), y = rng.uniform(-10, h / c.scale + 10);
      const point = rng.next() < 0.05;
      const bw = point ? 0 : rng.uniform(0, c.big), bh = point ? 0 : rng.uniform(0, c.big);
      rois.set([i % n, x, y, x + bw, y + bh], 5 * i);
    }
    for (const threads of [1, 2, 3, 0]) {
      hashes.push(hash(roiAlignSync(feats, c.shape, rois, c.out, c.scale, c.sr, c.aligned, { threads })));
    }
  }
  // multi-scale: 4 levels, 2 images, 32 channels
  const shapes: Shape[] = [64, 32, 16, 8].map((s) => [2, 32, s, s]);
  const levels = shapes.map((s) => ({ data: Float32Array.from({ length: s[0] * s[1] * s[2] * s[3] }, () => rng.normal()), shape: s }));
  const k = 700;
  const rois = new Float32Array(k * 5);
  for (let i = 0; i < k; i++) {
    const side = Math.exp(rng.uniform(Math.log(8), Math.log(256)));
    const x = rng.uniform(0, 256 - side / 2), y = rng.uniform(0, 256 - side / 2);
    rois.set([i % 2, x, y, x + side, y + side * rng.uniform(0.6, 1.4)], 5 * i);
  }
  hashes.push(hash(multiScaleRoiAlignSync(levels, rois, [[256, 256], [256, 256]], { outputSize: 7, samplingRatio: 2 }).output));
  return hashes;
}

if (process.env.ROI_LAYOUT_CHILD) {
  process.stdout.write(JSON.stringify(outputs()));
} else {
  test('RoIAlign forward: the blocked channel-inner loop equals the planes loop bit for bit', () => {
    const run = (layout: string): string[] => {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
        env: { ...process.env, ROI_LAYOUT_CHILD: '1', HPA_ROI_ALIGN_LAYOUT: layout },
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as string[];
    };
    const planes = run('planes'), blocked = run('blocked'), auto = run('auto');
    assert.equal(planes.length, 21);
    assert.deepEqual(blocked, planes);
    assert.deepEqual(auto, planes);
    for (let i = 0; i < planes.length - 1; i += 4) {
      assert.equal(new Set(planes.slice(i, i + 4)).size, 1, `thread counts agree (case ${i / 4})`);
    }
  });
}
