/** Dataset statistics: per-class counts and a box-size histogram, as data, text table or JSON. */
import type { ImageAnnotation } from './model.js';

/** Box-size bins by sqrt(area) in pixels: [lower, upper) edges; the last bin is open. */
export const SIZE_BIN_EDGES = [0, 16, 32, 64, 128, 256, 512] as const;

export interface ClassStats {
  name: string;
  /** Number of boxes of this class. */
  boxes: number;
  /** Number of images with at least one box of this class. */
  images: number;
  meanWidth: number;
  meanHeight: number;
  /** Box counts per SIZE_BIN_EDGES bin. */
  sizeHistogram: number[];
}

export interface DatasetStats {
  images: number;
  imagesWithoutBoxes: number;
  boxes: number;
  /** Boxes with zero or negative width or height (counted in the first size bin). */
  degenerateBoxes: number;
  /** Sorted by class name. */
  classes: ClassStats[];
  /** Labels of the histogram bins, e.g. "16-32". */
  sizeBins: string[];
  /** All classes together. */
  sizeHistogram: number[];
}

export function sizeBinLabels(): string[] {
  return SIZE_BIN_EDGES.map((lo, i) => (i + 1 < SIZE_BIN_EDGES.length ? `${lo}-${SIZE_BIN_EDGES[i + 1]}` : `${lo}+`));
}

/** Bin index of a box by sqrt(area) (0 for degenerate boxes). */
export function sizeBin(width: number, height: number): number {
  const side = Math.sqrt(Math.max(0, width) * Math.max(0, height));
  let bin = 0;
  while (bin + 1 < SIZE_BIN_EDGES.length && side >= SIZE_BIN_EDGES[bin + 1]!) bin++;
  return bin;
}

/** Count boxes per class and by size over all annotations. */
export function computeStats(annotations: readonly ImageAnnotation[]): DatasetStats {
  const bins = SIZE_BIN_EDGES.length;
  const perClass = new Map<string, ClassStats & { sumW: number; sumH: number; imageSet: Set<number> }>();
  const total = new Array<number>(bins).fill(0);
  let boxes = 0;
  let degenerateBoxes = 0;
  annotations.forEach((a, imageIndex) => {
    for (const o of a.objects) {
      let c = perClass.get(o.name);
      if (!c) {
        c = { name: o.name, boxes: 0, images: 0, meanWidth: 0, meanHeight: 0, sizeHistogram: new Array<number>(bins).fill(0), sumW: 0, sumH: 0, imageSet: new Set() };
        perClass.set(o.name, c);
      }
      const w = o.x2 - o.x1;
      const h = o.y2 - o.y1;
      const bin = sizeBin(w, h);
      if (w <= 0 || h <= 0) degenerateBoxes++;
      c.boxes++;
      c.sumW += w;
      c.sumH += h;
      c.imageSet.add(imageIndex);
      c.sizeHistogram[bin]!++;
      total[bin]!++;
      boxes++;
    }
  });
  const classes = [...perClass.values()]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(({ sumW, sumH, imageSet, ...c }) => ({
      ...c,
      images: imageSet.size,
      meanWidth: round2(sumW / c.boxes),
      meanHeight: round2(sumH / c.boxes),
    }));
  return {
    images: annotations.length,
    imagesWithoutBoxes: annotations.filter((a) => a.objects.length === 0).length,
    boxes,
    degenerateBoxes,
    classes,
    sizeBins: sizeBinLabels(),
    sizeHistogram: total,
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** A plain-text report: totals, a per-class table, and the size histogram with bars. */
export function formatStatsTable(stats: DatasetStats): string {
  const rows: string[][] = [['class', 'boxes', 'images', 'mean w', 'mean h']];
  for (const c of stats.classes) rows.push([c.name, String(c.boxes), String(c.images), c.meanWidth.toFixed(1), c.meanHeight.toFixed(1)]);
  rows.push(['(all)', String(stats.boxes), String(stats.images), '', '']);
  const widths = rows[0]!.map((_, k) => Math.max(...rows.map((r) => r[k]!.length)));
  const table = rows.map((r) => r.map((cell, k) => (k === 0 ? cell.padEnd(widths[k]!) : cell.padStart(widths[k]!))).join('  ').trimEnd());
  const max = Math.max(1, ...stats.sizeHistogram);
  const labelWidth = Math.max(...stats.sizeBins.map((l) => l.length));
  const countWidth = String(max).length;
  const histogram = stats.sizeBins.map((label, i) => {
    const n = stats.sizeHistogram[i]!;
    return `${label.padStart(labelWidth)} px  ${String(n).padStart(countWidth)}  ${'#'.repeat(Math.round((40 * n) / max))}`.trimEnd();
  });
  return [
    `${stats.images} images (${stats.imagesWithoutBoxes} without boxes), ${stats.boxes} boxes, ${stats.classes.length} classes` +
      (stats.degenerateBoxes ? `, ${stats.degenerateBoxes} zero-area boxes` : ''),
    '',
    ...table,
    '',
    'box size (sqrt of area):',
    ...histogram,
  ].join('\n') + '\n';
}
