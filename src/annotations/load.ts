/**
 * Load annotations in any supported format (a VOC XML folder or file, COCO JSON, keras-frcnn CSV),
 * checked against the images and validated, with every issue; the common front end of the
 * `annotations` commands.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AnnotationIssue, ImageAnnotation } from './model.js';
import { listVocFiles, loadVocDataset, type LoadOptions } from './dataset.js';
import { parseCocoJson } from './coco.js';
import { parseKerasCsv } from './csv.js';
import { checkImageFile } from './image-check.js';
import { validateAnnotation } from './validate.js';

/** Input formats loadAnnotations reads. */
export const ANNOTATION_FORMATS = ['voc', 'coco', 'csv'] as const;
export type AnnotationFormat = (typeof ANNOTATION_FORMATS)[number];

export interface LoadedAnnotations {
  annotations: ImageAnnotation[];
  /** One id per annotation: the VOC XML name, or the image file name without extension. */
  ids: string[];
  issues: AnnotationIssue[];
  /** Input files with at least one error (a COCO or CSV input is one file). */
  filesWithErrors: string[];
}

/** The input is missing, unreadable or (VOC) holds no XML file; bad content never throws: it becomes issues. */
export class AnnotationInputError extends Error {
  override name = 'AnnotationInputError';
}

const stem = (file: string) => path.basename(file.replace(/\\/g, '/')).replace(/\.[^.]*$/, '');

/**
 * Read `input` as `format`. With validation on (the default), each image is checked (header read
 * with sharp) when `options.imageDir` is given, or always for CSV, which carries no image size: a
 * CSV filepath is looked up under imageDir by its base name, else as written (relative to the
 * working directory, as keras-frcnn does). CSV annotations come back with `filename` = base name and
 * `path` = the CSV filepath.
 */
export async function loadAnnotations(input: string, format: AnnotationFormat, options: LoadOptions = {}): Promise<LoadedAnnotations> {
  let text: string | undefined;
  try {
    if (format === 'voc') await fs.stat(input);
    else text = await fs.readFile(input, 'utf8');
  } catch (err) {
    throw new AnnotationInputError(`cannot read ${input} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (format === 'voc') {
    // An empty folder is almost always the wrong folder (e.g. the images): say so instead of writing nothing.
    if ((await listVocFiles(input)).length === 0) throw new AnnotationInputError(`no .xml files in ${input}`);
    const d = await loadVocDataset(input, options);
    return { annotations: d.items.map((i) => i.annotation), ids: d.items.map((i) => i.id), issues: d.issues, filesWithErrors: d.filesWithErrors };
  }

  const read = format === 'coco' ? parseCocoJson(text!, input) : parseKerasCsv(text!, input);
  const loaded: LoadedAnnotations = { annotations: [], ids: [], issues: [...read.issues], filesWithErrors: [] };
  const { imageDir, validate, ...rest } = options;
  for (const raw of read.annotations) {
    const where = `${input}#${raw.filename}`;
    let a: ImageAnnotation | undefined =
      format === 'csv' ? { ...raw, filename: path.basename(raw.filename.replace(/\\/g, '/')), path: raw.filename } : raw;
    if (validate !== false) {
      const image =
        imageDir !== undefined ? path.join(imageDir, a.filename) : format === 'csv' ? raw.filename : undefined;
      if (image !== undefined) {
        const checked = await checkImageFile(a, image, where);
        loaded.issues.push(...checked.issues);
        a = checked.annotation;
      }
      if (a) {
        const r = validateAnnotation(a, where, rest);
        loaded.issues.push(...r.issues);
        a = r.annotation;
      }
    }
    if (a) {
      loaded.annotations.push(a);
      loaded.ids.push(stem(a.filename));
    }
  }
  if (loaded.issues.some((i) => i.severity === 'error')) loaded.filesWithErrors.push(input);
  return loaded;
}
