import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { repoRoot, sharedData } from './helpers.js';
import type { BoxObject } from '../src/annotations/model.js';
import { boxCaption, overlaySvg, renderOverlay } from '../src/render/overlay.js';
import { CLASS_PALETTE, classColor, parseHexColor, textColorOn } from '../src/render/colors.js';

const W = 200;
const H = 150;
/** A gradient test image whose every pixel differs from any palette colour. */
function gradient(channels: 1 | 3): Buffer {
  const data = Buffer.alloc(W * H * channels);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < channels; c++) data[(y * W + x) * channels + c] = (x + 2 * y + 40 * c) % 97 + 60;
    }
  }
  return data;
}

async function rgbPixels(png: Buffer) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3, 'overlay PNG is plain RGB');
  return { at: (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)], info };
}

const boxes: BoxObject[] = [
  { name: 'WBC', x1: 40, y1: 50, x2: 120, y2: 130 },
  { name: 'Nucleoli', x1: 130, y1: 60, x2: 190, y2: 140, score: 0.876 },
  { name: 'RBC', x1: 10, y1: 10, x2: 30, y2: 30, score: 0.2 },
];

test('outline pixels take the class colour; pixels away from boxes are unchanged', async () => {
  const raw = gradient(3);
  const src = await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).png().toBuffer();
  const out = await renderOverlay(src, { objects: boxes }, { lineWidth: 3, minScore: 0.5 });
  const { at, info } = await rgbPixels(out);
  assert.deepEqual([info.width, info.height], [W, H]);
  const wbc = parseHexColor(classColor('WBC'));
  const nuc = parseHexColor(classColor('Nucleoli'));
  // Left edge (x1 … x1+2) and bottom edge (y2-3 … y2-1) of WBC, away from the caption.
  for (const x of [40, 41, 42]) assert.deepEqual(at(x, 100), wbc, `WBC left edge x=${x}`);
  assert.deepEqual(at(80, 129), wbc, 'WBC bottom edge');
  assert.deepEqual(at(80, 127), wbc, 'WBC bottom edge, inner row');
  assert.deepEqual(at(189, 120), nuc, 'Nucleoli right edge');
  const original = (x: number, y: number) => [...raw.subarray((y * W + x) * 3, (y * W + x) * 3 + 3)];
  // Just outside and just inside an edge, the box interior, and the RBC box hidden by minScore.
  for (const [x, y] of [[39, 100], [43, 100], [80, 90], [125, 100], [5, 145], [20, 10], [10, 20]] as const) {
    assert.deepEqual(at(x, y), original(x, y), `pixel ${x},${y} unchanged`);
  }
});

test('gray, 16-bit and RGBA images come out as RGB with coloured outlines', async () => {
  const gray = await sharp(gradient(1), { raw: { width: W, height: H, channels: 1 } }).png().toBuffer();
  const gray16 = await sharp(gradient(1), { raw: { width: W, height: H, channels: 1 } }).toColourspace('grey16').png().toBuffer();
  const rgba = await sharp(gradient(3), { raw: { width: W, height: H, channels: 3 } }).ensureAlpha(0.5).png().toBuffer();
  for (const [name, img] of [['gray', gray], ['gray16', gray16], ['rgba', rgba]] as const) {
    const { at } = await rgbPixels(await renderOverlay(img, { objects: boxes.slice(0, 1) }, { lineWidth: 2 }));
    assert.deepEqual(at(40, 100), parseHexColor(classColor('WBC')), name);
    const far = at(180, 20);
    if (name !== 'rgba') assert.equal(far[0], far[1], `${name}: gray stays gray away from boxes`);
  }
});

test('captions: class name, score with 2 digits, text colour readable on the tag', () => {
  assert.equal(boxCaption(boxes[0]!), 'WBC');
  assert.equal(boxCaption(boxes[1]!), 'Nucleoli 0.88');
  assert.equal(textColorOn('#ffe119'), '#000000');
  assert.equal(textColorOn('#000075'), '#ffffff');
  const svg = overlaySvg(W, H, [...boxes, { name: 'a<b&c', x1: 5, y1: 5, x2: 5, y2: 40 }], { minScore: 0 });
  assert.match(svg, />Nucleoli 0\.88</);
  assert.match(svg, />RBC 0\.20</);
  assert.doesNotMatch(svg, /a<b/, 'degenerate box skipped, names never break the SVG');
  assert.equal(overlaySvg(W, H, [{ name: 'a<b&c', x1: 5, y1: 5, x2: 50, y2: 40 }]).includes('a&lt;b&amp;c'), true);
  assert.throws(() => overlaySvg(W, H, boxes, { minScore: 1.5 }), /minScore must be in \[0, 1\]/);
});

test('class colours are stable, distinct for known classes, and listable in order', () => {
  assert.equal(classColor('WBC'), classColor('WBC'));
  const known = ['RBC', 'WBC', 'Platelets'];
  assert.equal(new Set(known.map((n) => classColor(n))).size, 3);
  assert.notEqual(classColor('Nucleoli'), classColor('Not Nucleoli'));
  assert.deepEqual(['x', 'y', 'z'].map((n) => classColor(n, ['x', 'y', 'z'])), CLASS_PALETTE.slice(0, 3));
  assert.match(classColor('constructor'), /^#[0-9a-f]{6}$/);
});

const bin = path.join(repoRoot, 'bin', 'hpa-detect.js');
function run(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

test('show on a BCCD image: default output beside the image, WBC outline in its colour', async (t) => {
  const bccd = sharedData(t, 'bccd');
  if (!bccd) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-show-'));
  try {
    const image = path.join(dir, 'BloodImage_00000.jpg');
    copyFileSync(path.join(bccd, 'JPEGImages', 'BloodImage_00000.jpg'), image);
    const r = run(['show', image, '--annotations', path.join(bccd, 'Annotations', 'BloodImage_00000.xml')]);
    assert.equal(r.status, 0, r.stderr);
    const out = path.join(dir, 'BloodImage_00000.overlay.png');
    assert.ok(existsSync(out), 'default output {name}.overlay.png');
    assert.match(r.stderr, /20 of 20 boxes drawn/);
    const { at, info } = await rgbPixels(await sharp(out).png().toBuffer());
    assert.deepEqual([info.width, info.height], [640, 480]);
    assert.deepEqual(at(260, 280), parseHexColor(classColor('WBC')), 'WBC left edge (xmin 260)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('show: --min-score hides low scores; bad usage exits 2, a missing image 1', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-show-'));
  try {
    const image = path.join(dir, 'cells.png');
    await sharp(gradient(3), { raw: { width: W, height: H, channels: 3 } }).png().toFile(image);
    const xml = path.join(dir, 'cells.xml');
    const obj = (name: string, b: number[], score: number) =>
      `<object><name>${name}</name><score>${score}</score><bndbox><xmin>${b[0]}</xmin><ymin>${b[1]}</ymin><xmax>${b[2]}</xmax><ymax>${b[3]}</ymax></bndbox></object>`;
    writeFileSync(
      xml,
      `<annotation><filename>cells.png</filename><size><width>${W}</width><height>${H}</height><depth>3</depth></size>` +
        `${obj('WBC', [40, 50, 120, 130], 0.9)}${obj('RBC', [130, 60, 190, 140], 0.3)}</annotation>`,
    );
    const out = path.join(dir, 'o.png');
    const r = run(['show', image, '-a', xml, '--out', out, '--min-score', '0.5']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /1 of 2 boxes drawn/);
    const { at } = await rgbPixels(await sharp(out).png().toBuffer());
    assert.deepEqual(at(40, 100), parseHexColor(classColor('WBC')));
    assert.notDeepEqual(at(189, 120), parseHexColor(classColor('RBC')), 'RBC 0.30 hidden');

    assert.equal(run(['show', image, '--min-score', '2']).status, 2);
    assert.equal(run(['show']).status, 2);
    const missing = run(['show', path.join(dir, 'nope.png')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /image not found: .*nope\.png/);
    assert.equal(run(['show', image, '-a', path.join(dir, 'nope.xml'), '--out', out]).status, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
