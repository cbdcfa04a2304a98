/**
 * Where a training image comes from and how it is decoded: an image file (any format sharp reads,
 * grey or RGB, 8 or 16 bit, alpha dropped) or a raw HPA channel set merged on the fly. Either way
 * the result is torchvision's to_tensor: float32 CHW in [0, 1] (8-bit value / 255). Normalisation
 * and resizing stay in src/infer/transform.ts, applied to the batch (see model-input.ts).
 */
import sharp from 'sharp';
import type { ChannelSet } from '../hpa/channels.js';
import { mergeSet, type MergeSetOptions } from '../hpa/merge-set.js';
import { rgbToTensor, type ImageTensor } from '../infer/transform.js';

/** An image file, or an HPA channel set (`{id}_{red,green,blue,yellow}.*`) to merge. */
export type ImageSource = { kind: 'file'; path: string } | { kind: 'channels'; set: ChannelSet };

/** A short name of the source for messages: the file, or the set id with its folder. */
export function describeSource(source: ImageSource): string {
  return source.kind === 'file' ? source.path : `HPA channel set ${source.set.id} (${source.set.files.red.replace(/_red\.[^.]*$/i, '_*')})`;
}

/**
 * Decode `source` to float CHW in [0, 1]. Files: sharp converts to 8-bit sRGB (grey is repeated
 * into R, G, B as PIL's convert('RGB') does; 16-bit is reduced), EXIF orientation is not applied
 * (as PIL and torchvision's read_image do not). Channel sets: mergeSet with `merge` options.
 * @throws Error naming the file (or set) that cannot be decoded
 */
export async function decodeImage(source: ImageSource, merge: MergeSetOptions = {}): Promise<ImageTensor> {
  if (source.kind === 'channels') {
    const merged = await mergeSet(source.set, { ...merge, tensor: false });
    return rgbToTensor({ data: merged.rgb, width: merged.width, height: merged.height, channels: 3 });
  }
  try {
    const { data, info } = await sharp(source.path).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return rgbToTensor({ data, width: info.width, height: info.height, channels: 3 });
  } catch (err) {
    throw new Error(`cannot decode image ${source.path}: ${(err as Error).message}`);
  }
}

/** Width and height of `source` from its header (the red channel's for a set) without decoding pixels. */
export async function imageSize(source: ImageSource): Promise<{ width: number; height: number }> {
  const file = source.kind === 'file' ? source.path : source.set.files.red;
  try {
    const meta = await sharp(file).metadata();
    if (!meta.width || !meta.height) throw new Error('no size in the header');
    return { width: meta.width, height: meta.height };
  } catch (err) {
    throw new Error(`cannot read image header of ${file}: ${(err as Error).message}`);
  }
}
