/**
 * Checks an annotation against its image and the class list: bad coordinates, zero or negative
 * area, boxes outside the image (clipped or rejected), unknown classes, missing size, missing
 * image file. Returns a cleaned copy plus issues naming the file and the object's index in it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { AnnotationIssue, BoxObject, ImageAnnotation } from './model.js';

/** What to do with a box that reaches outside the image. */
export type OutsidePolicy = 'clip' | 'reject' | 'keep';

export interface ValidateOptions {
  /** 'clip' (default): clip to the image, warning; 'reject': drop, error; 'keep': leave as is, warning. */
  outside?: OutsidePolicy;
  /** Allowed class names; an object of another class is dropped with an error. */
  classes?: readonly string[];
  /** Folder holding the images; when given, an annotation whose image file is missing is an error. */
  imageDir?: string;
}

export interface ValidateResult {
  /** The cleaned annotation; absent when the whole file is unusable. */
  annotation?: ImageAnnotation;
  issues: AnnotationIssue[];
}

const isPositiveInt = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n > 0;

/**
 * Validate one annotation read from `file` (the name used in issues). Object issues keep the index
 * the object had in the input, so messages point into the original file. Never throws.
 */
export function validateAnnotation(annotation: ImageAnnotation, file: string, options: ValidateOptions = {}): ValidateResult {
  const issues: AnnotationIssue[] = [];
  const fileError = (field: string, message: string): ValidateResult => ({
    issues: [...issues, { file, field, message, severity: 'error' }],
  });
  if (typeof annotation.filename !== 'string' || annotation.filename === '') return fileError('filename', 'missing');
  if (!isPositiveInt(annotation.width) || !isPositiveInt(annotation.height)) {
    return fileError('size', `missing or invalid image size ${String(annotation.width)}x${String(annotation.height)} (give the image folder to take it from the image)`);
  }
  if (options.imageDir !== undefined) {
    const image = path.join(options.imageDir, annotation.filename);
    if (!existsSync(image)) return fileError('filename', `image file not found: ${image}`);
  }

  const classes = options.classes ? new Set(options.classes) : undefined;
  const outside = options.outside ?? 'clip';
  const objects: BoxObject[] = [];
  annotation.objects.forEach((object, objectIndex) => {
    const report = (severity: AnnotationIssue['severity'], field: string, message: string) =>
      issues.push({ file, objectIndex, field, message, severity });
    const checked = checkObject(object, annotation.width, annotation.height, outside, classes, report);
    if (checked) objects.push(checked);
  });
  return { annotation: { ...annotation, objects }, issues };
}

type Report = (severity: AnnotationIssue['severity'], field: string, message: string) => void;

/** One object: returns the (possibly clipped) object to keep, or undefined after reporting an error. */
function checkObject(
  object: BoxObject,
  width: number,
  height: number,
  outside: OutsidePolicy,
  classes: Set<string> | undefined,
  report: Report,
): BoxObject | undefined {
  const label = `'${object.name}'`;
  if (typeof object.name !== 'string' || object.name === '') {
    report('error', 'name', 'missing class name; object dropped');
    return undefined;
  }
  if (classes && !classes.has(object.name)) {
    report('error', 'name', `unknown class ${label} (allowed: ${[...classes].join(', ')}); object dropped`);
    return undefined;
  }
  for (const key of ['x1', 'y1', 'x2', 'y2'] as const) {
    if (typeof object[key] !== 'number' || !Number.isFinite(object[key])) {
      report('error', key, `${label}: coordinate ${key} is not a number (${String(object[key])}); object dropped`);
      return undefined;
    }
  }
  const { x1, y1, x2, y2 } = object;
  const box = `[${x1}, ${y1}, ${x2}, ${y2}]`;
  if (x2 <= x1 || y2 <= y1) {
    report('error', 'bndbox', `${label} box ${box} has zero or negative area; object dropped`);
    return undefined;
  }
  if (x1 >= 0 && y1 >= 0 && x2 <= width && y2 <= height) return object;

  const where = `${label} box ${box} reaches outside the ${width}x${height} image`;
  if (outside === 'reject') {
    report('error', 'bndbox', `${where}; object dropped (--reject-outside)`);
    return undefined;
  }
  if (outside === 'keep') {
    report('warning', 'bndbox', `${where}; kept as is`);
    return object;
  }
  const clipped = {
    ...object,
    x1: Math.min(Math.max(x1, 0), width),
    y1: Math.min(Math.max(y1, 0), height),
    x2: Math.min(Math.max(x2, 0), width),
    y2: Math.min(Math.max(y2, 0), height),
  };
  if (clipped.x2 <= clipped.x1 || clipped.y2 <= clipped.y1) {
    report('error', 'bndbox', `${where} and lies entirely outside it; object dropped`);
    return undefined;
  }
  report('warning', 'bndbox', `${where}; clipped to [${clipped.x1}, ${clipped.y1}, ${clipped.x2}, ${clipped.y2}]`);
  return clipped;
}
