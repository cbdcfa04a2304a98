/**
 * What `hpa-detect predict` writes, in the formats docs/predict.md documents (keep them stable:
 * `hpa-detect evaluate` reads predictions.json):
 *   predictions.json   every image in input order, with its detections, and the failures
 *   detections.csv     one row per detected cell with the mean of each channel inside the box
 *   voc/{name}.xml     LabelImg XML (integer boxes) to correct and retrain
 *   overlays/{name}.png the boxes drawn on the (merged) image
 *   images/{name}.json one image's record; written last, so it marks the image done (resume)
 * Every file is written atomically (temp file + rename).
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { BoxObject, ImageAnnotation } from '../annotations/model.js';
import { formatVocXml } from '../annotations/voc-write.js';
import { overlaySvg } from '../render/overlay.js';
import { writeFileAtomic } from '../util/atomic.js';
import { inputPath, type PredictInput } from './predict-inputs.js';
import type { RgbImage } from './transform.js';

/** Value of predictions.json's `format`. */
export const PREDICTIONS_FORMAT = 'hpa-detect/predictions';
/** Bumped on any incompatible change of predictions.json. */
export const PREDICTIONS_VERSION = 1;

/** One kept detection. `box` is [x1, y1, x2, y2] in the input image's pixels (float). */
export interface PredictedDetection {
  /** Class id, 1..numClasses-1 (0 is background). */
  label: number;
  className: string;
  score: number;
  box: [number, number, number, number];
  /** Mean of each channel inside the box, keyed by channel name (see ImagePrediction.channels). */
  means: Record<string, number>;
}

/**
 * Detections kept for evaluation only, column by column: up to `box.detectionsPerImg` (100) an
 * image over thousands of images, so no per-detection objects and no channel means; scores are
 * rounded to 1e-6 and boxes to 0.01 px, far below what AP or IoU can tell apart.
 */
export interface BelowThreshold {
  /** Class ids 1..K (names: the file's `classNames`). */
  label: number[];
  score: number[];
  /** [x1, y1, x2, y2] of each detection, one after the other (4 × label.length numbers). */
  box: number[];
}

/** Round as {@link BelowThreshold} stores values. */
export const roundScore = (v: number) => Math.round(v * 1e6) / 1e6;
export const roundCoordinate = (v: number) => Math.round(v * 100) / 100;

/** One image's predictions. */
export interface ImagePrediction {
  /** The image file, or `{folder}/{id}` for an HPA channel set. */
  image: string;
  /** Output stem: file name without extension, or the set id (names voc/, overlays/, images/ files). */
  name: string;
  /** `image`: a plain image; `channels`: a raw HPA set merged on the fly. */
  source: 'image' | 'channels';
  /** Channel files of a set, by channel. */
  files?: Record<string, string>;
  width: number;
  height: number;
  /** Channels whose means `detections[].means` holds, in CSV order. */
  channels: string[];
  /** Scale of the means: 8 (0–255) or 16 (0–65535: a 16-bit raw channel). */
  bitDepth: 8 | 16;
  detections: PredictedDetection[];
  /**
   * The model's other detections: scoring below the run's score threshold but above the model's
   * own cut (`box.scoreThresh`, 0.05 as torchvision). `evaluate` adds them back, so mAP is the
   * standard figure whatever `--score-threshold` predict ran with.
   */
  belowThreshold: BelowThreshold;
}

/** An input that produced no prediction. */
export interface PredictFailure {
  image: string;
  files: string[];
  reason: string;
}

/** CSV header of runs over plain images only (unchanged since the first release). */
export const CSV_HEADER = 'image,class,score,x1,y1,x2,y2,mean_red,mean_green,mean_blue';
/** CSV header of runs with HPA channel sets: raw-channel means at `bit_depth` (8 or 16 bit). */
export const CSV_HEADER_CHANNELS = 'image,class,score,x1,y1,x2,y2,mean_red,mean_green,mean_blue,mean_yellow,bit_depth';

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The CSV text (header + a row per detection) of `predictions`, in their order. */
export function formatDetectionsCsv(predictions: readonly ImagePrediction[], withChannelSets: boolean): string {
  const lines = [withChannelSets ? CSV_HEADER_CHANNELS : CSV_HEADER];
  const channels = withChannelSets ? ['red', 'green', 'blue', 'yellow'] : ['red', 'green', 'blue'];
  for (const p of predictions) {
    for (const d of p.detections) {
      const means = channels.map((c) => (d.means[c] === undefined ? '' : d.means[c]!.toFixed(2)));
      lines.push([csvField(p.image), csvField(d.className), d.score.toFixed(4), ...d.box.map((v) => v.toFixed(2)), ...means, ...(withChannelSets ? [String(p.bitDepth)] : [])].join(','));
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * predictions.json text: the run's fields indented, then one line per image and per failure, so
 * a file of 30,000 images greps well (it is plain JSON either way). Yielded line by line: written
 * as one string, a large run could pass V8's string limit (about 512 MiB).
 */
export function* predictionsJsonChunks(doc: Record<string, unknown>): Generator<string> {
  const entries = Object.entries(doc);
  yield '{\n';
  for (let e = 0; e < entries.length; e++) {
    const [k, v] = entries[e]!;
    const end = e + 1 < entries.length ? ',\n' : '\n';
    const key = JSON.stringify(k);
    if (!Array.isArray(v) || v.length === 0) {
      yield ` ${key}: ${Array.isArray(v) ? '[]' : JSON.stringify(v)}${end}`;
      continue;
    }
    yield ` ${key}: [\n`;
    for (let i = 0; i < v.length; i++) yield `  ${JSON.stringify(v[i])}${i + 1 < v.length ? ',' : ''}\n`;
    yield ` ]${end}`;
  }
  yield '}\n';
}

/** Where an input's per-image files go. */
export function outputPaths(outDir: string, name: string): { voc: string; overlay: string; record: string } {
  return {
    voc: path.join(outDir, 'voc', `${name}.xml`),
    overlay: path.join(outDir, 'overlays', `${name}.png`),
    record: path.join(outDir, 'images', `${name}.json`),
  };
}

/** The boxes drawn onto an RGB image, as PNG (same drawing as `hpa-detect show`). */
export async function overlayPng(rgb: RgbImage, objects: readonly BoxObject[]): Promise<Buffer> {
  const svg = overlaySvg(rgb.width, rgb.height, objects);
  const raw = { width: rgb.width, height: rgb.height, channels: rgb.channels };
  const drawn = await sharp(rgb.data, { raw }).composite([{ input: Buffer.from(svg), top: 0, left: 0 }]).raw().toBuffer({ resolveWithObject: true });
  return sharp(drawn.data, { raw: { width: rgb.width, height: rgb.height, channels: drawn.info.channels } }).removeAlpha().png().toBuffer();
}

/** Options of {@link writeImageOutputs}. */
export interface ImageOutputOptions {
  voc: boolean;
  overlays: boolean;
  /** Stored in the record; a later run resumes from the record only when its key is equal. */
  runKey: unknown;
}

/** Write voc/, overlays/ and, last, images/{name}.json for one image. */
export async function writeImageOutputs(outDir: string, input: PredictInput, source: string | undefined, rgb: RgbImage, p: ImagePrediction, o: ImageOutputOptions): Promise<void> {
  const paths = outputPaths(outDir, p.name);
  const objects: BoxObject[] = p.detections.map((d) => ({ name: d.className, x1: d.box[0], y1: d.box[1], x2: d.box[2], y2: d.box[3], score: d.score }));
  if (o.voc) {
    // A set is named as `hpa-detect merge` would write it ({id}.png beside the channels).
    const file = input.kind === 'image' ? input.file : `${inputPath(input)}.png`;
    const ann: ImageAnnotation = {
      filename: path.basename(file), path: path.resolve(file), width: p.width, height: p.height, depth: 3,
      objects: objects.map((ob) => ({ name: ob.name, x1: Math.round(ob.x1), y1: Math.round(ob.y1), x2: Math.round(ob.x2), y2: Math.round(ob.y2) })),
    };
    await writeFileAtomic(paths.voc, formatVocXml(ann));
  }
  if (o.overlays) await writeFileAtomic(paths.overlay, await overlayPng(rgb, objects));
  await writeFileAtomic(paths.record, JSON.stringify({ key: o.runKey, source: source ?? null, prediction: p }) + '\n');
}

/**
 * The prediction stored for `name` by an earlier run with the same key from the same input files
 * (`source`, {@link inputFingerprint}), or undefined (none, a different key or source, unreadable,
 * or an output it should have written is missing).
 */
export async function readImageRecord(outDir: string, name: string, source: string, o: ImageOutputOptions): Promise<ImagePrediction | undefined> {
  const paths = outputPaths(outDir, name);
  try {
    const rec = JSON.parse(await readFile(paths.record, 'utf8')) as { key: unknown; source: unknown; prediction: ImagePrediction };
    if (JSON.stringify(rec.key) !== JSON.stringify(o.runKey) || rec.source !== source || rec.prediction?.name !== name) return undefined;
    if (!Array.isArray(rec.prediction.belowThreshold?.label)) return undefined; // a record from before belowThreshold
    if (o.voc) await access(paths.voc);
    if (o.overlays) await access(paths.overlay);
    return rec.prediction;
  } catch {
    return undefined;
  }
}
