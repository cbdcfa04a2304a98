/**
 * Writes a synthetic dataset to a folder (layout documented in docs/synth.md):
 *   {id}_red.png, {id}_green.png, {id}_blue.png, {id}_yellow.png   8-bit gray channels (Kaggle 2018 style)
 *   {id}.xml             LabelImg VOC; filename {id}.png is the merged image `hpa-detect merge` writes
 *   masks/{id}_{k}.png   instance mask of object k of {id}.xml (0-based, XML order), 0/255, full size
 *   manifest.json        seed, difficulty, parameters, per-image counts
 * Every file is written atomically; the same options give byte-identical files.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { formatVocXml } from '../annotations/voc-write.js';
import type { ImageAnnotation } from '../annotations/model.js';
import { synthParams, type SynthDifficulty, type SynthParams } from './params.js';
import { CHANNEL_NAMES, generateImage, type SynthImage } from './generate.js';
import { encodeFilteredRows, encodeGrayPng } from './png.js';
import { toPngRows } from './mask.js';
import { NUCLEOLI } from './cell.js';

/** What to generate. */
export interface SynthOptions {
  /** Output folder (created if missing). */
  outDir: string;
  /** Number of images, ≥ 1. */
  count: number;
  /** Dataset seed, an integer in [0, 2³²). */
  seed: number;
  /** Difficulty level (default 'standard'). */
  difficulty?: SynthDifficulty;
  /** Image side in pixels (default 512; square images). */
  size?: number;
  /** Called after each image is written. */
  onImage?: (summary: SynthImageSummary) => void;
}

/** Per-image line of the manifest. */
export interface SynthImageSummary {
  id: string;
  cells: number;
  nucleoli: number;
  notNucleoli: number;
  ambiguous: number;
  touching: number;
  overlapping: number;
  truncated: number;
  imaging: { blurSigma: number; noiseSigma: number; gains: Record<string, number> };
}

/** Contents of manifest.json. */
export interface SynthManifest {
  generator: 'hpa-detect synth';
  formatVersion: 1;
  seed: number;
  difficulty: SynthDifficulty;
  width: number;
  height: number;
  count: number;
  files: Record<string, string>;
  classes: string[];
  params: SynthParams;
  images: SynthImageSummary[];
}

/** Largest accepted image side (memory: ~40 bytes per pixel while rendering). */
export const MAX_SYNTH_SIZE = 4096;
/** Smallest accepted image side: a cell must fit. */
export const MIN_SYNTH_SIZE = 192;

/** Check the options; throws a TypeError/RangeError naming the bad one. */
export function validateSynthOptions(o: SynthOptions): Required<Omit<SynthOptions, 'onImage'>> {
  if (typeof o.outDir !== 'string' || o.outDir === '') throw new TypeError('outDir must be a non-empty path');
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > 1_000_000) {
    throw new RangeError(`count must be an integer in [1, 1000000], got ${o.count}`);
  }
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer in [0, 4294967295], got ${o.seed}`);
  }
  const difficulty = o.difficulty ?? 'standard';
  synthParams(difficulty);
  const size = o.size ?? 512;
  if (!Number.isInteger(size) || size < MIN_SYNTH_SIZE || size > MAX_SYNTH_SIZE) {
    throw new RangeError(`size must be an integer in [${MIN_SYNTH_SIZE}, ${MAX_SYNTH_SIZE}], got ${size}`);
  }
  return { outDir: o.outDir, count: o.count, seed: o.seed, difficulty, size };
}

/** Image id of index i in a dataset of `count` images: synth_0000, synth_0001, ... */
export function synthId(i: number, count: number): string {
  return `synth_${String(i).padStart(Math.max(4, String(count - 1).length), '0')}`;
}

/** The VOC annotation of one generated image (object k ↔ masks/{id}_{k}.png). */
export function synthAnnotation(id: string, image: SynthImage): ImageAnnotation {
  return {
    filename: `${id}.png`,
    width: image.width,
    height: image.height,
    depth: 3,
    // Instance masks exist for every object (masks/), as VOC's flag says.
    segmented: true,
    objects: image.records.map((r) => ({
      name: r.className,
      ...r.box,
      pose: 'Unspecified',
      truncated: r.truncated,
      difficult: r.ambiguous,
    })),
  };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function summarize(id: string, image: SynthImage): SynthImageSummary {
  const r = image.records;
  const gains: Record<string, number> = {};
  for (const name of CHANNEL_NAMES) gains[name] = round3(image.imaging.gains[name]);
  return {
    id,
    cells: r.length,
    nucleoli: r.filter((c) => c.className === NUCLEOLI).length,
    notNucleoli: r.filter((c) => c.className !== NUCLEOLI).length,
    ambiguous: r.filter((c) => c.ambiguous).length,
    touching: r.filter((c) => c.relation === 'touching').length,
    overlapping: r.filter((c) => c.relation === 'overlapping').length,
    truncated: r.filter((c) => c.truncated).length,
    imaging: { blurSigma: round3(image.imaging.blurSigma), noiseSigma: round3(image.imaging.noiseSigma), gains },
  };
}

/** Encode and write all files of one image. */
async function writeImage(outDir: string, id: string, image: SynthImage, staleMasks: Set<string>): Promise<void> {
  const { width, height } = image;
  const writes: Promise<void>[] = [];
  for (const name of CHANNEL_NAMES) {
    writes.push(
      encodeGrayPng(image.channels[name], width, height).then((png) => writeFileAtomic(path.join(outDir, `${id}_${name}.png`), png)),
    );
  }
  image.cells.forEach((cell, k) => {
    const file = `${id}_${k}.png`;
    staleMasks.delete(file);
    writes.push(
      encodeFilteredRows(toPngRows(cell.mask, width, height), width, height).then((png) =>
        writeFileAtomic(path.join(outDir, 'masks', file), png),
      ),
    );
  });
  writes.push(writeFileAtomic(path.join(outDir, `${id}.xml`), formatVocXml(synthAnnotation(id, image))));
  await Promise.all(writes);
  // Masks of this id left by an earlier run with more cells would be mistaken for objects: remove them.
  const prefix = `${id}_`;
  for (const file of [...staleMasks]) {
    if (file.startsWith(prefix) && /^\d+\.png$/.test(file.slice(prefix.length))) {
      await fs.rm(path.join(outDir, 'masks', file), { force: true });
      staleMasks.delete(file);
    }
  }
}

/**
 * Generate and write a dataset; returns its manifest (also written as manifest.json).
 * Image generation (CPU, main thread) overlaps with the encoding and writing of the previous
 * image (thread pool). Throws TypeError/RangeError for bad options and the fs error (with the
 * path) when the folder cannot be written.
 */
export async function synthesizeDataset(options: SynthOptions): Promise<SynthManifest> {
  const o = validateSynthOptions(options);
  const params = synthParams(o.difficulty);
  await fs.mkdir(path.join(o.outDir, 'masks'), { recursive: true });
  const staleMasks = new Set(await fs.readdir(path.join(o.outDir, 'masks')));

  const images: SynthImageSummary[] = [];
  let pending: Promise<void> | undefined;
  for (let i = 0; i < o.count; i++) {
    const id = synthId(i, o.count);
    const image = generateImage(o.seed, i, params, o.size, o.size);
    const summary = summarize(id, image);
    if (pending) await pending;
    pending = writeImage(o.outDir, id, image, staleMasks).then(() => options.onImage?.(summary));
    images.push(summary);
  }
  await pending;

  const manifest: SynthManifest = {
    generator: 'hpa-detect synth',
    formatVersion: 1,
    seed: o.seed,
    difficulty: o.difficulty,
    width: o.size,
    height: o.size,
    count: o.count,
    files: {
      channels: '{id}_{red,green,blue,yellow}.png',
      annotation: '{id}.xml',
      masks: 'masks/{id}_{k}.png (k = 0-based object index in {id}.xml)',
      mergedImage: '{id}.png (written by `hpa-detect merge`, named in the XML)',
    },
    classes: [NUCLEOLI, 'Not Nucleoli'],
    params,
    images,
  };
  await writeFileAtomic(path.join(o.outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
