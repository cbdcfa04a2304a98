/**
 * Draw annotation boxes onto an image, like Mask_RCNN's display_instances: each box outlined in its
 * class colour, a caption ("WBC" or "WBC 0.93" for predictions) on a filled tag in the same colour.
 * The image is decoded by sharp, the drawing is one SVG composited on top, the result is a PNG.
 */
import sharp from 'sharp';
import type { BoxObject, ImageAnnotation } from '../annotations/model.js';
import { classColor, textColorOn } from './colors.js';
import { escapeXml, estimateTextWidth, SVG_FONT_FAMILY } from './svg.js';

/** Options of renderOverlay(). */
export interface OverlayOptions {
  /** Skip boxes whose score is below this (boxes without a score, i.e. ground truth, are always drawn). */
  minScore?: number;
  /** Class list fixing colour order (see classColor); default: a stable colour per name. */
  classes?: readonly string[];
  /** Outline width in px (default: 2 px per 640 px of the longer side, at least 2). */
  lineWidth?: number;
  /** Caption font size in px (default: scales with the image, 12–32). */
  fontSize?: number;
  /** Draw captions (default true). */
  captions?: boolean;
  /** Digits of the score in captions (default 2). */
  scoreDigits?: number;
}

/** The boxes renderOverlay() would draw: those passing `minScore`. */
export function visibleObjects(objects: readonly BoxObject[], minScore = 0): BoxObject[] {
  return objects.filter((o) => o.score === undefined || o.score >= minScore);
}

/** Caption of a box: class name, plus the score when it has one. */
export function boxCaption(o: BoxObject, scoreDigits = 2): string {
  return o.score === undefined ? o.name : `${o.name} ${o.score.toFixed(scoreDigits)}`;
}

function checkOptions(o: OverlayOptions): void {
  if (o.minScore !== undefined && !(o.minScore >= 0 && o.minScore <= 1)) {
    throw new RangeError(`minScore must be in [0, 1], got ${o.minScore}`);
  }
  if (o.lineWidth !== undefined && !(Number.isInteger(o.lineWidth) && o.lineWidth >= 1)) {
    throw new RangeError(`lineWidth must be an integer ≥ 1, got ${o.lineWidth}`);
  }
  if (o.fontSize !== undefined && !(o.fontSize >= 4)) throw new RangeError(`fontSize must be ≥ 4, got ${o.fontSize}`);
}

/**
 * The overlay SVG for an image of `width`×`height`. Outlines lie inside the box (the stroke covers
 * x1 … x1 + lineWidth), so on integer boxes the edge pixels take exactly the class colour.
 */
export function overlaySvg(
  width: number,
  height: number,
  objects: readonly BoxObject[],
  options: OverlayOptions = {},
): string {
  checkOptions(options);
  const longer = Math.max(width, height);
  const lw = options.lineWidth ?? Math.max(2, Math.round(longer / 320));
  const fontSize = options.fontSize ?? Math.min(32, Math.max(12, Math.round(longer / 45)));
  const pad = Math.max(2, Math.round(fontSize / 5));
  const tagHeight = fontSize + 2 * pad;
  const boxes: string[] = [];
  const tags: string[] = [];
  for (const o of visibleObjects(objects, options.minScore)) {
    const w = o.x2 - o.x1;
    const h = o.y2 - o.y1;
    if (!(w > 0 && h > 0)) continue; // degenerate boxes (BCCD has two) have nothing to outline
    const color = classColor(o.name, options.classes);
    const inset = Math.min(lw, w, h) / 2;
    boxes.push(
      `<rect x="${o.x1 + inset}" y="${o.y1 + inset}" width="${Math.max(0, w - 2 * inset)}" height="${Math.max(0, h - 2 * inset)}" ` +
        `fill="none" stroke="${color}" stroke-width="${2 * inset}"/>`,
    );
    if (options.captions === false) continue;
    const caption = boxCaption(o, options.scoreDigits);
    const tagWidth = estimateTextWidth(caption, fontSize) + 2 * pad;
    // The tag sits on the box's top edge, outside; when that would leave the image it goes inside.
    const tx = Math.min(Math.max(0, o.x1), Math.max(0, width - tagWidth));
    const ty = o.y1 - tagHeight >= 0 ? o.y1 - tagHeight : Math.max(0, o.y1);
    tags.push(
      `<rect x="${tx}" y="${ty}" width="${tagWidth}" height="${tagHeight}" fill="${color}"/>` +
        `<text x="${tx + pad}" y="${ty + pad + fontSize * 0.8}" font-size="${fontSize}" fill="${textColorOn(color)}">${escapeXml(caption)}</text>`,
    );
  }
  // Tags after all outlines, so no outline crosses a caption.
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${SVG_FONT_FAMILY}" shape-rendering="crispEdges">` +
    `${boxes.join('')}<g shape-rendering="auto">${tags.join('')}</g></svg>`
  );
}

/**
 * Draw `annotation`'s boxes (image pixel coordinates x1,y1,x2,y2) onto the image and return a PNG.
 * Any format sharp reads; gray, 16-bit and alpha images come out as 8-bit RGB. The annotation's
 * own width/height are not used: boxes are drawn where they are in the image as decoded.
 */
export async function renderOverlay(
  image: string | Buffer,
  annotation: Pick<ImageAnnotation, 'objects'>,
  options: OverlayOptions = {},
): Promise<Buffer> {
  checkOptions(options);
  // Decode once to 8-bit RGB so coloured outlines show on gray images and alpha cannot hide them.
  const { data, info } = await sharp(image)
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const base = info.channels === 3 ? data : toRgb(data, info.channels);
  const svg = overlaySvg(info.width, info.height, annotation.objects, options);
  // Compositing adds an alpha band; a second pass drops it so the PNG is plain RGB.
  const drawn = await sharp(base, { raw: { width: info.width, height: info.height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .raw()
    .toBuffer({ resolveWithObject: true });
  return sharp(drawn.data, { raw: { width: info.width, height: info.height, channels: drawn.info.channels } })
    .removeAlpha()
    .png()
    .toBuffer();
}

// sharp keeps single-band images single-band even in sRGB; widen to 3 channels.
function toRgb(data: Buffer, channels: number): Buffer {
  const pixels = data.length / channels;
  const out = Buffer.alloc(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const v = data[i * channels]!;
    out[3 * i] = v;
    out[3 * i + 1] = channels >= 3 ? data[i * channels + 1]! : v;
    out[3 * i + 2] = channels >= 3 ? data[i * channels + 2]! : v;
  }
  return out;
}
