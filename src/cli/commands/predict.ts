/**
 * `hpa-detect predict MODEL INPUTS... --out DIR`: run a Faster R-CNN over images and raw HPA
 * channel sets (merged on the fly); writes predictions.json, detections.csv (a row per detected
 * cell with per-channel means), voc/*.xml, overlays/*.png and per-image records (resume), and says
 * which execution provider ran. Formats and options: docs/predict.md.
 */
import type { Argv, CommandModule } from 'yargs';
import { statSync } from 'node:fs';
import path from 'node:path';
import { CliError, UsageError } from '../errors.js';
import { commandLineOverrides, SET_OPTION } from '../config-set.js';
import { resolveModelPath } from '../model-path.js';
import { Detector } from '../../infer/detector.js';
import { DEFAULT_BATCH, defaultConcurrency, listPredictInputs, predictFiles } from '../../infer/predict-files.js';
import { DEFAULT_PRESET, resolveModelConfig } from '../../infer/predict-model.js';
import { ProviderUnavailableError, type ProviderChoice } from '../../infer/providers.js';
import { type ConfigOverrides, type FasterRcnnConfig, PRESET_NAMES, fasterRcnnConfig } from '../../models/presets.js';
import type { MergeMode } from '../../hpa/merge.js';

interface PredictArgs {
  model: string;
  images: string[];
  out: string;
  preset?: string;
  provider: ProviderChoice;
  'score-threshold': number;
  classes?: string;
  threads?: number;
  'min-size'?: number;
  'max-size'?: number;
  batch?: number;
  concurrency?: number;
  overwrite: boolean;
  mode: MergeMode;
  voc: boolean;
  overlays: boolean;
  quiet: boolean;
  set?: string[];
}

function positiveInt(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new UsageError(`--${name} must be an integer >= 1, got ${v}`);
}

export const predictCommand: CommandModule<object, PredictArgs> = {
  command: 'predict <model> <images..>',
  describe: 'Detect cells in images or raw HPA channel sets with a Faster R-CNN (JSON, CSV per cell, VOC XML, overlays)',
  builder: (y) =>
    y
      .positional('model', { type: 'string', demandOption: true, describe: 'Weights: an hpa-detect checkpoint (config stored in it), a training run\'s folder or model.json (its best checkpoint), or a torchvision export (safetensors)' })
      .positional('images', { type: 'string', array: true, demandOption: true, describe: 'Image files, channel files ({id}_red.png …) and/or folders of either' })
      .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'Output folder' })
      .option('preset', { type: 'string', choices: PRESET_NAMES, describe: "Model preset (default: the one stored in our checkpoints and exported weights, else resnet50-fpn)" })
      .option('provider', { type: 'string', default: 'auto', choices: ['auto', 'cpu', 'cuda'], describe: 'ONNX Runtime execution provider' })
      .option('score-threshold', { type: 'number', default: 0.7, describe: 'Keep detections scoring at least this (e.g. 0.05 for evaluate)' })
      .option('classes', { type: 'string', describe: "Comma-separated names of classes 1..N-1 (default: the model's stored names, else class1, class2, …)" })
      .option('batch', { type: 'number', describe: `Images per detector run (same-size neighbours; default ${DEFAULT_BATCH})` })
      .option('concurrency', { type: 'number', describe: 'Inputs in the pipeline at once: decoding/merging ahead, detecting, writing (default max(4, 3 x batch); 1: one after the other)' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'Redo images whose outputs exist (default: resume, skip them)' })
      .option('mode', { type: 'string', default: 'sum', choices: ['sum', 'average'], describe: 'Merge mode of channel sets (as hpa-detect merge)' })
      .option('voc', { type: 'boolean', default: true, describe: 'Write voc/*.xml (--no-voc: not)' })
      .option('overlays', { type: 'boolean', default: true, describe: 'Write overlays/*.png (--no-overlays: not)' })
      .option('threads', { type: 'number', describe: 'Intra-op threads (default: all cores)' })
      .option('min-size', { type: 'number', describe: "Resize: short side (default: the preset's)" })
      .option('max-size', { type: 'number', describe: "Resize: long side cap (default: the preset's)" })
      .option('set', SET_OPTION)
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'No progress output' })
      .example('$0 predict model.safetensors merged/ --out predictions --classes cell', 'All images of a folder')
      .example('$0 predict run/checkpoint.safetensors train/ --out pred --score-threshold 0.05', 'Raw channel sets, for evaluate') as Argv<PredictArgs>,
  handler: async (argv) => {
    if (typeof argv.model !== 'string' || !Array.isArray(argv.images) || argv.images.length === 0) throw new UsageError('predict needs MODEL and IMAGES');
    const threshold = argv['score-threshold'];
    if (!(threshold >= 0 && threshold <= 1)) throw new UsageError(`--score-threshold must be in [0, 1], got ${threshold}`);
    positiveInt('batch', argv.batch);
    positiveInt('concurrency', argv.concurrency);
    const { file: modelFile, via } = resolveModelPath(argv.model);
    let found: Awaited<ReturnType<typeof listPredictInputs>>;
    try {
      found = await listPredictInputs(argv.images);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const { inputs, problems } = found;
    if (inputs.length === 0) {
      const why = problems.length > 0 ? `; ${problems.length} incomplete channel set(s):\n${problems.map((p) => `  ${p.image}: ${p.reason}`).join('\n')}` : '';
      throw new CliError(`no images (png, jpg, tif, webp) or complete channel sets in ${argv.images.join(', ')}${why}`);
    }

    // Field names and kinds are the same in every preset; ranges are checked once the preset is known.
    const cli = commandLineOverrides(argv, fasterRcnnConfig(DEFAULT_PRESET), { arch: false });
    let detector: Detector;
    let preset = argv.preset;
    let storedClasses: string[] | undefined;
    try {
      const resolved = await resolveModelConfig(modelFile, argv.preset, cli);
      let full: FasterRcnnConfig;
      try {
        full = fasterRcnnConfig(resolved.preset, resolved.config);
      } catch (err) {
        if ((argv.set ?? []).length > 0) throw new UsageError(`--set: ${(err as Error).message}`);
        throw err;
      }
      preset = resolved.preset;
      storedClasses = resolved.classes;
      // The box head drops scores <= its own threshold (torchvision's 0.05) before ours applies.
      const base = full.box.scoreThresh;
      const config: ConfigOverrides = threshold < base ? { ...resolved.config, box: { ...resolved.config.box, scoreThresh: threshold } } : resolved.config;
      detector = await Detector.load(modelFile, resolved.preset, { provider: argv.provider, threads: argv.threads, config });
      if (via) process.stderr.write(`model: ${modelFile} (from ${via})\n`);
      if (resolved.fromCheckpoint) process.stderr.write(`model config stored in ${modelFile}: preset ${resolved.preset}${resolved.classes ? `, classes ${resolved.classes.join(', ')}` : ''}\n`);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      if (err instanceof ProviderUnavailableError) throw new CliError(err.message);
      throw new CliError(`cannot load ${modelFile}${preset ? ` as ${preset}` : ''}: ${(err as Error).message}`);
    }
    const batch = argv.batch ?? DEFAULT_BATCH;
    const concurrency = argv.concurrency ?? defaultConcurrency(batch);
    const sets = inputs.filter((i) => i.kind === 'channels').length;
    process.stderr.write(
      `provider: ${detector.provider} (asked: ${argv.provider}); ${inputs.length} input(s)` +
        `${sets ? ` (${sets} channel set(s) merged on the fly, mode ${argv.mode})` : ''}; batch ${batch}, concurrency ${Math.max(batch, concurrency)}\n`,
    );
    const classNames = argv.classes ? argv.classes.split(',').map((s) => s.trim()) : (storedClasses ?? []);
    const modelClasses = detector.config.arch.numClasses - 1;
    if (argv.classes && classNames.length !== modelClasses) {
      await detector.release();
      throw new UsageError(`--classes names ${classNames.length} class(es), the model has ${modelClasses} (labels 1..${modelClasses}, background excluded)`);
    }
    const tty = Boolean(process.stderr.isTTY);
    let summary: Awaited<ReturnType<typeof predictFiles>>;
    try {
      summary = await predictFiles(detector, inputs, {
        outDir: argv.out, classNames, scoreThreshold: threshold, batch, concurrency, overwrite: argv.overwrite,
        mergeMode: argv.mode, voc: argv.voc, overlays: argv.overlays, problems, progress: !argv.quiet,
        runInfo: { model: path.resolve(modelFile), modelBytes: statSync(modelFile).size, modelMtimeMs: Math.round(statSync(modelFile).mtimeMs), config: detector.config },
        onFailure: (f) => process.stderr.write(`${tty ? '\r\x1b[2K' : ''}failed: ${f.image}: ${f.reason}\n`),
      });
    } catch (err) {
      throw new CliError((err as Error).message);
    } finally {
      await detector.release();
    }
    const done = summary.predictions.length;
    const fresh = done - summary.skipped;
    const cells = summary.predictions.reduce((s, p) => s + p.detections.length, 0);
    process.stderr.write(
      `${done} image(s) predicted (${summary.skipped} from an earlier run), ${cells} detection(s), ${summary.failures.length} failed; ` +
        `${summary.seconds.toFixed(1)} s${fresh > 0 ? ` (${(fresh / summary.seconds).toFixed(2)} images/s)` : ''} → ${argv.out}\n`,
    );
    if (summary.failures.length > 0) {
      throw new CliError(`${summary.failures.length} input(s) failed:\n${summary.failures.map((f) => `  ${f.image}: ${f.reason}`).join('\n')}`);
    }
  },
};
