/**
 * `hpa-detect show IMAGE [--annotations XML] [--out PNG] [--min-score S]`: draw annotation or
 * prediction boxes with their class (and score) onto the image, like Mask_RCNN's display_instances.
 */
import type { Argv, CommandModule } from 'yargs';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { CliError, UsageError } from '../errors.js';
import { readVocFile } from '../../annotations/voc-read.js';
import type { BoxObject } from '../../annotations/model.js';
import { renderOverlay, visibleObjects } from '../../render/overlay.js';
import { writeFileAtomic } from '../../util/atomic.js';

interface ShowArgs {
  image: string;
  annotations?: string;
  out?: string;
  'min-score': number;
}

/** Default output: `{image basename}.overlay.png` in the image's folder. */
export function defaultOverlayPath(image: string): string {
  const parsed = path.parse(image);
  return path.join(parsed.dir, `${parsed.name}.overlay.png`);
}

export const showCommand: CommandModule<object, ShowArgs> = {
  command: 'show <image>',
  describe: 'Draw annotation boxes with class labels (and scores) onto an image',
  builder: (y) =>
    y
      .positional('image', { type: 'string', demandOption: true, describe: 'Image (any format sharp reads)' })
      .option('annotations', { alias: 'a', type: 'string', describe: 'LabelImg Pascal VOC XML with the boxes' })
      .option('out', { alias: 'o', type: 'string', describe: 'Output PNG (default: {image name}.overlay.png beside the image)' })
      .option('min-score', { type: 'number', default: 0, describe: 'Hide boxes scored below this (boxes without a score always show)' })
      .example('$0 show BloodImage_00000.jpg -a BloodImage_00000.xml -o overlay.png', 'Ground-truth boxes') as Argv<ShowArgs>,
  handler: async (argv) => {
    // yargs reports a missing positional but still runs the handler (main.ts's fail hook does not
    // throw), so check here to keep the exit code 2.
    if (typeof argv.image !== 'string') throw new UsageError('show needs an IMAGE');
    const minScore = argv['min-score'];
    if (!(minScore >= 0 && minScore <= 1)) throw new UsageError(`--min-score must be in [0, 1], got ${minScore}`);
    if (!existsSync(argv.image)) throw new CliError(`image not found: ${argv.image}`);

    let objects: BoxObject[] = [];
    if (argv.annotations) {
      const { annotation, issues } = await readVocFile(argv.annotations);
      for (const i of issues) {
        const where = [i.objectIndex !== undefined ? `object ${i.objectIndex}` : '', i.field ?? ''].filter(Boolean).join(' ');
        process.stderr.write(`${i.severity}: ${i.file}${where ? ` (${where})` : ''}: ${i.message}\n`);
      }
      if (!annotation) throw new CliError(`cannot use annotations from ${argv.annotations}`);
      objects = annotation.objects;
      const meta = await readSize(argv.image);
      if (annotation.width > 0 && (annotation.width !== meta.width || annotation.height !== meta.height)) {
        process.stderr.write(
          `warning: ${argv.annotations} says ${annotation.width}×${annotation.height}, ` +
            `${argv.image} is ${meta.width}×${meta.height}; boxes drawn as given\n`,
        );
      }
    }

    const out = argv.out ?? defaultOverlayPath(argv.image);
    let png: Buffer;
    try {
      png = await renderOverlay(argv.image, { objects }, { minScore });
    } catch (err) {
      throw new CliError(`cannot draw on ${argv.image}: ${(err as Error).message}`);
    }
    await writeFileAtomic(out, png);
    const drawn = visibleObjects(objects, minScore).length;
    process.stderr.write(`${drawn} of ${objects.length} boxes drawn → ${out}\n`);
  },
};

async function readSize(image: string): Promise<{ width: number; height: number }> {
  try {
    const m = await sharp(image).metadata();
    return { width: m.width ?? 0, height: m.height ?? 0 };
  } catch (err) {
    throw new CliError(`cannot read image ${image}: ${(err as Error).message}`);
  }
}
