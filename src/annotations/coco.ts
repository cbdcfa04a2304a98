/**
 * COCO detection JSON export and import. Boxes are [x, y, w, h] in continuous pixels
 * (x = x1, w = x2 - x1), area = w * h, iscrowd 0. Category ids are stable: 1..K in the order of the
 * given class list, else sorted by name (0 stays free for torchvision's background).
 * VOC details COCO has no field for (folder, path, depth, segmented, pose, truncated, difficult) ride
 * along in an extra `voc` object per image and annotation, which COCO tools ignore, so that
 * VOC -> COCO -> VOC loses nothing; a prediction's score goes in `score` as in COCO results.
 */
import type { AnnotationIssue, BoxObject, ImageAnnotation } from './model.js';

export interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
  voc?: { folder?: string; path?: string; depth?: number; segmented?: boolean; verified?: boolean };
}
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  area: number;
  iscrowd: 0 | 1;
  segmentation: number[][];
  score?: number;
  voc?: { pose?: string; truncated?: boolean; difficult?: boolean };
}
export interface CocoCategory {
  id: number;
  name: string;
  supercategory: string;
}
export interface CocoDataset {
  info: { description: string; version: string; date_created: string };
  licenses: unknown[];
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
}

export interface CocoExportOptions {
  /** Class names in id order (ids 1..K); classes seen but not listed follow, sorted. */
  classes?: readonly string[];
  /** `info.description`. */
  description?: string;
  /** `info.date_created`; fixed by the caller for reproducible output (default: now). */
  dateCreated?: string;
}

/** Category names in id order: the given list first, then any other seen class, sorted. */
export function categoryNames(annotations: readonly ImageAnnotation[], classes: readonly string[] = []): string[] {
  const seen = new Set<string>();
  for (const a of annotations) for (const o of a.objects) seen.add(o.name);
  const extra = [...seen].filter((n) => !classes.includes(n)).sort();
  return [...new Set([...classes, ...extra])];
}

/** Build a COCO dataset: image ids 1..N in input order, annotation ids 1..M in box order. */
export function toCoco(annotations: readonly ImageAnnotation[], options: CocoExportOptions = {}): CocoDataset {
  const names = categoryNames(annotations, options.classes);
  const idOf = new Map(names.map((n, i) => [n, i + 1]));
  const images: CocoImage[] = [];
  const boxes: CocoAnnotation[] = [];
  annotations.forEach((a, i) => {
    const image: CocoImage = { id: i + 1, file_name: a.filename, width: a.width, height: a.height };
    const voc = defined({ folder: a.folder, path: a.path, depth: a.depth, segmented: a.segmented, verified: a.verified });
    if (voc) image.voc = voc;
    images.push(image);
    for (const o of a.objects) {
      const w = o.x2 - o.x1;
      const h = o.y2 - o.y1;
      const box: CocoAnnotation = {
        id: boxes.length + 1,
        image_id: image.id,
        category_id: idOf.get(o.name)!,
        bbox: [o.x1, o.y1, w, h],
        area: Math.max(0, w) * Math.max(0, h),
        iscrowd: 0,
        segmentation: [],
      };
      if (o.score !== undefined) box.score = o.score;
      const extra = defined({ pose: o.pose, truncated: o.truncated, difficult: o.difficult });
      if (extra) box.voc = extra;
      boxes.push(box);
    }
  });
  return {
    info: { description: options.description ?? 'hpa-detect export', version: '1.0', date_created: options.dateCreated ?? new Date().toISOString() },
    licenses: [],
    images,
    annotations: boxes,
    categories: names.map((name, i) => ({ id: i + 1, name, supercategory: 'cell' })),
  };
}

/**
 * COCO JSON text with one image, annotation or category per line: diffable and far smaller than
 * fully indented JSON, still plain JSON for pycocotools.
 */
export function formatCocoJson(dataset: CocoDataset): string {
  const list = (items: unknown[]) => (items.length ? `[\n  ${items.map((i) => JSON.stringify(i)).join(',\n  ')}\n ]` : '[]');
  return [
    '{',
    ` "info": ${JSON.stringify(dataset.info)},`,
    ` "licenses": ${JSON.stringify(dataset.licenses)},`,
    ` "images": ${list(dataset.images)},`,
    ` "annotations": ${list(dataset.annotations)},`,
    ` "categories": ${list(dataset.categories)}`,
    '}',
    '',
  ].join('\n');
}

/** The object without its undefined keys, or undefined when none is left. */
function defined<T extends object>(o: T): Partial<T> | undefined {
  const out = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  return Object.keys(out).length ? out : undefined;
}

export interface CocoImportResult {
  annotations: ImageAnnotation[];
  issues: AnnotationIssue[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Map a parsed COCO JSON document back to annotations (one per image, in `images` order).
 * `file` names the source in issues. A malformed image, category or annotation entry is reported
 * by its index and id and skipped; the rest is imported. `iscrowd: 1` boxes come back as
 * difficult (both mean "do not count this box" in evaluation), with a warning.
 */
export function fromCoco(doc: unknown, file: string): CocoImportResult {
  const issues: AnnotationIssue[] = [];
  const report = (severity: AnnotationIssue['severity'], field: string, message: string) =>
    issues.push({ file, field, message, severity });
  if (!isObj(doc)) {
    report('error', '(root)', 'expected a JSON object with images, annotations and categories');
    return { annotations: [], issues };
  }
  const list = (key: string): unknown[] => {
    const v = doc[key];
    if (Array.isArray(v)) return v;
    report('error', key, v === undefined ? 'missing' : 'must be an array');
    return [];
  };

  const categories = new Map<number, string>();
  list('categories').forEach((c, i) => {
    if (!isObj(c) || !Number.isInteger(c['id']) || typeof c['name'] !== 'string' || c['name'] === '') {
      return report('error', `categories[${i}]`, 'needs an integer id and a non-empty name; skipped');
    }
    if (categories.has(c['id'] as number)) return report('error', `categories[${i}]`, `duplicate category id ${String(c['id'])}; skipped`);
    categories.set(c['id'] as number, c['name']);
  });

  const images = new Map<number, ImageAnnotation>();
  list('images').forEach((im, i) => {
    if (!isObj(im) || !Number.isInteger(im['id']) || typeof im['file_name'] !== 'string' || im['file_name'] === '') {
      return report('error', `images[${i}]`, 'needs an integer id and a file_name; skipped');
    }
    const id = im['id'] as number;
    if (images.has(id)) return report('error', `images[${i}]`, `duplicate image id ${id}; skipped`);
    const a: ImageAnnotation = {
      filename: im['file_name'],
      width: isNum(im['width']) ? im['width'] : 0,
      height: isNum(im['height']) ? im['height'] : 0,
      depth: 3,
      objects: [],
    };
    if (!isNum(im['width']) || !isNum(im['height'])) report('warning', `images[${i}]`, `image ${id} (${a.filename}) has no width/height`);
    const voc = isObj(im['voc']) ? im['voc'] : {};
    if (typeof voc['folder'] === 'string') a.folder = voc['folder'];
    if (typeof voc['path'] === 'string') a.path = voc['path'];
    if (Number.isInteger(voc['depth'])) a.depth = voc['depth'] as number;
    if (typeof voc['segmented'] === 'boolean') a.segmented = voc['segmented'];
    if (typeof voc['verified'] === 'boolean') a.verified = voc['verified'];
    images.set(id, a);
  });

  list('annotations').forEach((b, i) => {
    const where = `annotations[${i}]`;
    if (!isObj(b)) return report('error', where, 'not an object; skipped');
    const label = `annotation ${String(b['id'])}`;
    const image = images.get(b['image_id'] as number);
    if (!image) return report('error', `${where}.image_id`, `${label}: unknown image_id ${String(b['image_id'])}; skipped`);
    const name = categories.get(b['category_id'] as number);
    if (name === undefined) return report('error', `${where}.category_id`, `${label}: unknown category_id ${String(b['category_id'])}; skipped`);
    const bbox = b['bbox'];
    if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every(isNum)) {
      return report('error', `${where}.bbox`, `${label}: bbox must be 4 finite numbers [x, y, w, h]; skipped`);
    }
    const [x, y, w, h] = bbox as number[] as [number, number, number, number];
    const object: BoxObject = { name, x1: x, y1: y, x2: x + w, y2: y + h };
    const voc = isObj(b['voc']) ? b['voc'] : {};
    if (typeof voc['pose'] === 'string') object.pose = voc['pose'];
    if (typeof voc['truncated'] === 'boolean') object.truncated = voc['truncated'];
    if (typeof voc['difficult'] === 'boolean') object.difficult = voc['difficult'];
    if (b['iscrowd'] === 1) {
      object.difficult = true;
      report('warning', `${where}.iscrowd`, `${label}: crowd region imported as a difficult box`);
    }
    if (isNum(b['score'])) object.score = b['score'];
    image.objects.push(object);
  });
  return { annotations: [...images.values()], issues };
}

/** Parse COCO JSON text; invalid JSON is one error issue, never a throw. */
export function parseCocoJson(text: string, file: string): CocoImportResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { annotations: [], issues: [{ file, message: `not valid JSON: ${(err as Error).message}`, severity: 'error' }] };
  }
  return fromCoco(doc, file);
}
