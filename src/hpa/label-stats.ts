/**
 * Label distribution of an HPA label table: images per label, labels per image and, on request,
 * how often two labels occur on the same image.
 */
import { HPA_LABEL_COUNT, HPA_LABEL_NAMES } from './labels.js';
import type { HpaLabelRow } from './train-csv.js';

/** Images carrying one label. */
export interface LabelCount {
  id: number;
  name: string;
  /** Images with this label. */
  count: number;
  /** count / number of images (labels are multi-label, so fractions sum to more than 1). */
  fraction: number;
}

/** The distribution computed by labelStats(). */
export interface LabelStats {
  images: number;
  /** One entry per label id 0–27, in id order (sort a copy for display). */
  labels: LabelCount[];
  /** labelsPerImage[k] = images with exactly k labels (index 0 stays 0 for read rows). */
  labelsPerImage: number[];
  /** cooccurrence[a][b] = images with both labels a and b (diagonal = count); only on request. */
  cooccurrence?: number[][];
}

/** Options of labelStats(). */
export interface LabelStatsOptions {
  /** Also count label pairs (a 28×28 matrix). */
  cooccurrence?: boolean;
}

/** Count labels over `rows`. */
export function labelStats(rows: readonly Pick<HpaLabelRow, 'labels'>[], options: LabelStatsOptions = {}): LabelStats {
  const counts = new Array<number>(HPA_LABEL_COUNT).fill(0);
  const labelsPerImage: number[] = [0];
  const pairs = options.cooccurrence
    ? Array.from({ length: HPA_LABEL_COUNT }, () => new Array<number>(HPA_LABEL_COUNT).fill(0))
    : undefined;
  for (const { labels } of rows) {
    for (const id of labels) counts[id]!++;
    while (labelsPerImage.length <= labels.length) labelsPerImage.push(0);
    labelsPerImage[labels.length]!++;
    if (pairs) for (const a of labels) for (const b of labels) pairs[a]![b]!++;
  }
  const images = rows.length;
  return {
    images,
    labels: counts.map((count, id) => ({
      id,
      name: HPA_LABEL_NAMES[id]!,
      count,
      fraction: images > 0 ? count / images : 0,
    })),
    labelsPerImage,
    ...(pairs ? { cooccurrence: pairs } : {}),
  };
}

/** Labels ordered by count, largest first (ties by id), as tables and charts show them. */
export function labelsByCount(stats: LabelStats): LabelCount[] {
  return [...stats.labels].sort((a, b) => b.count - a.count || a.id - b.id);
}

/** A plain-text table: one line per label sorted by count, then the labels-per-image histogram. */
export function formatLabelStats(stats: LabelStats): string {
  const nameWidth = Math.max(5, ...stats.labels.map((l) => l.name.length));
  const countWidth = Math.max(5, String(stats.images).length);
  const lines = [
    `${stats.images} images`,
    '',
    `${'id'.padStart(2)}  ${'label'.padEnd(nameWidth)}  ${'count'.padStart(countWidth)}  % images`,
  ];
  for (const l of labelsByCount(stats)) {
    const pct = `${(100 * l.fraction).toFixed(2)}%`.padStart(7);
    lines.push(`${String(l.id).padStart(2)}  ${l.name.padEnd(nameWidth)}  ${String(l.count).padStart(countWidth)}  ${pct}`);
  }
  lines.push('', 'labels per image');
  stats.labelsPerImage.forEach((n, k) => {
    if (k === 0 && n === 0) return;
    const pct = stats.images > 0 ? `${((100 * n) / stats.images).toFixed(2)}%` : '0.00%';
    lines.push(`${String(k).padStart(2)}  ${String(n).padStart(countWidth)}  ${pct.padStart(7)}`);
  });
  return lines.join('\n') + '\n';
}
