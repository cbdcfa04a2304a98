/**
 * Prediction over image files for `hpa-detect predict`: one detector, images decoded ahead of
 * inference, and per image the outputs users look at or correct: a JSON record, CSV rows (one per
 * detected cell, with the mean intensity of each image channel inside the box: what biologists
 * quantify), LabelImg VOC XML (to correct and retrain) and an overlay PNG.
 */
import { readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BoxObject, ImageAnnotation } from '../annotations/model.js';
import { formatVocXml } from '../annotations/voc-write.js';
import { renderOverlay } from '../render/overlay.js';
import { writeFileAtomic } from '../util/atomic.js';
import { type Detector, loadImage } from './detector.js';
import type { RgbImage } from './transform.js';

/** Image extensions picked up from folders. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.webp'];

/** Files given directly, plus the images inside given folders (sorted, not recursive). */
export function listImages(inputs: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of inputs) {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) throw new RangeError(`not found: ${p}`);
    if (st.isDirectory()) {
      out.push(...readdirSync(p).filter((f) => IMAGE_EXTENSIONS.includes(path.extname(f).toLowerCase())).sort().map((f) => path.join(p, f)));
    } else out.push(p);
  }
  return out;
}

/** One image's kept detections. */
export interface ImagePrediction {
  image: string;
  width: number;
  height: number;
  detections: { label: number; className: string; score: number; box: [number, number, number, number]; channelMeans: number[] }[];
}

/** Options of {@link predictFiles}. */
export interface PredictFilesOptions {
  outDir: string;
  /** Names of classes 1..numClasses-1 (index 0 of this array is class 1). */
  classNames: readonly string[];
  /** Keep detections scoring at least this (default 0.7). */
  scoreThreshold?: number;
  /** Write VOC XML and overlay PNGs (default true). */
  voc?: boolean;
  overlays?: boolean;
  onImage?: (p: ImagePrediction, index: number, total: number) => void;
}

/** Mean of each channel of `img` inside the box (pixels whose centre lies inside; at least one pixel). */
export function channelMeans(img: RgbImage, box: readonly number[]): number[] {
  const x0 = Math.max(0, Math.min(img.width - 1, Math.floor(box[0]!)));
  const y0 = Math.max(0, Math.min(img.height - 1, Math.floor(box[1]!)));
  const x1 = Math.max(x0 + 1, Math.min(img.width, Math.ceil(box[2]!)));
  const y1 = Math.max(y0 + 1, Math.min(img.height, Math.ceil(box[3]!)));
  const sums = new Array<number>(3).fill(0);
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const o = (y * img.width + x) * img.channels;
      for (let c = 0; c < 3; c++) sums[c]! += img.data[o + c]!;
    }
  }
  const n = (x1 - x0) * (y1 - y0);
  return sums.map((s) => s / n);
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV header of the per-cell table. */
export const CSV_HEADER = 'image,class,score,x1,y1,x2,y2,mean_red,mean_green,mean_blue';

/** Run `detector` over `files`, writing outputs under `outDir`; resolves with every prediction. */
export async function predictFiles(detector: Detector, files: readonly string[], o: PredictFilesOptions): Promise<ImagePrediction[]> {
  const threshold = o.scoreThreshold ?? 0.7;
  await mkdir(o.outDir, { recursive: true });
  for (const sub of [o.voc !== false ? 'voc' : '', o.overlays !== false ? 'overlays' : ''].filter(Boolean)) await mkdir(path.join(o.outDir, sub), { recursive: true });
  const results: ImagePrediction[] = [];
  const csv: string[] = [CSV_HEADER];
  // Decode the next image while the current one runs through the detector.
  let next = files.length > 0 ? loadImage(files[0]!) : undefined;
  for (let i = 0; i < files.length; i++) {
    const img = await next!;
    next = i + 1 < files.length ? loadImage(files[i + 1]!) : undefined;
    next?.catch(() => undefined); // reported when awaited
    const file = files[i]!;
    const r = await detector.detect(img);
    const p: ImagePrediction = { image: file, width: img.width, height: img.height, detections: [] };
    for (let k = 0; k < r.scores.length; k++) {
      if (r.scores[k]! < threshold) continue;
      const box = Array.from(r.boxes.subarray(4 * k, 4 * k + 4)) as [number, number, number, number];
      const label = r.labels[k]!;
      p.detections.push({ label, className: o.classNames[label - 1] ?? `class${label}`, score: r.scores[k]!, box, channelMeans: channelMeans(img, box) });
    }
    for (const d of p.detections) {
      csv.push([csvField(file), csvField(d.className), d.score.toFixed(4), ...d.box.map((v) => v.toFixed(2)), ...d.channelMeans.map((v) => v.toFixed(2))].join(','));
    }
    const base = path.parse(file).name;
    const objects: BoxObject[] = p.detections.map((d) => ({ name: d.className, x1: d.box[0], y1: d.box[1], x2: d.box[2], y2: d.box[3], score: d.score }));
    if (o.voc !== false) {
      const ann: ImageAnnotation = { filename: path.basename(file), path: path.resolve(file), width: img.width, height: img.height, depth: 3, objects: objects.map((ob) => ({ ...ob, x1: Math.round(ob.x1), y1: Math.round(ob.y1), x2: Math.round(ob.x2), y2: Math.round(ob.y2), score: undefined })) };
      await writeFileAtomic(path.join(o.outDir, 'voc', `${base}.xml`), formatVocXml(ann));
    }
    if (o.overlays !== false) {
      await writeFileAtomic(path.join(o.outDir, 'overlays', `${base}.png`), await renderOverlay(file, { objects }));
    }
    results.push(p);
    o.onImage?.(p, i, files.length);
  }
  await writeFileAtomic(path.join(o.outDir, 'detections.csv'), csv.join('\n') + '\n');
  await writeFileAtomic(path.join(o.outDir, 'predictions.json'), JSON.stringify({ scoreThreshold: threshold, provider: detector.provider, preset: detector.config.preset, images: results }, null, 1) + '\n');
  return results;
}
