/**
 * Statistics of the synthetic generator measured from the files it writes (masks, channels, XML),
 * never from its internal state, so a generator bug shows up here as it would to a user.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { synthesizeDataset } from '../src/synth/write.js';
import { parseVocXml } from '../src/annotations/voc-read.js';
import type { ImageAnnotation } from '../src/annotations/model.js';

const tmp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `hpa-synth-${name}-`));
const SIZE = 512;

async function decodeGray(file: string): Promise<Uint8Array> {
  const meta = await sharp(file).metadata();
  assert.equal(meta.channels, 1, `${file} must be single-channel gray`);
  assert.equal(meta.depth, 'uchar', `${file} must be 8-bit`);
  const { data, info } = await sharp(file).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width * info.height, SIZE * SIZE);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** 3×3 box mean (edges clamped): measures from channels without being fooled by single noisy pixels. */
function boxMean3(ch: Uint8Array): Float32Array {
  const out = new Float32Array(ch.length);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      let s = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = Math.min(SIZE - 1, Math.max(0, y + dy));
        for (let dx = -1; dx <= 1; dx++) s += ch[yy * SIZE + Math.min(SIZE - 1, Math.max(0, x + dx))]!;
      }
      out[y * SIZE + x] = s / 9;
    }
  }
  return out;
}

/** A window [x0, x1)×[y0, y1) of the image. */
interface Win { x0: number; y0: number; x1: number; y1: number }
const grow = (w: Win, r: number): Win => ({
  x0: Math.max(0, w.x0 - r), y0: Math.max(0, w.y0 - r), x1: Math.min(SIZE, w.x1 + r), y1: Math.min(SIZE, w.y1 + r),
});

/** Inside window w: pixels within Chebyshev distance r of a set pixel of `mask` (separable max). */
function dilateIn(mask: Uint8Array, r: number, w: Win): Uint8Array {
  const rows = new Uint8Array(SIZE * SIZE);
  const ys = grow(w, r);
  for (let y = ys.y0; y < ys.y1; y++) {
    for (let x = w.x0; x < w.x1; x++) {
      let v = 0;
      for (let xx = Math.max(0, x - r); xx <= Math.min(SIZE - 1, x + r) && !v; xx++) v = mask[y * SIZE + xx]!;
      rows[y * SIZE + x] = v;
    }
  }
  const out = new Uint8Array(SIZE * SIZE);
  for (let y = w.y0; y < w.y1; y++) {
    for (let x = w.x0; x < w.x1; x++) {
      let v = 0;
      for (let yy = Math.max(0, y - r); yy <= Math.min(SIZE - 1, y + r) && !v; yy++) v = rows[yy * SIZE + x]!;
      out[y * SIZE + x] = v;
    }
  }
  return out;
}

/** Inside window w: pixels whose whole (2r+1)² neighbourhood is set (outside the image counts as unset). */
function erodeIn(mask: Uint8Array, r: number, w: Win): Uint8Array {
  const outer = grow(w, r + 1);
  const inverse = new Uint8Array(SIZE * SIZE);
  forEachIn(outer, (p) => { inverse[p] = 1 - mask[p]!; });
  const grown = dilateIn(inverse, r, w);
  const out = new Uint8Array(SIZE * SIZE);
  forEachIn(w, (p) => {
    const x = p % SIZE, y = (p - x) / SIZE;
    out[p] = x - r >= 0 && y - r >= 0 && x + r < SIZE && y + r < SIZE && !grown[p] ? 1 : 0;
  });
  return out;
}

function percentile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

interface MeasuredImage {
  annotation: ImageAnnotation;
  masks: Uint8Array[]; // 0/1 per pixel, full image
  areas: number[];
  windows: Win[]; // tight box of each mask
  green: Float32Array;
  blue: Float32Array;
}

async function loadImage(dir: string, id: string): Promise<MeasuredImage> {
  const { annotation, issues } = parseVocXml(readFileSync(path.join(dir, `${id}.xml`), 'utf8'), `${id}.xml`);
  assert.ok(annotation, `${id}.xml must parse as VOC: ${JSON.stringify(issues)}`);
  assert.deepEqual(issues.filter((i) => i.severity === 'error'), []);
  const masks: Uint8Array[] = [];
  const areas: number[] = [];
  const windows: Win[] = [];
  for (let k = 0; k < annotation.objects.length; k++) {
    const m = await decodeGray(path.join(dir, 'masks', `${id}_${k}.png`));
    const bits = new Uint8Array(m.length);
    let area = 0, x0 = SIZE, y0 = SIZE, x1 = 0, y1 = 0;
    for (let p = 0; p < m.length; p++) {
      const v = m[p]!;
      if (v === 0) continue;
      assert.equal(v, 255, `mask ${id}_${k} must be 0/255`);
      bits[p] = 1;
      area++;
      const x = p % SIZE, y = (p - x) / SIZE;
      if (x < x0) x0 = x;
      if (x >= x1) x1 = x + 1;
      if (y < y0) y0 = y;
      if (y >= y1) y1 = y + 1;
    }
    assert.ok(area > 0, `mask ${id}_${k} is empty`);
    masks.push(bits);
    areas.push(area);
    windows.push({ x0, y0, x1, y1 });
  }
  assert.ok(!existsSync(path.join(dir, 'masks', `${id}_${annotation.objects.length}.png`)), 'no mask beyond the XML objects');
  return {
    annotation,
    masks,
    areas,
    windows,
    green: boxMean3(await decodeGray(path.join(dir, `${id}_green.png`))),
    blue: boxMean3(await decodeGray(path.join(dir, `${id}_blue.png`))),
  };
}

function forEachIn(w: Win, f: (p: number) => void): void {
  for (let y = w.y0; y < w.y1; y++) for (let x = w.x0; x < w.x1; x++) f(y * SIZE + x);
}

test('standard level: 24 images measured from the written files match the spec', async () => {
  const dir = tmp('stats');
  try {
    const count = 24;
    await synthesizeDataset({ outDir: dir, count, seed: 11, difficulty: 'standard' });
    let cells = 0, touching = 0, overlapping = 0, difficult = 0, nucleoliCells = 0, spotChecks = 0;
    const classes = new Map<string, number>();
    for (let i = 0; i < count; i++) {
      const id = `synth_${String(i).padStart(4, '0')}`;
      const img = await loadImage(dir, id);
      const { annotation, masks } = img;
      assert.equal(annotation.filename, `${id}.png`);
      assert.equal(annotation.width, SIZE);
      assert.equal(annotation.height, SIZE);
      assert.ok(masks.length >= 6 && masks.length <= 20, `${id}: ${masks.length} cells, expected 6–20`);
      cells += masks.length;
      const { areas, windows } = img;
      const union = new Uint8Array(SIZE * SIZE);
      masks.forEach((m, j) => forEachIn(windows[j]!, (p) => { union[p]! |= m[p]!; }));
      const outside = [];
      for (let p = 0; p < union.length; p += 7) if (!union[p]) outside.push(img.blue[p]!);
      const blueBackground = percentile(outside, 0.5);
      // Each mask grown by 3 px, and how many grown masks cover each pixel.
      const nearMasks = masks.map((m, j) => dilateIn(m, 3, grow(windows[j]!, 3)));
      const nearCount = new Uint8Array(SIZE * SIZE);
      nearMasks.forEach((nm, j) => forEachIn(grow(windows[j]!, 3), (p) => { nearCount[p]! += nm[p]!; }));

      for (const [k, o] of annotation.objects.entries()) {
        const m = masks[k]!;
        classes.set(o.name, (classes.get(o.name) ?? 0) + 1);
        // Box = tight mask box, x2/y2 exclusive.
        const w = windows[k]!;
        assert.deepEqual([o.x1, o.y1, o.x2, o.y2], [w.x0, w.y0, w.x1, w.y1], `${id} object ${k}: box must be the mask's tight box`);
        const onBorder = o.x1 === 0 || o.y1 === 0 || o.x2 === SIZE || o.y2 === SIZE;
        if (o.truncated) assert.ok(onBorder, `${id} object ${k}: truncated but not at the border`);
        else {
          const d = 2 * Math.sqrt(areas[k]! / Math.PI);
          assert.ok(d >= 58 && d <= 162, `${id} object ${k}: diameter ${d.toFixed(1)} outside 60–160`);
        }
        if (o.difficult) difficult++;

        // Relations to the other cells, from the masks alone (8-neighbour adjacency).
        const box = windows[k]!;
        const grown = dilateIn(m, 1, grow(box, 1));
        let overlaps = false, touches = false;
        for (const [j, other] of masks.entries()) {
          const ob = windows[j]!;
          if (j === k || ob.x0 > box.x1 || ob.x1 < box.x0 || ob.y0 > box.y1 || ob.y1 < box.y0) continue;
          const w = grow(box, 1);
          let shared = 0, adjacent = 0;
          for (let y = w.y0; y < w.y1; y++) {
            for (let x = w.x0; x < w.x1; x++) {
              const p = y * SIZE + x;
              shared += m[p]! & other[p]!;
              adjacent += grown[p]! & other[p]!;
            }
          }
          if (shared > 0) {
            overlaps = true;
            const fraction = shared / Math.min(areas[k]!, areas[j]!);
            assert.ok(fraction <= 0.2 + 1e-9, `${id} objects ${k},${j} overlap ${(100 * fraction).toFixed(1)}% > 20%`);
          } else if (adjacent > 0) touches = true;
        }
        if (overlaps) overlapping++;
        else if (touches) touching++;

        // Green spots: measured in this cell, away from other cells (blur bleeds a few pixels).
        const near = (p: number) => nearCount[p]! - nearMasks[k]![p]! > 0;
        const inCell: number[] = [];
        forEachIn(box, (p) => { if (m[p]) inCell.push(img.blue[p]!); });
        const blueTop = percentile(inCell, 0.95);
        const nucleus = new Uint8Array(SIZE * SIZE);
        forEachIn(box, (p) => { nucleus[p] = m[p] && img.blue[p]! > blueBackground + 0.35 * (blueTop - blueBackground) ? 1 : 0; });
        const core = erodeIn(nucleus, 2, box);
        if (o.name === 'Nucleoli' && !o.difficult) {
          nucleoliCells++;
          let best = -1, at = -1;
          forEachIn(box, (p) => { if (m[p] && !near(p) && img.green[p]! > best) { best = img.green[p]!; at = p; } });
          if (at >= 0) {
            spotChecks++;
            assert.ok(core[at], `${id} object ${k}: brightest green (${best.toFixed(0)}) at (${at % SIZE},${Math.floor(at / SIZE)}) is not inside the nucleus`);
          }
        }
      }
    }
    const fTouch = touching / cells, fOverlap = overlapping / cells, fDifficult = difficult / cells;
    assert.ok(fTouch >= 0.2 && fTouch <= 0.4, `touching fraction ${fTouch.toFixed(3)}, expected about 0.3`);
    assert.ok(fOverlap >= 0.05 && fOverlap <= 0.16, `overlapping fraction ${fOverlap.toFixed(3)}, expected about 0.1`);
    assert.ok(fDifficult >= 0.04 && fDifficult <= 0.17, `ambiguous (difficult) fraction ${fDifficult.toFixed(3)}, expected about 0.1`);
    assert.deepEqual([...classes.keys()].sort(), ['Not Nucleoli', 'Nucleoli']);
    const fNucleoli = classes.get('Nucleoli')! / cells;
    assert.ok(fNucleoli > 0.35 && fNucleoli < 0.65, `Nucleoli share ${fNucleoli.toFixed(2)}`);
    assert.ok(spotChecks >= 0.9 * nucleoliCells && spotChecks > 50, `${spotChecks} of ${nucleoliCells} Nucleoli cells checked`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Not Nucleoli cells show no nucleolar spots: green in the nucleus core stays far below the spots', async () => {
  const dir = tmp('neg');
  try {
    await synthesizeDataset({ outDir: dir, count: 6, seed: 21 });
    let checked = 0;
    for (let i = 0; i < 6; i++) {
      const id = `synth_${String(i).padStart(4, '0')}`;
      const img = await loadImage(dir, id);
      const spotPeaks: number[] = [];
      const nucleusGreen: number[] = [];
      for (const [k, o] of img.annotation.objects.entries()) {
        if (o.difficult) continue;
        const m = img.masks[k]!;
        const box = img.windows[k]!;
        const vals: number[] = [];
        forEachIn(box, (p) => { if (m[p]) vals.push(img.blue[p]!); });
        const lo = percentile(vals, 0.05), top = percentile(vals, 0.95);
        const nucleus = new Uint8Array(SIZE * SIZE);
        forEachIn(box, (p) => { nucleus[p] = m[p] && img.blue[p]! > lo + 0.5 * (top - lo) ? 1 : 0; });
        const core = erodeIn(nucleus, 4, box);
        let peak = 0;
        forEachIn(box, (p) => { if (core[p]) peak = Math.max(peak, img.green[p]!); });
        (o.name === 'Nucleoli' ? spotPeaks : nucleusGreen).push(peak);
      }
      if (spotPeaks.length === 0 || nucleusGreen.length === 0) continue;
      const weakestSpot = Math.min(...spotPeaks);
      for (const g of nucleusGreen) {
        checked++;
        assert.ok(g < 0.6 * weakestSpot, `${id}: a Not Nucleoli nucleus reaches green ${g.toFixed(0)}, spots ≥ ${weakestSpot.toFixed(0)}`);
      }
    }
    assert.ok(checked > 10, `only ${checked} Not Nucleoli cells checked`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

