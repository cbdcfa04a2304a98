/**
 * Ground truth for `hpa-detect evaluate`, through the project's annotation readers
 * (loadAnnotations: LabelImg VOC folder, keras-frcnn CSV or COCO JSON, validated as
 * `annotations convert` does: boxes clipped to the image, zero-area boxes dropped with an error).
 * Images are not needed (VOC and COCO carry their size); with `imageDir` each image is checked and
 * sized, which a CSV needs (it has no size).
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadAnnotations, type AnnotationFormat } from '../annotations/load.js';
import type { AnnotationIssue, ImageAnnotation } from '../annotations/model.js';

/** Ground truth read from one input. */
export interface GroundTruthSet {
  /** One per usable image, in the reader's order; `id` is the file name without extension. */
  images: { id: string; annotation: ImageAnnotation }[];
  /** Every issue (warnings, dropped boxes, dropped files). */
  issues: AnnotationIssue[];
  /** Issues that dropped a whole file or entry: evaluating without it would be wrong. */
  fatal: AnnotationIssue[];
  /** For a COCO input: image id → file name and category id → name, to read COCO results. */
  coco?: { imageNames: Map<number, string>; categoryNames: Map<number, string> };
}

/** The format of `input` from its name: a folder is VOC, `.json` COCO, anything else a keras-frcnn CSV. */
export async function guessAnnotationFormat(input: string): Promise<AnnotationFormat> {
  const st = await stat(input).catch(() => undefined);
  if (st?.isDirectory() || input.toLowerCase().endsWith('.xml')) return 'voc';
  return input.toLowerCase().endsWith('.json') ? 'coco' : 'csv';
}

/** Read `input` as `format`; throws AnnotationInputError (naming the file) when it cannot be read. */
export async function readGroundTruth(input: string, format: AnnotationFormat, imageDir?: string): Promise<GroundTruthSet> {
  const loaded = await loadAnnotations(input, format, imageDir !== undefined ? { imageDir } : {});
  const set: GroundTruthSet = {
    images: loaded.annotations.map((annotation, i) => ({ id: loaded.ids[i]!, annotation })),
    issues: loaded.issues,
    // A box-level problem names its object; anything else dropped a file, an image or an entry.
    fatal: loaded.issues.filter((i) => i.severity === 'error' && i.objectIndex === undefined),
  };
  if (format === 'coco') set.coco = await cocoIds(input);
  return set;
}

// The id maps COCO results refer to; the file was parsed once already, so it is valid JSON here.
async function cocoIds(file: string): Promise<GroundTruthSet['coco']> {
  const doc = JSON.parse(await readFile(file, 'utf8')) as { images?: unknown; categories?: unknown };
  const imageNames = new Map<number, string>(), categoryNames = new Map<number, string>();
  if (Array.isArray(doc.images)) for (const im of doc.images) if (Number.isInteger(im?.id) && typeof im?.file_name === 'string') imageNames.set(im.id, path.basename(im.file_name));
  if (Array.isArray(doc.categories)) for (const c of doc.categories) if (Number.isInteger(c?.id) && typeof c?.name === 'string') categoryNames.set(c.id, c.name);
  return { imageNames, categoryNames };
}
