/**
 * Merging a whole folder of HPA channel sets into `{out}/{id}.png` (the original workflow merged
 * ~31,000 sets): a small pool of sets in flight, progress with ETA, resumable (a valid existing
 * output, i.e. a PNG that decodes fully at the expected size, is skipped; anything else is redone),
 * atomic writes, and a JSON summary that lists every failed set with its reason while all other
 * sets finish.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { TEMP_PREFIX, writeFileAtomic } from '../util/atomic.js';
import { Progress } from '../util/progress.js';
import { discoverChannelSets, type ChannelSet } from './channels.js';
import { ChannelSetError, type ChannelSetErrorKind } from './merge-errors.js';
import { fitLongerSide, mergeSetToPng, type MergeSetToPngOptions } from './merge-set.js';

/** Name of the summary written into the output folder (unless `summaryFile` says otherwise). */
export const MERGE_SUMMARY_NAME = 'merge-summary.json';

export interface MergeFolderOptions extends MergeSetToPngOptions {
  /** Sets in flight at once (default: 2 per core, at least 2): decode, merge and encode overlap. */
  concurrency?: number;
  /** Where to write the JSON summary (default `{out}/merge-summary.json`; null: none). */
  summaryFile?: string | null;
  /** Print progress and ETA to stderr (default false: library calls stay quiet; the CLI sets it). */
  progress?: boolean;
}

/** One failed set in the summary. */
export interface MergeFailure {
  id: string;
  kind: ChannelSetErrorKind | 'error';
  reason: string;
  files: string[];
}

/** The JSON summary (also returned). Counts are of sets; `seconds` is wall time. */
export interface MergeFolderSummary {
  input: string;
  output: string;
  total: number;
  merged: number;
  skipped: number;
  failed: number;
  seconds: number;
  failures: MergeFailure[];
}

/** Default `concurrency`: two sets per core keeps the cores busy while others wait on I/O. */
export function defaultMergeConcurrency(): number {
  return Math.max(2, 2 * os.availableParallelism());
}

/**
 * Merges every set of `inDir` into `outDir` (created if needed). Never throws for a bad set: it
 * lands in `failures`. Throws only when the input folder cannot be listed or the output folder
 * cannot be created.
 */
export async function mergeFolder(inDir: string, outDir: string, options: MergeFolderOptions = {}): Promise<MergeFolderSummary> {
  const concurrency = options.concurrency ?? defaultMergeConcurrency();
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  if (options.size !== undefined) fitLongerSide(1, 1, options.size); // validates size early
  const scan = await discoverChannelSets(inDir);
  await fs.mkdir(outDir, { recursive: true });
  await removeStaleTempFiles(outDir);

  const failures: MergeFailure[] = scan.incomplete.map((s) => ({
    id: s.id,
    kind: s.kind,
    reason: s.reason,
    files: Object.values(s.found).flat() as string[],
  }));
  const total = scan.sets.length + scan.incomplete.length;
  const progress = new Progress(total, { label: 'merge', unit: 'sets', quiet: options.progress !== true });
  for (let i = 0; i < scan.incomplete.length; i++) progress.tick(false);
  let merged = 0;
  let skipped = 0;

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < scan.sets.length) {
      const set = scan.sets[next++]!;
      const outPath = path.join(outDir, `${set.id}.png`);
      try {
        if (await isValidOutput(outPath, set, options.size)) {
          skipped++;
        } else {
          await mergeSetToPng(set, outPath, options);
          merged++;
        }
        progress.tick(true);
      } catch (err) {
        failures.push(toFailure(set, err));
        progress.tick(false);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, scan.sets.length)) }, worker));
  progress.finish();

  failures.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const summary: MergeFolderSummary = {
    input: path.resolve(inDir),
    output: path.resolve(outDir),
    total,
    merged,
    skipped,
    failed: failures.length,
    seconds: progress.elapsedSeconds,
    failures,
  };
  const summaryFile = options.summaryFile === undefined ? path.join(outDir, MERGE_SUMMARY_NAME) : options.summaryFile;
  if (summaryFile !== null) await writeFileAtomic(summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

/**
 * True when `outPath` is a PNG that decodes completely at the size this set would produce.
 * Reads the red file's header for the input size; any doubt means "redo it".
 */
export async function isValidOutput(outPath: string, set: ChannelSet, size?: number): Promise<boolean> {
  try {
    await fs.access(outPath);
  } catch {
    return false;
  }
  try {
    const meta = await sharp(set.files.red).metadata();
    if (!meta.width || !meta.height) return false;
    const expected = size === undefined ? { width: meta.width, height: meta.height } : fitLongerSide(meta.width, meta.height, size);
    const { info } = await sharp(outPath).raw().toBuffer({ resolveWithObject: true });
    return info.width === expected.width && info.height === expected.height && info.channels === 3;
  } catch {
    return false;
  }
}

function toFailure(set: ChannelSet, err: unknown): MergeFailure {
  if (err instanceof ChannelSetError) return { id: set.id, kind: err.kind, reason: err.message, files: err.files };
  const message = err instanceof Error ? err.message : String(err);
  return { id: set.id, kind: 'error', reason: message, files: Object.values(set.files) };
}

// Temp files left by a run that was killed mid-write (never a finished output).
async function removeStaleTempFiles(outDir: string): Promise<void> {
  for (const name of await fs.readdir(outDir)) {
    if (name.startsWith(TEMP_PREFIX) && name.endsWith('.png')) await fs.rm(path.join(outDir, name), { force: true });
  }
}
