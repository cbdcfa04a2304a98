/** Anchor grids against torchvision 0.14's AnchorGenerator (fixtures from scripts/). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturesDir } from './helpers.js';
import { anchorsPerLocation, cellAnchors, generateAnchors, gridAnchors } from '../src/detection/anchors.js';

interface Case { name: string; sizes: number[][]; ratios: number[][]; image: [number, number]; grids: [number, number][]; cell_anchors: number[][]; anchors: number[] }
const fx = JSON.parse(readFileSync(path.join(fixturesDir, 'kernels', 'anchors_torchvision.json'), 'utf8')) as { cases: Case[] };

test('cell anchors and full grids equal torchvision exactly (order, rounding half to even)', () => {
  assert.equal(fx.cases.length, 3);
  for (const c of fx.cases) {
    const levels = c.sizes.map((sizes, i) => ({ sizes, aspectRatios: c.ratios[i]! }));
    levels.forEach((l, i) => assert.deepEqual(Array.from(cellAnchors(l)), c.cell_anchors[i], `${c.name} cell ${i}`));
    assert.deepEqual(Array.from(generateAnchors(levels, c.image, c.grids)), c.anchors, c.name);
    const total = c.grids.reduce((s, g, i) => s + g[0] * g[1] * anchorsPerLocation(levels)[i]!, 0);
    assert.equal(c.anchors.length, 4 * total);
  }
});

test('rounding is half-to-even, as torch.round', () => {
  // size 3, ratio 1: [-1.5, -1.5, 1.5, 1.5] -> [-2, -2, 2, 2]; size 5: 2.5 -> 2
  assert.deepEqual(Array.from(cellAnchors({ sizes: [3, 5], aspectRatios: [1] })), [-2, -2, 2, 2, -2, -2, 2, 2]);
});

test('validation names the argument', () => {
  assert.throws(() => cellAnchors({ sizes: [], aspectRatios: [1] }), TypeError);
  assert.throws(() => cellAnchors({ sizes: [32], aspectRatios: [0] }), /aspectRatios\[0\] must be finite and > 0/);
  assert.throws(() => cellAnchors({ sizes: [NaN], aspectRatios: [1] }), RangeError);
  assert.throws(() => gridAnchors({ sizes: [32], aspectRatios: [1] }, [2, -1], [4, 4]), /gridSize\[1\] must be >= 0/);
  assert.throws(() => gridAnchors({ sizes: [32], aspectRatios: [1] }, [2, 2], [4, 1.5]), /stride\[1\] must be an integer/);
  assert.throws(() => generateAnchors([{ sizes: [32], aspectRatios: [1] }], [64, 64], []), RangeError);
  assert.equal(gridAnchors({ sizes: [32], aspectRatios: [1] }, [0, 5], [4, 4]).length, 0);
});
