/**
 * A detection dataset for Faster R-CNN training over VOC (a folder of LabelImg XML), keras-frcnn
 * CSV or COCO JSON annotations, with images that are files (merged HPA RGB or any RGB) or raw HPA
 * channel sets merged on the fly. Sample i is decoded on demand: image float CHW in [0, 1] and the
 * torchvision target {boxes [n, 4] x1,y1,x2,y2 in pixels, labels [n] in 1..K}.
 *
 * Records are sorted by id (the image file name without extension), so the same data in any of the
 * three formats gives the same sample at every index.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadAnnotations, type AnnotationFormat } from '../annotations/load.js';
import type { AnnotationIssue, ImageAnnotation } from '../annotations/model.js';
import { validateAnnotation, type OutsidePolicy } from '../annotations/validate.js';
import { discoverChannelSets, type ChannelSet } from '../hpa/channels.js';
import type { MergeSetOptions } from '../hpa/merge-set.js';
import type { ImageTensor } from '../infer/transform.js';
import { ClassMap } from './class-map.js';
import { decodeImage, describeSource, imageSize, type ImageSource } from './image-source.js';

/** torchvision's detection target of one image. */
export interface DetectionTarget {
  /** [n, 4] row-major x1, y1, x2, y2 in pixels of the image tensor. */
  boxes: Float32Array;
  /** [n] label ids 1..K. */
  labels: Int32Array;
  /** [n] 1 for a difficult box (only with `difficult: 'keep'`; evaluation ignores them). */
  difficult?: Uint8Array;
}

/** A copy of `t` with its own arrays. */
export function copyTarget(t: DetectionTarget): DetectionTarget {
  const copy: DetectionTarget = { boxes: t.boxes.slice(), labels: t.labels.slice() };
  if (t.difficult) copy.difficult = t.difficult.slice();
  return copy;
}

/** One decoded example. */
export interface DetectionSample {
  id: string;
  image: ImageTensor;
  target: DetectionTarget;
}

/** Where the annotations are and how to read them. */
export interface DetectionDatasetOptions {
  /** A VOC XML folder (or file), a keras-frcnn CSV file, or a COCO JSON file. */
  annotations: string;
  format: AnnotationFormat;
  /**
   * Folder of the images (or of the raw HPA channel files). Required for VOC; COCO defaults to the
   * JSON's folder; CSV paths are taken as written (relative to the working directory, as
   * keras-frcnn does) unless this is given, then looked up here by base name.
   */
  imageDir?: string;
  /** Class names in label order (ids 1..K); default: every class seen, sorted. */
  classes?: readonly string[];
  /** Boxes of a class not in `classes`: 'error' (default, throws ClassMapError naming class and file) or 'skip' (reported in issues). */
  unknownClass?: 'error' | 'skip';
  /** Difficult boxes: 'skip' (default, as py-faster-rcnn trains) or 'keep' (flagged in target.difficult). */
  difficult?: 'skip' | 'keep';
  /** Only these ids (e.g. the lines of train.txt), in this set; an id with no annotation throws. */
  ids?: readonly string[];
  /** Boxes reaching outside the image (see validateAnnotation): 'clip' (default), 'reject', 'keep'. */
  outside?: OutsidePolicy;
  /** Options of the on-the-fly merge of channel sets (mode, weights). */
  merge?: Omit<MergeSetOptions, 'tensor'>;
}

/** One usable example before decoding. */
export interface DetectionRecord {
  id: string;
  /** The annotation file (and image) it came from, for messages. */
  file: string;
  source: ImageSource;
  width: number;
  height: number;
  target: DetectionTarget;
}

/** What loading dropped or changed; nothing is dropped silently. */
export interface DetectionDatasetReport {
  /** Every issue: parse errors, bad or clipped boxes, skipped images, skipped classes. */
  issues: AnnotationIssue[];
  /** Difficult boxes left out (`difficult: 'skip'`). */
  skippedDifficult: number;
  /** Images left out because their image could not be found or sized. */
  skippedImages: number;
}

const stem = (file: string) => path.basename(file.replace(/\\/g, '/')).replace(/\.[^.]*$/, '');

/** Detection examples over annotation files; see the file comment. */
export class DetectionDataset {
  private constructor(
    readonly records: readonly DetectionRecord[],
    readonly classes: ClassMap,
    readonly report: DetectionDatasetReport,
    private readonly merge: Omit<MergeSetOptions, 'tensor'>,
  ) {}

  /** Read the annotations and locate (and size) every image; pixels are decoded later, per sample. */
  static async load(options: DetectionDatasetOptions): Promise<DetectionDataset> {
    const { format } = options;
    if (format === 'voc' && options.imageDir === undefined) throw new TypeError(`imageDir is required for VOC annotations (${options.annotations})`);
    const imageDir = options.imageDir ?? (format === 'coco' ? path.dirname(options.annotations) : undefined);
    const read = await loadAnnotations(options.annotations, format, { validate: false });
    const report: DetectionDatasetReport = { issues: [...read.issues], skippedDifficult: 0, skippedImages: 0 };

    let items = read.annotations.map((annotation, i) => ({ id: read.ids[i]!, annotation }));
    if (options.ids) {
      const byId = new Map(items.map((it) => [it.id, it]));
      const missing = options.ids.filter((id) => !byId.has(id));
      if (missing.length > 0) throw new RangeError(`${options.annotations}: no annotation for id(s) ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`);
      items = [...new Set(options.ids)].map((id) => byId.get(id)!);
    }
    items.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

    const classes = options.classes ? new ClassMap(options.classes) : ClassMap.fromAnnotations(items.map((it) => it.annotation));
    const locate = sourceLocator(format, imageDir);
    const records: DetectionRecord[] = [];
    for (const { id, annotation } of items) {
      const where = format === 'voc' ? path.join(options.annotations, `${id}.xml`) : `${options.annotations}#${annotation.filename}`;
      const source = await locate(annotation);
      if (!source) {
        report.issues.push({ file: where, field: 'filename', message: `image not found: ${annotation.path ?? annotation.filename}${imageDir ? ` (looked in ${imageDir}, also for an HPA channel set)` : ''}; image skipped`, severity: 'error' });
        report.skippedImages++;
        continue;
      }
      const size = await imageSize(source);
      if ((annotation.width && annotation.width !== size.width) || (annotation.height && annotation.height !== size.height)) {
        report.issues.push({ file: where, field: 'size', message: `annotation says ${annotation.width}x${annotation.height}, ${describeSource(source)} is ${size.width}x${size.height}; image skipped`, severity: 'error' });
        report.skippedImages++;
        continue;
      }
      const checked = validateAnnotation({ ...annotation, ...size }, where, { outside: options.outside ?? 'clip' });
      report.issues.push(...checked.issues);
      if (!checked.annotation) {
        report.skippedImages++;
        continue;
      }
      records.push({ id, file: where, source, ...size, target: toTarget(checked.annotation, where, classes, options, report) });
    }
    return new DetectionDataset(records, classes, report, options.merge ?? {});
  }

  /** Number of examples. */
  get size(): number {
    return this.records.length;
  }

  /** Example ids in index order. */
  get ids(): string[] {
    return this.records.map((r) => r.id);
  }

  /** Decode example `index`: the image and a fresh copy of its target (callers may change both). */
  async get(index: number): Promise<DetectionSample> {
    const record = this.records[index];
    if (!Number.isInteger(index) || !record) throw new RangeError(`index must be an integer in [0, ${this.size - 1}], got ${index}`);
    const image = await decodeImage(record.source, this.merge);
    if (image.width !== record.width || image.height !== record.height) {
      throw new Error(`${describeSource(record.source)} decoded to ${image.width}x${image.height}, its header said ${record.width}x${record.height}`);
    }
    return { id: record.id, image, target: copyTarget(record.target) };
  }
}

/** The image of an annotation: the file if it exists, else an HPA channel set whose id is the file's stem. */
function sourceLocator(format: AnnotationFormat, imageDir: string | undefined): (a: ImageAnnotation) => Promise<ImageSource | undefined> {
  // One listing per folder (CSV paths may point into several), shared by all its images.
  const setsByDir = new Map<string, Promise<Map<string, ChannelSet>>>();
  return async (a) => {
    const file = format === 'csv' && imageDir === undefined ? (a.path ?? a.filename) : path.join(imageDir!, a.filename);
    if (existsSync(file)) return { kind: 'file', path: file };
    const dir = path.dirname(file);
    let sets = setsByDir.get(dir);
    if (!sets) {
      sets = discoverChannelSets(dir)
        .then((scan) => new Map(scan.sets.map((s) => [s.id, s])))
        .catch(() => new Map<string, ChannelSet>());
      setsByDir.set(dir, sets);
    }
    const set = (await sets).get(stem(a.filename));
    return set ? { kind: 'channels', set } : undefined;
  };
}

function toTarget(a: ImageAnnotation, where: string, classes: ClassMap, options: DetectionDatasetOptions, report: DetectionDatasetReport): DetectionTarget {
  const keepDifficult = options.difficult === 'keep';
  const boxes: number[] = [], labels: number[] = [], difficult: number[] = [];
  a.objects.forEach((o) => {
    if (o.difficult && !keepDifficult) {
      report.skippedDifficult++;
      return;
    }
    if (!classes.has(o.name) && options.unknownClass === 'skip') {
      // No objectIndex: validation may have dropped earlier objects, so the box is named by its coordinates.
      report.issues.push({ file: where, field: 'name', message: `class '${o.name}' (box ${o.x1},${o.y1},${o.x2},${o.y2}) is not in the class list; box skipped`, severity: 'warning' });
      return;
    }
    labels.push(classes.labelOf(o.name, where));
    boxes.push(o.x1, o.y1, o.x2, o.y2);
    difficult.push(o.difficult ? 1 : 0);
  });
  const target: DetectionTarget = { boxes: Float32Array.from(boxes), labels: Int32Array.from(labels) };
  if (keepDifficult) target.difficult = Uint8Array.from(difficult);
  return target;
}
