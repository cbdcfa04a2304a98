/**
 * The built-in main job (`hpa-detect demo`): the whole HPA workflow on synthetic data, no data of
 * the user's own needed. Synthesize 4-channel sets with LabelImg annotations, merge them natively,
 * convert the annotations to the formats trainers read (keras-frcnn CSV, COCO JSON, a VOC
 * directory), draw overlays, train a small Faster R-CNN on three quarters of the images, predict
 * on the held-out quarter, score it (mAP), and write an HTML report that links it all.
 * Layout of `outDir` (re-running with the same options rewrites the same bytes; merge skips outputs
 * that are already valid):
 *   channels/   {id}_{red,green,blue,yellow}.png, {id}.xml, masks/, manifest.json  (synth)
 *   merged/     {id}.png, merge-summary.json                                      (merge)
 *   annotations/annot.txt (keras-frcnn), coco.json, voc/ (VOC layout with splits)  (convert)
 *   overlays/   {id}.png: ground-truth boxes on the merged image                  (show)
 *   model/, predictions/, evaluation/, detections/                                (detect-stage.ts)
 *   index.html  the report
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { synthesizeDataset, type SynthManifest } from '../synth/write.js';
import type { SynthDifficulty } from '../synth/params.js';
import { mergeFolder, type MergeFolderSummary } from '../hpa/merge-folder.js';
import { loadVocDataset } from '../annotations/dataset.js';
import { formatKerasCsv } from '../annotations/csv.js';
import { formatCocoJson, toCoco } from '../annotations/coco.js';
import { vocId, writeVocLayout } from '../annotations/voc-layout.js';
import { computeStats, type DatasetStats } from '../annotations/stats.js';
import type { ImageAnnotation } from '../annotations/model.js';
import { renderOverlay } from '../render/overlay.js';
import { writeFileAtomic } from '../util/atomic.js';
import { splitIds } from '../annotations/split.js';
import { buildDemoReport } from './report.js';
import { runDetectStage, type DemoTrainOptions, type DetectStageResult } from './detect-stage.js';

/** Share of the synthetic images held out from training and scored. */
export const HELD_OUT_FRACTION = 0.25;

export interface DemoOptions {
  outDir: string;
  /** Synthetic images to generate (default 48: 36 to train on, 12 held out). */
  count?: number;
  seed?: number;
  difficulty?: SynthDifficulty;
  /** Side of the square synthetic images in px (default 512). */
  size?: number;
  /** Overlays drawn (default 12; the report shows them). */
  overlays?: number;
  /** Called with a one-line message at each stage. */
  log?: (line: string) => void;
  /** Show per-stage progress bars (default true). */
  progress?: boolean;
  /** Train, predict and evaluate (default true); `false` stops after the overlays. */
  train?: boolean | DemoTrainOptions;
}

export interface DemoResult {
  outDir: string;
  report: string;
  manifest: SynthManifest;
  merge: MergeFolderSummary;
  stats: DatasetStats;
  /** Seconds per stage, in order. */
  timings: { stage: string; seconds: number }[];
  /** Every annotation problem found (the synthetic data should have none). */
  annotationIssues: string[];
  /** The trained model, its held-out predictions and their scores (absent with `train: false`). */
  detection?: DetectStageResult;
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const outDir = path.resolve(options.outDir);
  const count = options.count ?? 48;
  const seed = options.seed ?? 0;
  const log = options.log ?? (() => {});
  const dirs = {
    channels: path.join(outDir, 'channels'),
    merged: path.join(outDir, 'merged'),
    annotations: path.join(outDir, 'annotations'),
    overlays: path.join(outDir, 'overlays'),
  };
  const timings: DemoResult['timings'] = [];
  async function stage<T>(name: string, work: () => Promise<T>): Promise<T> {
    log(`[demo] ${name}...`);
    const t0 = performance.now();
    const result = await work();
    const seconds = (performance.now() - t0) / 1000;
    timings.push({ stage: name, seconds });
    log(`[demo] ${name}: done in ${seconds.toFixed(1)} s`);
    return result;
  }

  const manifest = await stage(`synthesize ${count} images (seed ${seed})`, () =>
    synthesizeDataset({ outDir: dirs.channels, count, seed, difficulty: options.difficulty ?? 'standard', ...(options.size ? { size: options.size } : {}) }),
  );
  const merge = await stage('merge channels', () =>
    mergeFolder(dirs.channels, dirs.merged, { progress: options.progress ?? true }),
  );
  if (merge.failed > 0) {
    throw new Error(`merge failed for ${merge.failed} set(s); see ${path.join(dirs.merged, 'merge-summary.json')}`);
  }

  const { annotations, issues } = await stage('convert annotations', async () => {
    const dataset = await loadVocDataset(dirs.channels, { imageDir: dirs.merged });
    const annotations = dataset.items.map((i) => i.annotation);
    await fs.mkdir(dirs.annotations, { recursive: true });
    await writeFileAtomic(
      path.join(dirs.annotations, 'annot.txt'),
      formatKerasCsv(annotations, { imagePrefix: path.relative(dirs.annotations, dirs.merged), round: true }),
    );
    await writeFileAtomic(path.join(dirs.annotations, 'coco.json'), formatCocoJson(toCoco(annotations)));
    const layout = await writeVocLayout(path.join(dirs.annotations, 'voc'), annotations, { imageDir: dirs.merged, link: true });
    const issues = [...dataset.issues, ...layout.issues].map((i) => `${i.file}: ${i.message}`);
    return { annotations, issues };
  });

  const overlayIds = await stage('draw overlays', () => drawOverlays(annotations, dirs.merged, dirs.overlays, options.overlays ?? 12));

  let detection: DetectStageResult | undefined;
  if (options.train !== false) {
    const byId = new Map(annotations.map((a) => [vocId(a), a]));
    const split = splitIds([...byId.keys()], { seed, val: HELD_OUT_FRACTION, test: 0 });
    if (split.train.length === 0 || split.val.length === 0) throw new RangeError(`count ${count} is too small to train on some images and hold out others (at least 4 needed)`);
    detection = await stage(`train on ${split.train.length} images, predict and score ${split.val.length} held-out images`, () =>
      runDetectStage({
        outDir, annotationDir: dirs.channels, imageDir: dirs.merged, annotations: byId, trainIds: split.train, heldOutIds: split.val, seed, log,
        options: typeof options.train === 'object' ? options.train : {},
      }),
    );
  }

  const stats = computeStats(annotations);
  const report = path.join(outDir, 'index.html');
  await writeFileAtomic(
    report,
    buildDemoReport({ outDir, manifest, merge, stats, overlayIds, timings, issues, ...(detection ? { detection } : {}) }),
  );
  log(`[demo] report: ${report}`);
  return { outDir, report, manifest, merge, stats, timings, annotationIssues: issues, ...(detection ? { detection } : {}) };
}

async function drawOverlays(annotations: ImageAnnotation[], mergedDir: string, overlayDir: string, limit: number): Promise<string[]> {
  await fs.mkdir(overlayDir, { recursive: true });
  const chosen = annotations.slice(0, limit);
  const ids: string[] = [];
  for (const a of chosen) {
    const id = vocId(a);
    const png = await renderOverlay(path.join(mergedDir, a.filename), a);
    await writeFileAtomic(path.join(overlayDir, `${id}.png`), png);
    ids.push(id);
  }
  return ids;
}
