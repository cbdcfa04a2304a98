/**
 * keras-frcnn annotation CSV (the `annot.txt` its simple_parser reads): one box per line,
 * `filepath,x1,y1,x2,y2,class_name`, no header, coordinates as continuous pixels.
 * A field holding a comma or quote is quoted RFC 4180 style ("a,b" and "" for "); line breaks are
 * refused. keras-frcnn itself splits on every comma, so such paths only round-trip through this reader.
 */
import type { AnnotationIssue, BoxObject, ImageAnnotation } from './model.js';
import { parseDecimal } from './numbers.js';

export interface CsvWriteOptions {
  /** Prefix joined (with '/') before each `filename` to form `filepath`, e.g. the image folder. */
  imagePrefix?: string;
  /** Round coordinates to integers: keras-frcnn reads them with Python's int(), which rejects "12.5". */
  round?: boolean;
}

/** Quote a CSV field only when it needs it; a line break throws a RangeError naming `where`. */
export function csvField(value: string, where: string): string {
  if (/[\r\n]/.test(value)) throw new RangeError(`${where}: contains a line break, which annot.txt cannot hold`);
  return /[",]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function joinPrefix(prefix: string | undefined, filename: string): string {
  if (!prefix) return filename;
  return prefix.endsWith('/') ? `${prefix}${filename}` : `${prefix}/${filename}`;
}

/**
 * One line per box for every annotation, in order. Images without boxes produce no line (keras-frcnn
 * has no way to list them). Throws a RangeError naming the file and object for a non-finite coordinate
 * or a line break in a path or class name.
 */
export function formatKerasCsv(annotations: readonly ImageAnnotation[], options: CsvWriteOptions = {}): string {
  const lines: string[] = [];
  for (const a of annotations) {
    const filepath = csvField(joinPrefix(options.imagePrefix, a.filename), `${a.filename}: filepath`);
    a.objects.forEach((o, index) => {
      const coords = [o.x1, o.y1, o.x2, o.y2].map((v, k) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          throw new RangeError(`${a.filename}: object ${index} ${['x1', 'y1', 'x2', 'y2'][k]}: must be a finite number, got ${String(v)}`);
        }
        return String(options.round ? Math.round(v) : v);
      });
      lines.push([filepath, ...coords, csvField(o.name, `${a.filename}: object ${index} name`)].join(','));
    });
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** Split one CSV line into fields; undefined when a quote is left open. */
export function splitCsvLine(line: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      // Text after a closing quote up to the next comma is kept (lenient, like Python's csv).
      const comma = line.indexOf(',', i);
      fields.push(value + line.slice(i, comma < 0 ? undefined : comma));
      if (comma < 0) return fields;
      i = comma + 1;
    } else {
      const comma = line.indexOf(',', i);
      fields.push(line.slice(i, comma < 0 ? undefined : comma));
      if (comma < 0) return fields;
      i = comma + 1;
    }
  }
}

export interface CsvReadResult {
  /** One annotation per distinct filepath, in order of first appearance; size unknown (0 x 0). */
  annotations: ImageAnnotation[];
  /** Problems, each with the CSV file name and 1-based line; the bad line is skipped. */
  issues: AnnotationIssue[];
}

const COORDS = ['x1', 'y1', 'x2', 'y2'] as const;

/**
 * Parse keras-frcnn CSV text. `file` names the source in issues. A line with a wrong field count,
 * an open quote, a non-numeric coordinate or an empty class is reported with its line number and
 * skipped; all other lines are read. `filepath,,,,,` (keras-retinanet's negative-image line) gives an
 * image without boxes. CSV carries no image size: width and height are 0 (unknown), depth 3.
 */
export function parseKerasCsv(text: string, file: string): CsvReadResult {
  const byPath = new Map<string, ImageAnnotation>();
  const issues: AnnotationIssue[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((rawLine, index) => {
    const line = index + 1;
    const text = rawLine.replace(/\r$/, '');
    if (text.trim() === '') return;
    const error = (message: string, field?: string) =>
      issues.push({ file, line, ...(field ? { field } : {}), message: `${message}; line skipped`, severity: 'error' });
    const fields = splitCsvLine(text);
    if (!fields) return error('unterminated quoted field');
    if (fields.length !== 6) return error(`expected 6 fields (filepath,x1,y1,x2,y2,class_name), found ${fields.length}`);
    const [filepath, ...rest] = fields as [string, string, string, string, string, string];
    if (filepath === '') return error('empty filepath', 'filepath');
    if (rest.every((f) => f === '')) {
      imageFor(byPath, filepath);
      return;
    }
    if (line === 1 && rest[0]!.trim().toLowerCase() === 'x1') {
      return error("looks like a header; keras-frcnn's annot.txt has none");
    }
    const values: number[] = [];
    for (let k = 0; k < 4; k++) {
      const v = parseDecimal(rest[k]!);
      if (v === undefined) return error(`${COORDS[k]} is not a number: '${rest[k]}'`, COORDS[k]);
      values.push(v);
    }
    const name = rest[4]!;
    if (name.trim() === '') return error('empty class_name', 'class_name');
    const object: BoxObject = { name, x1: values[0]!, y1: values[1]!, x2: values[2]!, y2: values[3]! };
    imageFor(byPath, filepath).objects.push(object);
  });
  return { annotations: [...byPath.values()], issues };
}

function imageFor(byPath: Map<string, ImageAnnotation>, filepath: string): ImageAnnotation {
  let a = byPath.get(filepath);
  if (!a) {
    a = { filename: filepath, width: 0, height: 0, depth: 3, objects: [] };
    byPath.set(filepath, a);
  }
  return a;
}
