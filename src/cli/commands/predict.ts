/**
 * `hpa-detect predict MODEL IMAGES... --out DIR`: run a Faster R-CNN over image files and
 * folders; writes predictions.json, detections.csv (a row per detected cell), voc/*.xml and
 * overlays/*.png, and says which execution provider ran.
 */
import type { Argv, CommandModule } from 'yargs';
import { existsSync } from 'node:fs';
import { CliError, UsageError } from '../errors.js';
import { Detector } from '../../infer/detector.js';
import { listImages, predictFiles } from '../../infer/predict-files.js';
import { ProviderUnavailableError, type ProviderChoice } from '../../infer/providers.js';
import { PRESET_NAMES } from '../../models/presets.js';

interface PredictArgs {
  model: string;
  images: string[];
  out: string;
  preset: string;
  provider: ProviderChoice;
  'score-threshold': number;
  classes?: string;
  threads?: number;
  'min-size'?: number;
  'max-size'?: number;
}

export const predictCommand: CommandModule<object, PredictArgs> = {
  command: 'predict <model> <images..>',
  describe: 'Detect cells in images with a Faster R-CNN (JSON, CSV per cell, VOC XML, overlays)',
  builder: (y) =>
    y
      .positional('model', { type: 'string', demandOption: true, describe: 'Weights: safetensors (torchvision export or hpa-detect checkpoint)' })
      .positional('images', { type: 'string', array: true, demandOption: true, describe: 'Image files and/or folders of images' })
      .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'Output folder' })
      .option('preset', { type: 'string', default: 'resnet50-fpn', choices: PRESET_NAMES, describe: 'Model preset the weights belong to' })
      .option('provider', { type: 'string', default: 'auto', choices: ['auto', 'cpu', 'cuda'], describe: 'ONNX Runtime execution provider' })
      .option('score-threshold', { type: 'number', default: 0.7, describe: 'Keep detections scoring at least this' })
      .option('classes', { type: 'string', describe: 'Comma-separated names of classes 1..N-1 (default class1, class2, …)' })
      .option('threads', { type: 'number', describe: 'Intra-op threads (default: all cores)' })
      .option('min-size', { type: 'number', describe: "Resize: short side (default: the preset's)" })
      .option('max-size', { type: 'number', describe: "Resize: long side cap (default: the preset's)" })
      .example('$0 predict model.safetensors merged/ --out predictions --classes cell', 'All images of a folder') as Argv<PredictArgs>,
  handler: async (argv) => {
    if (typeof argv.model !== 'string' || !Array.isArray(argv.images) || argv.images.length === 0) throw new UsageError('predict needs MODEL and IMAGES');
    const threshold = argv['score-threshold'];
    if (!(threshold >= 0 && threshold <= 1)) throw new UsageError(`--score-threshold must be in [0, 1], got ${threshold}`);
    if (!existsSync(argv.model)) throw new CliError(`model not found: ${argv.model}`);
    let files: string[];
    try {
      files = listImages(argv.images);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    if (files.length === 0) throw new CliError(`no images (${IMAGE_HINT}) in ${argv.images.join(', ')}`);
    let detector: Detector;
    try {
      detector = await Detector.load(argv.model, argv.preset, {
        provider: argv.provider,
        threads: argv.threads,
        config: { transform: { ...(argv['min-size'] ? { minSize: argv['min-size'] } : {}), ...(argv['max-size'] ? { maxSize: argv['max-size'] } : {}) } },
      });
    } catch (err) {
      if (err instanceof ProviderUnavailableError) throw new CliError(err.message);
      throw new CliError(`cannot load ${argv.model} as ${argv.preset}: ${(err as Error).message}`);
    }
    process.stderr.write(`provider: ${detector.provider} (asked: ${argv.provider}); ${files.length} image(s)\n`);
    const classNames = argv.classes ? argv.classes.split(',').map((s) => s.trim()) : [];
    const start = Date.now();
    try {
      await predictFiles(detector, files, {
        outDir: argv.out, classNames, scoreThreshold: threshold,
        onImage: (p, i, n) => process.stderr.write(`[${i + 1}/${n}] ${p.image}: ${p.detections.length} detection(s)\n`),
      });
    } finally {
      await detector.release();
    }
    const s = (Date.now() - start) / 1000;
    process.stderr.write(`${files.length} image(s) in ${s.toFixed(1)} s (${(files.length / s).toFixed(2)} images/s) → ${argv.out}\n`);
  },
};

const IMAGE_HINT = 'png, jpg, tif, webp';
