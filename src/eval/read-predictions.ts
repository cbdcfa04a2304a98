/**
 * Predictions for `hpa-detect evaluate`, in any of three forms:
 *  - `predictions.json` of `hpa-detect predict` (or the folder holding it): images[] with
 *    detections {className, label, score, box [x1, y1, x2, y2]} and belowThreshold (those under
 *    predict's --score-threshold, column-wise {label[], score[], box[]}: both are read); its
 *    failures[] are images without a prediction;
 *  - a folder of LabelImg VOC XML with a `<score>` per object (a missing score reads as 1, with
 *    a warning: such files rank nothing);
 *  - COCO results JSON: [{image_id, category_id, bbox [x, y, w, h], score}], ids resolved through
 *    the COCO ground truth (image_id may also be a file name; without COCO ground truth,
 *    category_id is the label id 1..K in the class order).
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadAnnotations } from '../annotations/load.js';

/** One detection as read; `className` or, for COCO results without COCO ground truth, `label`. */
export interface ReadDetection {
  className?: string;
  label?: number;
  score: number;
  box: [number, number, number, number];
}

/** Predictions read from one input. */
export interface PredictionSet {
  kind: 'predictions.json' | 'voc' | 'coco-results';
  /** The file (or folder) read. */
  file: string;
  /** `image`: the path or file name the predictions were made for. */
  images: { image: string; detections: ReadDetection[] }[];
  /** Images the predictor failed on (predictions.json `failures`). */
  failed: string[];
  /**
   * Detections scoring below this were never written: predictions.json's `modelScoreThreshold`
   * when its images carry `belowThreshold` (all the model returned), else its `scoreThreshold`.
   */
  scoreThreshold?: number;
  /** predictions.json `classNames` (class 1 first). */
  classNames?: string[];
  warnings: string[];
}

/** An input that cannot be read as predictions; the message names the file. */
export class PredictionInputError extends Error {
  override name = 'PredictionInputError';
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Read `input`; `coco` maps ids of COCO results (from a COCO ground truth). */
export async function readPredictions(input: string, coco?: { imageNames: Map<number, string>; categoryNames: Map<number, string> }): Promise<PredictionSet> {
  const st = statSync(input, { throwIfNoEntry: false });
  if (!st) throw new PredictionInputError(`cannot read ${input} (ENOENT)`);
  if (st.isDirectory()) {
    const json = path.join(input, 'predictions.json');
    return existsSync(json) ? readJson(json, coco) : readVocPredictions(input);
  }
  return input.toLowerCase().endsWith('.xml') ? readVocPredictions(input) : readJson(input, coco);
}

async function readJson(file: string, coco: Parameters<typeof readPredictions>[1]): Promise<PredictionSet> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new PredictionInputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (Array.isArray(doc)) return cocoResults(doc, file, coco);
  if (isObj(doc) && Array.isArray(doc['images'])) return predictJson(doc, file);
  throw new PredictionInputError(`${file}: neither predictions.json of hpa-detect predict (an object with images[]) nor COCO results (an array)`);
}

function box(v: unknown, where: string): [number, number, number, number] {
  if (!Array.isArray(v) || v.length !== 4 || !v.every(isNum)) throw new PredictionInputError(`${where} must be 4 finite numbers`);
  return v as [number, number, number, number];
}

function predictJson(doc: Record<string, unknown>, file: string): PredictionSet {
  const set: PredictionSet = { kind: 'predictions.json', file, images: [], failed: [], warnings: [] };
  if (isNum(doc['scoreThreshold'])) set.scoreThreshold = doc['scoreThreshold'];
  if (Array.isArray(doc['classNames']) && doc['classNames'].every((c) => typeof c === 'string')) set.classNames = doc['classNames'] as string[];
  const images = doc['images'] as unknown[];
  const detection = (d: unknown, at: string): ReadDetection => {
    if (!isObj(d) || !isNum(d['score']) || typeof d['className'] !== 'string') throw new PredictionInputError(`${at} needs className and score`);
    return { className: d['className'], score: d['score'], box: box(d['box'], `${at}.box`) };
  };
  images.forEach((im, i) => {
    const where = `${file}: images[${i}]`;
    if (!isObj(im) || typeof im['image'] !== 'string' || !Array.isArray(im['detections'])) throw new PredictionInputError(`${where} needs image (a path) and detections[]`);
    set.images.push({
      image: im['image'],
      detections: [
        ...(im['detections'] as unknown[]).map((d, k) => detection(d, `${where}.detections[${k}]`)),
        ...(im['belowThreshold'] !== undefined ? belowThreshold(im['belowThreshold'], `${where}.belowThreshold`, set.classNames ?? []) : []),
      ],
    });
  });
  // Files from before belowThreshold (or written by hand) hold only what passed scoreThreshold.
  const complete = images.every((im) => isObj(im) && im['belowThreshold'] !== undefined);
  if (complete && isNum(doc['modelScoreThreshold'])) set.scoreThreshold = doc['modelScoreThreshold'];
  if (Array.isArray(doc['failures'])) for (const f of doc['failures']) if (isObj(f) && typeof f['image'] === 'string') set.failed.push(f['image']);
  return set;
}

/** predict's column-wise belowThreshold {label[], score[], box[] (4 per detection)}; class names from the file's classNames. */
function belowThreshold(v: unknown, where: string, classNames: readonly string[]): ReadDetection[] {
  const ok = isObj(v) && Array.isArray(v['label']) && Array.isArray(v['score']) && Array.isArray(v['box']);
  if (!ok) throw new PredictionInputError(`${where} must be {label: [], score: [], box: []}`);
  const label = v['label'] as unknown[], score = v['score'] as unknown[], boxes = v['box'] as unknown[];
  if (score.length !== label.length || boxes.length !== 4 * label.length) {
    throw new PredictionInputError(`${where}: ${label.length} labels need as many scores (got ${score.length}) and 4 box numbers each (got ${boxes.length})`);
  }
  return label.map((l, k) => {
    if (!Number.isInteger(l) || (l as number) < 1 || !isNum(score[k])) throw new PredictionInputError(`${where}: detection ${k} needs a label >= 1 and a score`);
    return { className: classNames[(l as number) - 1] ?? `class${String(l)}`, score: score[k] as number, box: box(boxes.slice(4 * k, 4 * k + 4), `${where}.box[${4 * k}..${4 * k + 3}]`) };
  });
}

function cocoResults(doc: unknown[], file: string, coco: Parameters<typeof readPredictions>[1]): PredictionSet {
  const set: PredictionSet = { kind: 'coco-results', file, images: [], failed: [], warnings: [] };
  const byImage = new Map<string, PredictionSet['images'][number]>();
  doc.forEach((r, i) => {
    const where = `${file}: [${i}]`;
    if (!isObj(r) || !isNum(r['score']) || !Number.isInteger(r['category_id'])) throw new PredictionInputError(`${where} needs image_id, category_id, bbox and score`);
    const id = r['image_id'];
    let image: string | undefined;
    if (typeof id === 'string') image = id;
    else if (Number.isInteger(id)) {
      if (!coco) throw new PredictionInputError(`${where}: a numeric image_id needs COCO ground truth (its images[] name the ids)`);
      image = coco.imageNames.get(id as number);
      if (image === undefined) throw new PredictionInputError(`${where}: image_id ${String(id)} is not in the ground truth's images`);
    } else throw new PredictionInputError(`${where}: image_id must be an integer or a file name`);
    const [x, y, w, h] = box(r['bbox'], `${where}.bbox`);
    const category = r['category_id'] as number;
    const det: ReadDetection = { score: r['score'], box: [x, y, x + w, y + h] };
    if (coco) {
      const name = coco.categoryNames.get(category);
      if (name === undefined) throw new PredictionInputError(`${where}: category_id ${category} is not in the ground truth's categories`);
      det.className = name;
    } else det.label = category;
    let entry = byImage.get(image);
    if (!entry) byImage.set(image, (entry = { image, detections: [] }));
    entry.detections.push(det);
  });
  set.images = [...byImage.values()];
  return set;
}

async function readVocPredictions(input: string): Promise<PredictionSet> {
  let loaded;
  try {
    loaded = await loadAnnotations(input, 'voc', { validate: false });
  } catch (err) {
    throw new PredictionInputError((err as Error).message);
  }
  const bad = loaded.issues.filter((i) => i.severity === 'error');
  if (bad.length > 0) throw new PredictionInputError(`${bad[0]!.file}: ${bad[0]!.message}${bad.length > 1 ? ` (and ${bad.length - 1} more problem(s))` : ''}`);
  const set: PredictionSet = { kind: 'voc', file: input, images: [], failed: [], warnings: [] };
  let unscored = 0;
  for (const a of loaded.annotations) {
    set.images.push({
      image: a.filename,
      detections: a.objects.map((o) => {
        if (o.score === undefined) unscored++;
        return { className: o.name, score: o.score ?? 1, box: [o.x1, o.y1, o.x2, o.y2] };
      }),
    });
  }
  if (unscored > 0) set.warnings.push(`${input}: ${unscored} object(s) without <score> read as score 1 (they cannot be ranked: AP is then precision × recall of the whole set)`);
  return set;
}
