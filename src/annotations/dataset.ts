/**
 * Load a folder of LabelImg VOC XML files into validated annotations plus every issue found.
 * A bad file is reported and skipped; all other files still load.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AnnotationIssue, ImageAnnotation } from './model.js';
import { readVocFile } from './voc-read.js';
import { validateAnnotation, type ValidateOptions } from './validate.js';
import { checkAgainstImage } from './image-check.js';

/** One loaded file: its id (XML name without extension), where it came from, and the annotation. */
export interface LoadedAnnotation {
  id: string;
  source: string;
  annotation: ImageAnnotation;
}

export interface LoadedDataset {
  /** Usable annotations, sorted by id. */
  items: LoadedAnnotation[];
  /** Every issue, errors and warnings, in file order. */
  issues: AnnotationIssue[];
  /** XML files that could not be used at all. */
  failedFiles: string[];
  /** Files with at least one error (failed files and files that lost objects). */
  filesWithErrors: string[];
}

/** List the .xml files of a folder (sorted), or of a single file path. Throws if IN does not exist. */
export async function listVocFiles(input: string): Promise<string[]> {
  const stat = await fs.stat(input);
  if (!stat.isDirectory()) return [input];
  const names = (await fs.readdir(input)).filter((n) => n.toLowerCase().endsWith('.xml') && !n.startsWith('.'));
  return names.sort().map((n) => path.join(input, n));
}

/** Options of loadVocDataset: validation settings, or `validate: false` to take objects as read. */
export interface LoadOptions extends ValidateOptions {
  /** Run validateAnnotation on each file (default true). */
  validate?: boolean;
}

/**
 * Read (and by default validate) every VOC XML file under `input` (a folder, or one file). With
 * `imageDir`, each image header is read too (see checkAgainstImage: missing or unreadable image is an
 * error, an unknown size is filled in). Files are read a few at a time; the result is in file-name
 * order whatever the completion order.
 */
export async function loadVocDataset(input: string, options: LoadOptions = {}): Promise<LoadedDataset> {
  const files = await listVocFiles(input);
  const results = await mapLimited(files, 16, async (file) => {
    const read = await readVocFile(file);
    if (!read.annotation || options.validate === false) return { file, annotation: read.annotation, issues: read.issues };
    const { imageDir, ...rest } = options;
    const issues = [...read.issues];
    let annotation: ImageAnnotation | undefined = read.annotation;
    if (imageDir !== undefined) {
      const image = await checkAgainstImage(annotation, imageDir, file);
      issues.push(...image.issues);
      annotation = image.annotation;
      if (!annotation) return { file, annotation, issues };
    }
    const checked = validateAnnotation(annotation, file, rest);
    return { file, annotation: checked.annotation, issues: [...issues, ...checked.issues] };
  });

  const dataset: LoadedDataset = { items: [], issues: [], failedFiles: [], filesWithErrors: [] };
  for (const r of results) {
    dataset.issues.push(...r.issues);
    if (r.issues.some((i) => i.severity === 'error')) dataset.filesWithErrors.push(r.file);
    if (!r.annotation) {
      dataset.failedFiles.push(r.file);
      continue;
    }
    dataset.items.push({ id: path.basename(r.file).replace(/\.xml$/i, ''), source: r.file, annotation: r.annotation });
  }
  return dataset;
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** One line per issue: "file[:line]: object N (field): message [error]". */
export function formatIssue(issue: AnnotationIssue): string {
  const line = issue.line !== undefined ? `:${issue.line}` : '';
  const object = issue.objectIndex !== undefined ? ` object ${issue.objectIndex}` : '';
  const field = issue.field ? ` (${issue.field})` : '';
  return `${issue.file}${line}:${object}${field} ${issue.message} [${issue.severity}]`;
}
