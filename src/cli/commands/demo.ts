/** `hpa-detect demo`: the main job on built-in synthetic data (see src/demo/pipeline.ts). */
import type { CommandModule } from 'yargs';
import { DEMO_TRAIN_DEFAULTS } from '../../demo/detect-stage.js';
import { runDemo } from '../../demo/pipeline.js';
import { SYNTH_DIFFICULTIES, type SynthDifficulty } from '../../synth/params.js';
import { UsageError } from '../errors.js';

interface DemoArgs {
  out: string;
  count: number;
  seed: number;
  difficulty: string;
  train: boolean;
  'train-minutes': number;
  epochs: number;
  'image-size': number;
  'shuffle-labels': boolean;
  json: boolean;
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'Run the workflow on built-in synthetic data: synthesize, merge, convert annotations, train a Faster R-CNN, predict and score held-out images, write an HTML report',
  builder: (y) =>
    y
      .option('out', { type: 'string', default: 'demo-out', describe: 'Output folder' })
      .option('count', { type: 'number', default: 48, describe: 'Synthetic images to generate (a quarter is held out from training and scored)' })
      .option('seed', { type: 'number', default: 0, describe: 'Random seed' })
      .option('difficulty', { type: 'string', default: 'standard', choices: SYNTH_DIFFICULTIES as unknown as string[] })
      .option('train', { type: 'boolean', default: true, describe: 'Train, predict and evaluate (--no-train: stop after the overlays)' })
      .option('train-minutes', { type: 'number', default: DEMO_TRAIN_DEFAULTS.minutes, describe: 'Stop training after this many minutes (a safety net: the epochs are the budget)' })
      .option('epochs', { type: 'number', default: DEMO_TRAIN_DEFAULTS.epochs, describe: 'Epochs over the training images (if the minutes allow; LR ×0.1 at 90%)' })
      .option('image-size', { type: 'number', default: DEMO_TRAIN_DEFAULTS.imageSize, describe: 'Training and inference resolution (px, square images)' })
      .option('shuffle-labels', { type: 'boolean', default: false, describe: 'Negative control: train on permuted class labels (the mAP should collapse)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print a JSON summary on stdout' })
      .example('$0 demo --out demo-out', 'Write demo-out/index.html and everything it links')
      .example('$0 demo --no-train', 'Only the data half: synthesize, merge, convert, overlays (seconds)'),
  handler: async (argv) => {
    if (!Number.isInteger(argv.count) || argv.count < 1) throw new UsageError(`--count must be a positive integer, got ${argv.count}`);
    if (!Number.isInteger(argv.seed) || argv.seed < 0) throw new UsageError(`--seed must be a non-negative integer, got ${argv.seed}`);
    if (!(argv['train-minutes'] > 0)) throw new UsageError(`--train-minutes must be > 0, got ${argv['train-minutes']}`);
    if (!Number.isInteger(argv.epochs) || argv.epochs < 1) throw new UsageError(`--epochs must be a positive integer, got ${argv.epochs}`);
    if (!Number.isInteger(argv['image-size']) || argv['image-size'] < 64 || argv['image-size'] % 32 !== 0) {
      throw new UsageError(`--image-size must be a multiple of 32, at least 64, got ${argv['image-size']}`);
    }
    if (argv.train && argv.count < 4) throw new UsageError(`--count must be at least 4 to train and hold out images (or add --no-train), got ${argv.count}`);
    const result = await runDemo({
      outDir: argv.out,
      count: argv.count,
      seed: argv.seed,
      difficulty: argv.difficulty as SynthDifficulty,
      log: (line) => process.stderr.write(`${line}\n`),
      progress: !argv.json,
      train: argv.train && {
        minutes: argv['train-minutes'], epochs: argv.epochs, imageSize: argv['image-size'], shuffleLabels: argv['shuffle-labels'],
      },
    });
    if (argv.json) {
      const { manifest, detection, ...rest } = result;
      const scores = detection && {
        map50: detection.evaluation.map50, map50_11pt: detection.evaluation.map50_11pt, mapCoco: detection.evaluation.mapCoco,
        steps: detection.train.steps, stopped: detection.train.stopped, trainSeconds: detection.trainSeconds, metrics: detection.metricsFile,
      };
      process.stdout.write(`${JSON.stringify({ ...rest, images: manifest.count, ...(scores ? { detection: scores } : {}) }, null, 2)}\n`);
    } else {
      process.stdout.write(`Report: ${result.report}\n`);
    }
  },
};
