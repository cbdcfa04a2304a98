/**
 * Checks an annotation against its image file: the file must exist and decode (header only), an
 * unknown size (0, as the reader gives for a missing <size>) is taken from the image, and a size
 * that differs from the image's is a warning (boxes drawn on a resized copy would be off).
 */
import path from 'node:path';
import type { AnnotationIssue, ImageAnnotation } from './model.js';

export interface ImageCheckResult {
  /** The annotation, with its size filled in from the image when it was unknown; absent on error. */
  annotation?: ImageAnnotation;
  issues: AnnotationIssue[];
}

/** Check against `imageDir/annotation.filename` (see checkImageFile). Never throws. */
export function checkAgainstImage(annotation: ImageAnnotation, imageDir: string, file: string): Promise<ImageCheckResult> {
  return checkImageFile(annotation, path.join(imageDir, annotation.filename), file);
}

/** Read the header of the image at `image` with sharp and check the annotation against it. Never throws. */
export async function checkImageFile(annotation: ImageAnnotation, image: string, file: string): Promise<ImageCheckResult> {
  let meta: { width?: number; height?: number; channels?: number };
  try {
    const sharp = (await import('sharp')).default;
    meta = await sharp(image).metadata();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' || /missing|not exist/i.test(String((err as Error).message)) ? 'image file not found' : 'cannot read image';
    return { issues: [{ file, field: 'filename', message: `${reason}: ${image}${code ? '' : ` (${(err as Error).message})`}`, severity: 'error' }] };
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const issues: AnnotationIssue[] = [];
  if (annotation.width === 0 || annotation.height === 0) {
    issues.push({ file, field: 'size', message: `size unknown; taken from ${image}: ${width}x${height}`, severity: 'warning' });
    return { annotation: { ...annotation, width, height, depth: meta.channels ?? annotation.depth }, issues };
  }
  if (annotation.width !== width || annotation.height !== height) {
    issues.push({
      file,
      field: 'size',
      message: `says ${annotation.width}x${annotation.height} but ${image} is ${width}x${height}; boxes checked against the annotation's size`,
      severity: 'warning',
    });
  }
  return { annotation, issues };
}
