/**
 * Anchor grids as torchvision's AnchorGenerator (models/detection/anchor_utils.py) makes them,
 * in float32 and in the same order.
 *
 * Base (cell) anchors of one level: for each aspect ratio r (height / width) and each size s,
 * h_ratio = sqrt(r), w_ratio = 1 / h_ratio, w = w_ratio * s, h = h_ratio * s, and the anchor
 * [-w, -h, w, h] / 2 rounded half-to-even (torch.round), ratio-major: all sizes of the first
 * ratio, then the next ratio.
 * Grid: for a feature map of gridHeight x gridWidth and strides (strideY, strideX), positions in
 * row-major order (y outer, x inner), shifted by (x * strideX, y * strideY), and at each position
 * all base anchors. torchvision derives the strides as image size // feature size (integer
 * division) per axis: {@link anchorStrides}.
 * Result: Float32Array [positions * anchorsPerPosition * 4], x1, y1, x2, y2 per anchor; levels
 * concatenated in the order given.
 */

/** One pyramid level: sizes and aspect ratios (height / width) of its cell anchors. */
export interface AnchorLevel {
  sizes: readonly number[];
  aspectRatios: readonly number[];
}

/** torch.round: round half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function checkPositiveList(values: readonly number[], name: string): void {
  if (!Array.isArray(values) || values.length === 0) throw new TypeError(`${name} must be a non-empty array of numbers`);
  values.forEach((v, i) => {
    if (typeof v !== 'number') throw new TypeError(`${name}[${i}] must be a number`);
    if (!Number.isFinite(v) || !(v > 0)) throw new RangeError(`${name}[${i}] must be finite and > 0, got ${v}`);
  });
}

/** Base anchors of one level, [A*4] centred on the origin (torchvision's cell_anchors). */
export function cellAnchors(level: AnchorLevel): Float32Array {
  checkPositiveList(level.sizes, 'sizes');
  checkPositiveList(level.aspectRatios, 'aspectRatios');
  const f = Math.fround;
  const out = new Float32Array(level.sizes.length * level.aspectRatios.length * 4);
  let o = 0;
  for (const r of level.aspectRatios) {
    const hRatio = f(Math.sqrt(f(r)));
    const wRatio = f(1 / hRatio);
    for (const s of level.sizes) {
      const w = f(wRatio * f(s));
      const h = f(hRatio * f(s));
      out[o++] = roundHalfEven(f(-w / 2));
      out[o++] = roundHalfEven(f(-h / 2));
      out[o++] = roundHalfEven(f(w / 2));
      out[o++] = roundHalfEven(f(h / 2));
    }
  }
  return out;
}

/** torchvision's strides: [imageHeight // gridHeight, imageWidth // gridWidth] per level. */
export function anchorStrides(
  imageSize: readonly [number, number],
  gridSizes: readonly (readonly [number, number])[],
): [number, number][] {
  checkPositiveList(imageSize, 'imageSize');
  return gridSizes.map((g, i) => {
    checkPositiveList(g, `gridSizes[${i}]`);
    return [Math.floor(imageSize[0] / g[0]), Math.floor(imageSize[1] / g[1])];
  });
}

function checkInt(v: number, name: string, min: number): void {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isInteger(v)) throw new TypeError(`${name} must be an integer, got ${v}`);
  if (v < min) throw new RangeError(`${name} must be >= ${min}, got ${v}`);
}

/**
 * Anchors of one level on a gridHeight x gridWidth feature map with strides [strideY, strideX]
 * (torchvision's grid_anchors for one level).
 */
export function gridAnchors(
  level: AnchorLevel,
  gridSize: readonly [number, number],
  stride: readonly [number, number],
): Float32Array {
  const base = cellAnchors(level);
  if (!Array.isArray(gridSize) || gridSize.length !== 2) throw new TypeError('gridSize must be [height, width]');
  if (!Array.isArray(stride) || stride.length !== 2) throw new TypeError('stride must be [strideY, strideX]');
  const [gh, gw] = gridSize;
  const [sy, sx] = stride;
  checkInt(gh, 'gridSize[0]', 0);
  checkInt(gw, 'gridSize[1]', 0);
  checkInt(sy, 'stride[0]', 0);
  checkInt(sx, 'stride[1]', 0);
  const a = base.length / 4;
  const total = gh * gw * a * 4;
  if (total > 2 ** 31 - 1) throw new RangeError(`gridSize too large: ${total} anchor values`);
  const out = new Float32Array(total);
  let o = 0;
  for (let y = 0; y < gh; y++) {
    const shy = y * sy;
    for (let x = 0; x < gw; x++) {
      const shx = x * sx;
      for (let k = 0; k < 4 * a; k += 4) {
        out[o++] = shx + base[k]!;
        out[o++] = shy + base[k + 1]!;
        out[o++] = shx + base[k + 2]!;
        out[o++] = shy + base[k + 3]!;
      }
    }
  }
  return out;
}

/**
 * torchvision's AnchorGenerator for one image: `levels[i]` on feature map `gridSizes[i]`
 * ([height, width]) of an image of `imageSize` ([height, width]); strides as torchvision
 * derives them (integer division). Returns all levels' anchors concatenated, [total*4].
 */
export function generateAnchors(
  levels: readonly AnchorLevel[],
  imageSize: readonly [number, number],
  gridSizes: readonly (readonly [number, number])[],
): Float32Array {
  if (!Array.isArray(levels) || !Array.isArray(gridSizes)) throw new TypeError('levels and gridSizes must be arrays');
  if (levels.length !== gridSizes.length) {
    throw new RangeError(`levels (${levels.length}) and gridSizes (${gridSizes.length}) must have the same length`);
  }
  const strides = anchorStrides(imageSize, gridSizes);
  const parts = levels.map((l, i) => gridAnchors(l, gridSizes[i]!, strides[i]!));
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Number of anchors per position of each level (sizes x ratios), as torchvision's num_anchors_per_location. */
export function anchorsPerLocation(levels: readonly AnchorLevel[]): number[] {
  return levels.map((l) => l.sizes.length * l.aspectRatios.length);
}
