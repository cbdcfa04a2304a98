/**
 * The evaluation as people read it (a fixed-width table) and as scripts read it (metrics.json,
 * NaN written as null: "no ground truth for this class").
 */
import type { DetectionEvaluation } from './map.js';

const fmt = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(4));

/**
 * One row per class: AP50 (VOC all-point), AP50 11-pt (VOC2007), AP@[.5:.95] (COCO), any extra
 * IoU columns, numbers of ground-truth boxes and detections; then the means over the classes
 * that have ground truth.
 */
export function formatMetricsTable(r: DetectionEvaluation): string {
  const headers = ['class', 'nGT', 'nDet', 'AP50', 'AP50 11pt', 'AP@[.5:.95]', ...r.atIou.map((a) => `AP@${a.iou}`)];
  const rows = r.perClass.map((c) => [c.name, String(c.numGt), String(c.numDetections), fmt(c.ap50), fmt(c.ap50_11pt), fmt(c.apCoco), ...c.apAtIou.map(fmt)]);
  const counted = r.perClass.filter((c) => !Number.isNaN(c.ap50)).length;
  const sum = (f: (c: DetectionEvaluation['perClass'][number]) => number) => String(r.perClass.reduce((s, c) => s + f(c), 0));
  rows.push([`mean (${counted} class${counted === 1 ? '' : 'es'})`, sum((c) => c.numGt), sum((c) => c.numDetections), fmt(r.map50), fmt(r.map50_11pt), fmt(r.mapCoco), ...r.atIou.map((a) => fmt(a.map))]);
  const widths = headers.map((h, k) => Math.max(h.length, ...rows.map((row) => row[k]!.length)));
  const line = (cells: string[]) => cells.map((c, k) => (k === 0 ? c.padEnd(widths[k]!) : c.padStart(widths[k]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(headers), rule, ...rows.slice(0, -1).map(line), rule, line(rows[rows.length - 1]!)].join('\n') + '\n';
}

/** NaN → null for JSON. */
const num = (v: number) => (Number.isNaN(v) ? null : v);

/** The metrics.json document (`curves: false` leaves out the per-detection precision/recall). */
export function metricsDocument(r: DetectionEvaluation, extra: Record<string, unknown> = {}, curves = true): Record<string, unknown> {
  return {
    ...extra,
    numImages: r.numImages,
    imagesWithoutDetections: r.imagesWithoutDetections,
    map50: num(r.map50),
    map50_11pt: num(r.map50_11pt),
    mapCoco: num(r.mapCoco),
    atIou: r.atIou.map((a) => ({ iou: a.iou, map: num(a.map) })),
    perClass: r.perClass.map((c) => ({
      label: c.label,
      name: c.name,
      numGt: c.numGt,
      numDetections: c.numDetections,
      ap50: num(c.ap50),
      ap50_11pt: num(c.ap50_11pt),
      apCoco: num(c.apCoco),
      apAtIou: c.apAtIou.map(num),
      ...(curves ? { precision: Array.from(c.precision), recall: Array.from(c.recall, num) } : {}),
    })),
  };
}
