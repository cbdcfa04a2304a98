/**
 * Prediction over files for `hpa-detect predict`: plain images and raw HPA channel sets (merged on
 * the fly), one detector, and a pipeline that keeps the detector busy:
 *
 *   load (decode/merge, thread pool) ─▶ detect (in input order, `batch` images at a time) ─▶ write
 *
 * Up to `concurrency` inputs are in the pipeline at once (loading ahead, waiting, being detected or
 * being written); with 1 everything runs one after the other. Batches are runs of consecutive
 * inputs of the same size (deterministic: they do not depend on timing, and images of different
 * sizes are never padded together), so outputs are the same whatever `concurrency` is. A failure
 * of one input (decode, merge, detect, write) is recorded with its files and the rest continue.
 * An input whose record from an earlier run with the same settings exists is not redone (resume)
 * unless `overwrite`. Outputs: see predict-outputs.ts and docs/predict.md.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { TEMP_PREFIX, writeFileAtomic } from '../util/atomic.js';
import { Progress } from '../util/progress.js';
import type { Detector } from './detector.js';
import { type InputProblem, type PredictInput, inputFiles, inputFingerprint, inputPath } from './predict-inputs.js';
import { InputError, type LoadOptions, type LoadedInput, loadPredictInput } from './predict-load.js';
import { boxMeans } from './predict-means.js';
import {
  type ImagePrediction, type PredictFailure, PREDICTIONS_FORMAT, PREDICTIONS_VERSION,
  formatDetectionsCsv, predictionsJsonChunks, readImageRecord, roundCoordinate, roundScore, writeImageOutputs,
} from './predict-outputs.js';
import type { DetectionResult } from './detector.js';

export { IMAGE_EXTENSIONS, listPredictInputs, type PredictInput } from './predict-inputs.js';
export { CSV_HEADER, CSV_HEADER_CHANNELS, type ImagePrediction, type PredictFailure } from './predict-outputs.js';

/** Default images per detector run: 1 (on CPU a larger batch was not faster: docs/predict.md). */
export const DEFAULT_BATCH = 1;
/** Default inputs in the pipeline: enough to load the next batch while one runs and one is written. */
export function defaultConcurrency(batch: number): number {
  return Math.max(4, 3 * batch);
}

/** Options of {@link predictFiles}. */
export interface PredictFilesOptions extends LoadOptions {
  outDir: string;
  /** Names of classes 1..numClasses-1 (index 0 of this array is class 1). */
  classNames: readonly string[];
  /** Keep detections scoring at least this (default 0.7). */
  scoreThreshold?: number;
  /** Images per detector run (default {@link DEFAULT_BATCH}). */
  batch?: number;
  /** Inputs in the pipeline at once (default {@link defaultConcurrency}; at least `batch`). */
  concurrency?: number;
  /** Redo inputs whose outputs exist (default false: resume). */
  overwrite?: boolean;
  /** Write VOC XML and overlay PNGs (default true). */
  voc?: boolean;
  overlays?: boolean;
  /** Identifies the settings (model, preset …) in the per-image records; resume needs equality. */
  runInfo?: Record<string, unknown>;
  /** Progress with ETA on stderr (default false). */
  progress?: boolean;
  /** Inputs found unusable before the run (e.g. incomplete channel sets): reported as failures. */
  problems?: readonly InputProblem[];
  /** Called once per input as its outputs are written (completion order; the results are in input order). */
  onImage?: (p: ImagePrediction, index: number, total: number, skipped: boolean) => void;
  onFailure?: (f: PredictFailure) => void;
}

/** What {@link predictFiles} did. */
export interface PredictSummary {
  /** Successful inputs, in input order (also those resumed from an earlier run). */
  predictions: ImagePrediction[];
  failures: PredictFailure[];
  /** Inputs taken from an earlier run's records. */
  skipped: number;
  seconds: number;
}

type Prepared = { kind: 'skip'; prediction: ImagePrediction } | { kind: 'ok'; loaded: LoadedInput; source?: string } | { kind: 'fail'; failure: PredictFailure };

function failureOf(input: PredictInput, err: unknown): PredictFailure {
  const reason = (err as Error)?.message ?? String(err);
  const files = err instanceof InputError ? err.files : inputFiles(input);
  return { image: inputPath(input), files, reason };
}

function check(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new RangeError(`${name} must be an integer >= 1, got ${v}`);
}

/** Run `detector` over `inputs` (files or {@link PredictInput}s), writing outputs under `outDir`. */
export async function predictFiles(detector: Detector, inputs: readonly (string | PredictInput)[], o: PredictFilesOptions): Promise<PredictSummary> {
  const threshold = o.scoreThreshold ?? 0.7;
  if (!(threshold >= 0 && threshold <= 1)) throw new RangeError(`scoreThreshold must be in [0, 1], got ${threshold}`);
  check('batch', o.batch);
  check('concurrency', o.concurrency);
  const batch = o.batch ?? DEFAULT_BATCH;
  const concurrency = Math.max(batch, o.concurrency ?? defaultConcurrency(batch));
  const items: PredictInput[] = inputs.map((i) => (typeof i === 'string' ? { kind: 'image', name: path.parse(i).name, file: i } : i));
  const voc = o.voc !== false;
  const overlays = o.overlays !== false;
  const runKey = { ...o.runInfo, scoreThreshold: threshold, classNames: o.classNames, mergeMode: o.mergeMode ?? 'sum', voc, overlays };
  const outOpts = { voc, overlays, runKey };
  for (const sub of ['', 'images', voc ? 'voc' : '', overlays ? 'overlays' : ''].filter((s, i) => i === 0 || s)) {
    const dir = path.join(o.outDir, sub);
    await mkdir(dir, { recursive: true });
    // Temp files of a run that was killed mid-write.
    for (const f of await readdir(dir)) if (f.startsWith(TEMP_PREFIX)) await rm(path.join(dir, f), { force: true });
  }

  const n = items.length;
  const results: (ImagePrediction | undefined)[] = new Array(n);
  // Failures in input order at the end (problems found before the run first).
  const failed: { i: number; f: PredictFailure }[] = [];
  const progress = new Progress(n + (o.problems?.length ?? 0), { label: 'predict', unit: 'images', quiet: o.progress !== true });
  const fail = (i: number, f: PredictFailure) => {
    failed.push({ i, f });
    o.onFailure?.(f);
    progress.tick(false);
  };
  for (const p of o.problems ?? []) fail(-1, { image: p.image, files: p.files, reason: p.reason });
  let skipped = 0;

  // Two inputs with one output name would overwrite each other's files: the later one fails.
  const owner = new Map<string, string>();
  const duplicate: (string | undefined)[] = items.map((it) => {
    const prev = owner.get(it.name);
    if (prev !== undefined) return `output name '${it.name}' is already used by ${prev}`;
    owner.set(it.name, inputPath(it));
    return undefined;
  });

  // The pipeline window: input j starts loading once fewer than `concurrency` inputs are in flight.
  // Entries are dropped once consumed: a settled promise keeps its decoded image alive otherwise.
  const loads: ({ promise: Promise<Prepared>; resolve: (p: Prepared) => void } | undefined)[] = items.map(() => {
    let resolve!: (p: Prepared) => void;
    const promise = new Promise<Prepared>((r) => (resolve = r));
    return { promise, resolve };
  });
  const take = async (j: number): Promise<Prepared> => {
    const p = await loads[j]!.promise;
    loads[j] = undefined;
    return p;
  };
  let nextStart = 0;
  let inFlight = 0;
  const prepare = async (j: number): Promise<Prepared> => {
    const input = items[j]!;
    if (duplicate[j]) return { kind: 'fail', failure: { image: inputPath(input), files: inputFiles(input), reason: duplicate[j]! } };
    const source = await inputFingerprint(input);
    if (!o.overwrite && source !== undefined) {
      const prediction = await readImageRecord(o.outDir, input.name, source, outOpts);
      if (prediction) return { kind: 'skip', prediction };
    }
    try {
      return { kind: 'ok', loaded: await loadPredictInput(input, o), source };
    } catch (err) {
      return { kind: 'fail', failure: failureOf(input, err) };
    }
  };
  const pump = () => {
    while (inFlight < concurrency && nextStart < n) {
      const j = nextStart++;
      inFlight++;
      void prepare(j).then(loads[j]!.resolve);
    }
  };
  const release = () => {
    inFlight--;
    pump();
  };
  pump();

  const writes: Promise<void>[] = [];
  const finish = (i: number, loaded: LoadedInput, source: string | undefined, r: DetectionResult) => {
    const input = items[i]!;
    const p = toPrediction(input, loaded, r, threshold, o.classNames);
    writes.push(
      writeImageOutputs(o.outDir, input, source, loaded.rgb, p, outOpts).then(
        () => {
          results[i] = p;
          progress.tick(true);
          o.onImage?.(p, i, n, false);
        },
        (err) => fail(i, failureOf(input, new Error(`${inputPath(input)}: cannot write outputs: ${(err as Error).message}`))),
      ).finally(release),
    );
  };

  for (let i = 0; i < n; ) {
    const first = await take(i);
    if (first.kind !== 'ok') {
      if (first.kind === 'skip') {
        results[i] = first.prediction;
        skipped++;
        progress.tick(true);
        o.onImage?.(first.prediction, i, n, true);
      } else fail(i, first.failure);
      release();
      i++;
      continue;
    }
    const group: { i: number; loaded: LoadedInput; source?: string }[] = [{ i, loaded: first.loaded, source: first.source }];
    const { width, height } = first.loaded.rgb;
    while (group.length < batch && i + group.length < n) {
      const j = i + group.length;
      const next = await loads[j]!.promise; // peeked: taken here, or as the next `first`
      if (next.kind !== 'ok' || next.loaded.rgb.width !== width || next.loaded.rgb.height !== height) break;
      loads[j] = undefined;
      group.push({ i: j, loaded: next.loaded, source: next.source });
    }
    let detections: DetectionResult[] | undefined;
    try {
      detections = await detector.detectBatch(group.map((g) => g.loaded.rgb));
    } catch {
      // Run the batch's images one by one so the failure is pinned on its image.
    }
    for (let k = 0; k < group.length; k++) {
      const g = group[k]!;
      try {
        finish(g.i, g.loaded, g.source, detections ? detections[k]! : await detector.detect(g.loaded.rgb));
      } catch (err) {
        fail(g.i, failureOf(items[g.i]!, new Error(`${inputPath(items[g.i]!)}: detection failed: ${(err as Error).message}`)));
        release();
      }
    }
    i += group.length;
  }
  await Promise.all(writes);
  progress.finish();

  const predictions = results.filter((p): p is ImagePrediction => p !== undefined);
  const failures = failed.sort((a, b) => a.i - b.i).map((x) => x.f);
  const withSets = items.some((it) => it.kind === 'channels');
  await writeFileAtomic(path.join(o.outDir, 'detections.csv'), formatDetectionsCsv(predictions, withSets));
  const doc: Record<string, unknown> = {
    format: PREDICTIONS_FORMAT,
    version: PREDICTIONS_VERSION,
    ...o.runInfo,
    provider: detector.provider,
    preset: detector.config.preset,
    scoreThreshold: threshold,
    // Every detection the model returned is in the file: those under scoreThreshold in belowThreshold.
    modelScoreThreshold: detector.config.box.scoreThresh,
    classNames: o.classNames,
    images: predictions,
    failures,
  };
  await writeFileAtomic(path.join(o.outDir, 'predictions.json'), predictionsJsonChunks(doc));
  return { predictions, failures, skipped, seconds: progress.elapsedSeconds };
}

/** Kept detections of one image with their channel means; the others for evaluation. */
function toPrediction(input: PredictInput, loaded: LoadedInput, r: DetectionResult, threshold: number, classNames: readonly string[]): ImagePrediction {
  const keep: number[] = [];
  const below: number[] = [];
  for (let k = 0; k < r.scores.length; k++) (r.scores[k]! >= threshold ? keep : below).push(k);
  const boxOf = (k: number) => Array.from(r.boxes.subarray(4 * k, 4 * k + 4)) as [number, number, number, number];
  const className = (label: number) => classNames[label - 1] ?? `class${label}`;
  const boxes = keep.map(boxOf);
  const means = boxMeans(loaded.planes, boxes);
  return {
    image: inputPath(input),
    name: input.name,
    source: input.kind === 'image' ? 'image' : 'channels',
    ...(input.kind === 'channels' ? { files: { ...input.set.files } } : {}),
    width: loaded.rgb.width,
    height: loaded.rgb.height,
    channels: loaded.channels,
    bitDepth: loaded.bits,
    detections: keep.map((k, j) => {
      const label = r.labels[k]!;
      return {
        label,
        className: className(label),
        score: r.scores[k]!,
        box: boxes[j]!,
        means: Object.fromEntries(loaded.channels.map((c, ci) => [c, means[j]![ci]!])),
      };
    }),
    belowThreshold: { label: below.map((k) => r.labels[k]!), score: below.map((k) => roundScore(r.scores[k]!)), box: below.flatMap((k) => boxOf(k).map(roundCoordinate)) },
  };
}
