/**
 * LabelImg Pascal VOC XML reader (fast-xml-parser). Safe by construction: a DOCTYPE (and with it any
 * entity declaration) is refused before parsing, entity expansion is off and only XML's five
 * predefined entities and numeric character references are decoded; attributes are ignored except
 * LabelImg's `verified="yes"` on the root.
 * Coordinates are taken exactly as written (continuous x1,y1,x2,y2; floats allowed; no +1).
 */
import { promises as fs } from 'node:fs';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parseDecimal } from './numbers.js';
import type { AnnotationIssue, BoxObject, ImageAnnotation } from './model.js';

/** What reading one VOC file gives: the annotation (absent when the file is unusable) and its issues. */
export interface VocReadResult {
  annotation?: ImageAnnotation;
  issues: AnnotationIssue[];
}

const parser = new XMLParser({
  processEntities: false,
  htmlEntities: false,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  parseTagValue: false,
  trimValues: true,
  cdataPropName: '#cdata',
  // Every element as an array, so a duplicated element (two <filename>) is seen, not silently merged.
  isArray: () => true,
});

type XmlNode = Record<string, unknown>;

/** Thrown inside the reader for a problem that makes a value unusable; caught and turned into an issue. */
class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decode XML's predefined entities and numeric references; any other entity is an error. */
function decodeEntities(raw: string, field: string): string {
  return raw.replace(/&([^;&\s]*);?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) throw new FieldError(field, `bare '&' in text (write it as &amp;)`);
    if (name in PREDEFINED) return PREDEFINED[name]!;
    const num = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(name);
    if (num) {
      const code = num[1] !== undefined ? parseInt(num[1], 16) : parseInt(num[2]!, 10);
      if (code > 0 && code <= 0x10ffff) return String.fromCodePoint(code);
    }
    throw new FieldError(field, `unsupported entity '${whole}' (entity expansion is off)`);
  });
}

/** Text content of a leaf element value as fast-xml-parser returns it (string, or object with CDATA). */
function leafText(value: unknown, field: string): string {
  if (typeof value === 'string') return decodeEntities(value, field);
  if (value && typeof value === 'object') {
    const node = value as XmlNode;
    const keys = Object.keys(node).filter((k) => k !== '#text' && k !== '#cdata');
    if (keys.length > 0) throw new FieldError(field, `expected text, found element <${keys[0]}>`);
    const text = typeof node['#text'] === 'string' ? decodeEntities(node['#text'], field) : '';
    const cdata = Array.isArray(node['#cdata']) ? node['#cdata'].join('') : '';
    return (text + cdata).trim();
  }
  return '';
}

/** The single child element `key` of `node`, or undefined; two or more is an error. */
function child(node: XmlNode, key: string, field: string): unknown {
  const v = node[key];
  if (v === undefined) return undefined;
  const list = v as unknown[];
  if (list.length > 1) throw new FieldError(field, `<${key}> appears ${list.length} times`);
  return list[0];
}

function optionalText(node: XmlNode, key: string, field: string): string | undefined {
  const v = child(node, key, field);
  return v === undefined ? undefined : leafText(v, field);
}

function requiredText(node: XmlNode, key: string, field: string): string {
  const t = optionalText(node, key, field);
  if (t === undefined) throw new FieldError(field, 'missing');
  if (t === '') throw new FieldError(field, 'empty');
  return t;
}

function element(node: XmlNode, key: string, field: string): XmlNode | undefined {
  const v = child(node, key, field);
  if (v === undefined) return undefined;
  if (v === '') return {}; // an empty element: its children are reported as missing one by one
  if (typeof v !== 'object' || v === null) throw new FieldError(field, `expected child elements, found text '${String(v)}'`);
  return v as XmlNode;
}

/** A finite decimal number, or a FieldError naming the field. */
function parseNumber(text: string, field: string): number {
  const n = parseDecimal(text);
  if (n === undefined) throw new FieldError(field, `not a number: '${text}'`);
  return n;
}

function parsePositiveInt(text: string, field: string): number {
  const n = parseNumber(text, field);
  if (!Number.isInteger(n) || n <= 0) throw new FieldError(field, `must be a positive integer, got '${text}'`);
  return n;
}

/** size/width or size/height: a positive integer, or 0 (unknown, with a warning) when missing, empty or 0. */
function readDimension(size: XmlNode, key: 'width' | 'height', warn: (field: string, msg: string) => void): number {
  const field = `size.${key}`;
  const text = optionalText(size, key, field);
  if (text === undefined || text === '' || text === '0') {
    warn(field, `${text === undefined ? 'missing' : text === '' ? 'empty' : '0'}; image size unknown`);
    return 0;
  }
  return parsePositiveInt(text, field);
}

/** VOC flags are 0/1; LabelImg also accepts true/false. Anything else: warning, treated as 0. */
function parseFlag(text: string | undefined, field: string, warn: (field: string, msg: string) => void): boolean | undefined {
  if (text === undefined) return undefined;
  const t = text.toLowerCase();
  if (t === '1' || t === 'true') return true;
  if (t === '0' || t === 'false' || t === '') return false;
  warn(field, `expected 0 or 1, got '${text}'; read as 0`);
  return false;
}

/**
 * Parse the text of one LabelImg/Pascal VOC XML file. `file` names it in issues. Never throws for
 * bad input: a file-level problem (not XML, DOCTYPE, no <annotation>, missing filename, a size that
 * is not a positive integer) gives no annotation and an error issue; a missing or 0 size reads as
 * 0 (unknown) with a warning; a bad object is dropped with an error issue naming its index and
 * field; the other objects are kept.
 */
export function parseVocXml(text: string, file: string): VocReadResult {
  const issues: AnnotationIssue[] = [];
  const fileError = (field: string | undefined, message: string): VocReadResult => ({
    issues: [...issues, { file, ...(field ? { field } : {}), message, severity: 'error' }],
  });

  if (/<!DOCTYPE/i.test(text) || /<!ENTITY/i.test(text)) {
    return fileError(undefined, 'DOCTYPE/ENTITY declarations are refused (entity expansion is a security risk)');
  }
  if (text.trim() === '') return fileError(undefined, 'empty file');
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    const { line, col, msg } = valid.err;
    const where = [line !== undefined ? `line ${line}` : '', col !== undefined ? `column ${col}` : ''].filter(Boolean).join(', ');
    return fileError(undefined, `not well-formed XML${where ? ` (${where})` : ''}: ${msg}`);
  }
  let root: XmlNode;
  try {
    const doc = parser.parse(text) as XmlNode;
    const top = Object.keys(doc);
    if (top.length !== 1 || top[0] !== 'annotation') {
      return fileError(undefined, `root element must be <annotation>, found ${top.map((k) => `<${k}>`).join(', ') || 'none'}`);
    }
    root = element(doc, 'annotation', 'annotation') ?? {};
  } catch (err) {
    if (err instanceof FieldError) return fileError(err.field, err.message);
    return fileError(undefined, `XML parse failed: ${err instanceof Error ? err.message : String(err)}`);
  }

  const warn = (field: string, message: string, objectIndex?: number) =>
    issues.push({ file, ...(objectIndex !== undefined ? { objectIndex } : {}), field, message, severity: 'warning' });

  let annotation: ImageAnnotation;
  try {
    annotation = { filename: requiredText(root, 'filename', 'filename'), width: 0, height: 0, depth: 3, objects: [] };
    // An unknown size (no <size>, empty, or LabelImg's 0 for an image it could not open) reads as 0
    // with a warning: validation rejects it unless the size can be taken from the image file.
    const size = element(root, 'size', 'size');
    if (!size) {
      warn('size', 'missing; image size unknown');
    } else {
      annotation.width = readDimension(size, 'width', warn);
      annotation.height = readDimension(size, 'height', warn);
      const depth = optionalText(size, 'depth', 'size.depth');
      if (depth === undefined || depth === '') warn('size.depth', 'missing; assumed 3');
      else annotation.depth = parsePositiveInt(depth, 'size.depth');
    }
    const folder = optionalText(root, 'folder', 'folder');
    if (folder !== undefined) annotation.folder = folder;
    const path = optionalText(root, 'path', 'path');
    if (path !== undefined) annotation.path = path;
    // The one attribute read: LabelImg's review mark, matched on the root start tag only.
    if (/<annotation\b[^>]*\sverified\s*=\s*(["'])yes\1/.test(text)) annotation.verified = true;
    const segmented = parseFlag(optionalText(root, 'segmented', 'segmented'), 'segmented', warn);
    if (segmented !== undefined) annotation.segmented = segmented;
  } catch (err) {
    if (err instanceof FieldError) return fileError(err.field, err.message);
    throw err;
  }

  const objects = (root['object'] as unknown[] | undefined) ?? [];
  objects.forEach((raw, index) => {
    try {
      if (typeof raw !== 'object' || raw === null) throw new FieldError('object', 'expected child elements');
      annotation.objects.push(readObject(raw as XmlNode, (f, m) => warn(f, m, index)));
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      issues.push({ file, objectIndex: index, field: err.field, message: `${err.message}; object dropped`, severity: 'error' });
    }
  });
  return { annotation, issues };
}

function readObject(node: XmlNode, warn: (field: string, message: string) => void): BoxObject {
  const name = requiredText(node, 'name', 'name');
  const box = element(node, 'bndbox', 'bndbox');
  if (!box) throw new FieldError('bndbox', 'missing');
  const coord = (key: string) => parseNumber(requiredText(box, key, `bndbox.${key}`), `bndbox.${key}`);
  const object: BoxObject = { name, x1: coord('xmin'), y1: coord('ymin'), x2: coord('xmax'), y2: coord('ymax') };
  const pose = optionalText(node, 'pose', 'pose');
  if (pose !== undefined) object.pose = pose;
  const truncated = parseFlag(optionalText(node, 'truncated', 'truncated'), 'truncated', warn);
  if (truncated !== undefined) object.truncated = truncated;
  const difficult = parseFlag(optionalText(node, 'difficult', 'difficult'), 'difficult', warn);
  if (difficult !== undefined) object.difficult = difficult;
  const score = optionalText(node, 'score', 'score');
  if (score !== undefined) {
    const s = parseNumber(score, 'score');
    if (s < 0 || s > 1) throw new FieldError('score', `must be in [0, 1], got ${score}`);
    object.score = s;
  }
  return object;
}

/** Read and parse one VOC XML file; an unreadable file is an error issue, never a throw. */
export async function readVocFile(file: string): Promise<VocReadResult> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { issues: [{ file, message: `cannot read file (${code ?? String(err)})`, severity: 'error' }] };
  }
  return parseVocXml(text, file);
}
