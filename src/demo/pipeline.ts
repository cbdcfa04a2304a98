/**
 * The built-in main job (`hpa-detect demo`): the first half of the HPA workflow on synthetic data,
 * no data of the user's own needed. Synthesize 4-channel sets with LabelImg annotations, merge them
 * natively, convert the annotations to the formats trainers read (keras-frcnn CSV, COCO JSON, a VOC
 * directory), draw overlays, and write an HTML report that links it all.
 * Layout of `outDir` (re-running with the same options rewrites the same bytes; merge skips outputs
 * that are already valid):
 *   channels/   {id}_{red,green,blue,yellow}.png, {id}.xml, masks/, manifest.json  (synth)
 *   merged/     {id}.png, merge-summary.json                                      (merge)
 *   annotations/annot.txt (keras-frcnn), coco.json, voc/ (VOC layout with splits)  (convert)
 *   overlays/   {id}.png: ground-truth boxes on the merged image                  (show)
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
import { writeVocLayout } from '../annotations/voc-layout.js';
import { computeStats, type DatasetStats } from '../annotations/stats.js';
import type { ImageAnnotation } from '../annotations/model.js';
import { renderOverlay } from '../render/overlay.js';
import { writeFileAtomic } from '../util/atomic.js';
import { buildDemoReport } from './report.js';

export interface DemoOptions {
  outDir: string;
  /** Synthetic images to generate (default 24). */
  count?: number;
  seed?: number;
  difficulty?: SynthDifficulty;
  /** Overlays drawn (default 12; the report shows them). */
  overlays?: number;
  /** Called with a one-line message at each stage. */
  log?: (line: string) => void;
  /** Show per-stage progress bars (default true). */
  progress?: boolean;
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
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const outDir = path.resolve(options.outDir);
  const count = options.count ?? 24;
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
    synthesizeDataset({ outDir: dirs.channels, count, seed, difficulty: options.difficulty ?? 'standard' }),
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

  const stats = computeStats(annotations);
  const report = path.join(outDir, 'index.html');
  await writeFileAtomic(
    report,
    buildDemoReport({ outDir, manifest, merge, stats, overlayIds, timings, issues }),
  );
  log(`[demo] report: ${report}`);
  return { outDir, report, manifest, merge, stats, timings, annotationIssues: issues };
}

async function drawOverlays(annotations: ImageAnnotation[], mergedDir: string, overlayDir: string, limit: number): Promise<string[]> {
  await fs.mkdir(overlayDir, { recursive: true });
  const chosen = annotations.slice(0, limit);
  const ids: string[] = [];
  for (const a of chosen) {
    const id = a.filename.replace(/\.[^.]*$/, '');
    const png = await renderOverlay(path.join(mergedDir, a.filename), a);
    await writeFileAtomic(path.join(overlayDir, `${id}.png`), png);
    ids.push(id);
  }
  return ids;
}
