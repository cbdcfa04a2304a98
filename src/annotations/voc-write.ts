/**
 * Pascal VOC XML writer in LabelImg's exact layout: its element order, one TAB per level, no XML
 * declaration, a trailing newline (what LabelImg's pascal_voc_io.py writes, so files open there and
 * diff cleanly against hand-made ones).
 */
import type { BoxObject, ImageAnnotation } from './model.js';

/** Characters XML 1.0 cannot carry at all (not even escaped): C0 controls other than TAB, LF, CR. */
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

/** Escape text for an XML element body; throws a RangeError naming `where` for unwritable text. */
export function escapeXmlText(text: string, where: string): string {
  if (XML_INVALID.test(text)) {
    throw new RangeError(`${where}: contains a control character that XML cannot represent`);
  }
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function numberText(value: number, where: string): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`${where}: must be a finite number, got ${String(value)}`);
  }
  // Integers print without a fraction ("260"); floats keep full precision ("260.5").
  return String(value);
}

const flag = (value: boolean | undefined): string => (value ? '1' : '0');

/**
 * Serialize one image's annotation as LabelImg Pascal VOC XML:
 * annotation > folder, filename, path, source>database, size>width,height,depth, segmented, object*.
 * `folder` and `path` are written only when set; pose defaults to "Unspecified", truncated/difficult/
 * segmented to 0. A prediction's `score` is written as an extra `<score>` element at the end of its
 * object (LabelImg ignores unknown elements). Coordinates are written as given (no rounding, no +1).
 * Throws a RangeError naming the file, object and field when a value cannot be written.
 */
export function formatVocXml(annotation: ImageAnnotation): string {
  const file = annotation.filename;
  const at = (field: string) => `${file}: ${field}`;
  // LabelImg marks a reviewed image with this one attribute (and writes nothing when unreviewed).
  const lines: string[] = [annotation.verified ? '<annotation verified="yes">' : '<annotation>'];
  const el = (depth: number, tag: string, text: string) =>
    lines.push(`${'\t'.repeat(depth)}<${tag}>${text}</${tag}>`);

  if (annotation.folder !== undefined) el(1, 'folder', escapeXmlText(annotation.folder, at('folder')));
  el(1, 'filename', escapeXmlText(file, at('filename')));
  if (annotation.path !== undefined) el(1, 'path', escapeXmlText(annotation.path, at('path')));
  lines.push('\t<source>');
  el(2, 'database', 'Unknown');
  lines.push('\t</source>');
  lines.push('\t<size>');
  el(2, 'width', numberText(annotation.width, at('size.width')));
  el(2, 'height', numberText(annotation.height, at('size.height')));
  el(2, 'depth', numberText(annotation.depth, at('size.depth')));
  lines.push('\t</size>');
  el(1, 'segmented', flag(annotation.segmented));
  annotation.objects.forEach((object, index) => writeObject(lines, object, `${file}: object ${index}`));
  lines.push('</annotation>');
  return `${lines.join('\n')}\n`;
}

function writeObject(lines: string[], o: BoxObject, where: string): void {
  const el = (depth: number, tag: string, text: string) =>
    lines.push(`${'\t'.repeat(depth)}<${tag}>${text}</${tag}>`);
  lines.push('\t<object>');
  el(2, 'name', escapeXmlText(o.name, `${where} name`));
  el(2, 'pose', escapeXmlText(o.pose ?? 'Unspecified', `${where} pose`));
  el(2, 'truncated', flag(o.truncated));
  el(2, 'difficult', flag(o.difficult));
  lines.push('\t\t<bndbox>');
  el(3, 'xmin', numberText(o.x1, `${where} bndbox.xmin`));
  el(3, 'ymin', numberText(o.y1, `${where} bndbox.ymin`));
  el(3, 'xmax', numberText(o.x2, `${where} bndbox.xmax`));
  el(3, 'ymax', numberText(o.y2, `${where} bndbox.ymax`));
  lines.push('\t\t</bndbox>');
  if (o.score !== undefined) el(2, 'score', numberText(o.score, `${where} score`));
  lines.push('\t</object>');
}
