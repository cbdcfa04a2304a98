/**
 * Pascal VOC directory layout export: OUT/Annotations/{id}.xml (LabelImg XML), OUT/JPEGImages/
 * (images copied or symlinked from an image folder) and OUT/ImageSets/Main/{train,val,test,trainval}.txt.
 * The id of an image is its file name without extension, as in VOC.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AnnotationIssue, ImageAnnotation } from './model.js';
import { formatVocXml } from './voc-write.js';
import { splitIds, writeSplit, type Split, type SplitOptions } from './split.js';
import { withAtomicOutput, writeFileAtomic } from '../util/atomic.js';

export interface VocLayoutOptions {
  /** Folder holding the images; without it JPEGImages/ is created empty. */
  imageDir?: string;
  /** Symlink images instead of copying them. */
  link?: boolean;
  /** How to fill ImageSets/Main (default seed 0, val 0.2, test 0.1). */
  split?: SplitOptions;
}

export interface VocLayoutResult {
  ids: string[];
  split: Split;
  imagesPlaced: number;
  issues: AnnotationIssue[];
}

export const DEFAULT_SPLIT: SplitOptions = { seed: 0, val: 0.2, test: 0.1 };

/** VOC id of an annotation: its image file name without folders and extension. */
export function vocId(annotation: ImageAnnotation): string {
  const base = path.basename(annotation.filename.replace(/\\/g, '/'));
  return base.replace(/\.[^.]*$/, '') || base;
}

/**
 * Write the VOC layout for `annotations` under `outDir`. A duplicate id or an image that cannot be
 * copied is an error issue (that image is skipped); everything else is written.
 */
export async function writeVocLayout(outDir: string, annotations: readonly ImageAnnotation[], options: VocLayoutOptions = {}): Promise<VocLayoutResult> {
  const annDir = path.join(outDir, 'Annotations');
  const imgDir = path.join(outDir, 'JPEGImages');
  await fs.mkdir(annDir, { recursive: true });
  await fs.mkdir(imgDir, { recursive: true });
  const issues: AnnotationIssue[] = [];
  const ids: string[] = [];
  const seen = new Map<string, string>();
  let imagesPlaced = 0;

  for (const a of annotations) {
    const id = vocId(a);
    const previous = seen.get(id);
    if (previous !== undefined) {
      issues.push({ file: a.filename, field: 'filename', message: `VOC id '${id}' already used by ${previous}; skipped`, severity: 'error' });
      continue;
    }
    seen.set(id, a.filename);
    await writeFileAtomic(path.join(annDir, `${id}.xml`), formatVocXml(a));
    ids.push(id);
    if (options.imageDir === undefined) continue;
    const source = path.resolve(options.imageDir, a.filename);
    const target = path.join(imgDir, path.basename(a.filename));
    try {
      await placeImage(source, target, options.link ?? false);
      imagesPlaced++;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      issues.push({ file: a.filename, field: 'filename', message: `cannot ${options.link ? 'link' : 'copy'} image ${source} (${code})`, severity: 'error' });
    }
  }
  const split = splitIds(ids, options.split ?? DEFAULT_SPLIT);
  await writeSplit(path.join(outDir, 'ImageSets', 'Main'), split);
  return { ids, split, imagesPlaced, issues };
}

async function placeImage(source: string, target: string, link: boolean): Promise<void> {
  await fs.access(source);
  if (link) {
    await withAtomicOutput(target, (tmp) => fs.symlink(source, tmp));
  } else {
    await withAtomicOutput(target, (tmp) => fs.copyFile(source, tmp));
  }
}
