/**
 * `hpa-detect train --data DIR|CSV|JSON --preset light --epochs N --out DIR`: train a Faster R-CNN
 * (a thin wrapper over trainDetector, src/train/detector-fit.ts). Progress: on a TTY one bar with
 * the loss, images/s and ETA; otherwise plain lines. Ctrl-C saves at the next step boundary.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import type { AugmentOptions } from '../../data/augment.js';
import { type ConfigOverrides, PRESET_NAMES, fasterRcnnConfig } from '../../models/presets.js';
import { describeLrDrop, describeModelsBuilt, trainDetector, TRAIN_FILES, type TrainEvent } from '../../train/detector-fit.js';
import { availableCores } from '../../util/cores.js';
import { formatDuration } from '../../util/progress.js';
import { CliError, UsageError } from '../errors.js';
import { readIdList } from '../read-ids.js';
import { commandLineOverrides, SET_OPTION } from '../config-set.js';

interface TrainArgs {
  model: string;
  preset: string;
  data: string;
  images?: string;
  val?: string;
  'val-images'?: string;
  'val-fraction': number;
  ids?: string;
  'val-ids'?: string;
  epochs: number;
  'time-budget'?: number;
  'budget-lr-steps': boolean;
  init?: string;
  batch: number;
  optimizer: string;
  lr?: number;
  momentum: number;
  'weight-decay': number;
  warmup?: number;
  clip?: number;
  'min-size'?: number;
  'max-size'?: number;
  augment: string;
  map: boolean;
  out: string;
  resume: boolean;
  seed: number;
  threads?: number;
  'low-memory': boolean;
  set?: string[];
  json: boolean;
}

/** Augmentation presets: cells have no orientation, so flips and quarter turns are safe. */
const AUGMENT: Record<string, AugmentOptions | undefined> = {
  none: undefined,
  hflip: { hflip: 0.5 },
  flips: { hflip: 0.5, vflip: 0.5, rotate90: 0.5 },
  full: { hflip: 0.5, vflip: 0.5, rotate90: 0.5, scaleJitter: { p: 0.5, min: 0.8, max: 1.25 }, color: { p: 0.8, brightness: 0.2, contrast: 0.2 } },
};

function check(ok: boolean, message: string): void {
  if (!ok) throw new UsageError(message);
}

const positiveInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;

/** Checks the flags (usage errors name them); returns the model overrides they give. */
function validate(a: TrainArgs): ConfigOverrides {
  check(positiveInt(a.epochs), `--epochs must be a positive integer, got ${a.epochs}`);
  check(positiveInt(a.batch), `--batch must be a positive integer, got ${a.batch}`);
  check(a['val-fraction'] >= 0 && a['val-fraction'] < 1, `--val-fraction must be in [0, 1), got ${a['val-fraction']}`);
  check(a['time-budget'] === undefined || a['time-budget'] > 0, `--time-budget must be > 0 minutes, got ${a['time-budget']}`);
  check(a.lr === undefined || (Number.isFinite(a.lr) && a.lr > 0), `--lr must be > 0, got ${a.lr}`);
  check(a.momentum >= 0 && a.momentum < 1, `--momentum must be in [0, 1), got ${a.momentum}`);
  check(a['weight-decay'] >= 0, `--weight-decay must be >= 0, got ${a['weight-decay']}`);
  check(a.warmup === undefined || (Number.isSafeInteger(a.warmup) && a.warmup >= 0), `--warmup must be a non-negative integer (steps), got ${a.warmup}`);
  check(a.clip === undefined || a.clip > 0, `--clip must be > 0, got ${a.clip}`);
  for (const k of ['min-size', 'max-size', 'threads'] as const) check(a[k] === undefined || positiveInt(a[k]), `--${k} must be a positive integer, got ${a[k]}`);
  check(Number.isSafeInteger(a.seed) && a.seed >= 0, `--seed must be a non-negative integer, got ${a.seed}`);
  check(!a.resume || (a.set ?? []).length === 0, '--set changes the model: a resumed run keeps the config stored in its checkpoint');
  const overrides = modelOverrides(a);
  check(a.resume || !existsSync(path.join(a.out, TRAIN_FILES.last)), `--out ${a.out} already holds a run (${TRAIN_FILES.last}): add --resume to continue it, or choose another --out`);
  for (const k of ['data', 'images', 'val', 'val-images', 'init'] as const) {
    if (a[k] !== undefined) check(existsSync(a[k]!), `--${k}: ${a[k]} does not exist`);
  }
  return overrides;
}

/** --set, then --min-size/--max-size on top, checked against the preset (a usage error names the field). */
function modelOverrides(a: TrainArgs): ConfigOverrides {
  const overrides = commandLineOverrides(a, fasterRcnnConfig(a.preset));
  try {
    fasterRcnnConfig(a.preset, overrides);
  } catch (err) {
    throw new UsageError(`--set: ${(err as Error).message}`);
  }
  return overrides;
}

/** Flags a resumed run does not use: the checkpoint stores the model, optimizer and data settings. */
const FIXED_ON_RESUME = ['preset', 'init', 'batch', 'optimizer', 'lr', 'momentum', 'weight-decay', 'warmup', 'clip', 'budget-lr-steps', 'min-size', 'max-size', 'augment', 'seed', 'val-fraction', 'threads'];

/**
 * Those of `flags` typed on this command line (yargs fills in defaults, so only the raw arguments
 * tell): rerunning the first command with --resume added is the usual way to continue, so they
 * are named, not refused.
 */
function typedFlags(flags: readonly string[], args: readonly string[] = process.argv.slice(2)): string[] {
  return flags.filter((f) => args.some((a) => a === `--${f}` || a.startsWith(`--${f}=`) || a === `--no-${f}`));
}

/** Progress output: a redrawn bar on a TTY, plain lines otherwise. The ETA is the sooner of the epochs' end and the time budget's. */
function reporter(json: boolean, budgetMinutes?: number): (e: TrainEvent) => void {
  const out = process.stderr;
  const tty = Boolean(out.isTTY) && !json;
  let total = 0, startStep = 0, perEpoch = 1, images = 0, every = 1;
  let lastDraw = 0;
  let barShown = false; // a TTY bar is on the current line (end it before other output)
  const t0 = performance.now();
  // images/s from step to step only: the first step (building the training models) and the
  // interval holding an epoch's validation and saving are left out, so it is the training rate.
  let lastStepAt: number | undefined;
  let stepSeconds = 0, imagesTimed = 0;
  return (e) => {
    if (json) return;
    if (e.kind === 'start') {
      total = e.steps; startStep = e.startStep; perEpoch = e.stepsPerEpoch;
      every = Math.max(1, Math.floor(perEpoch / 5));
      for (const note of e.notes) out.write(`${note}\n`);
      out.write(`${e.resumed ? 'resuming at' : 'training from'} step ${e.startStep}/${e.steps} (${e.stepsPerEpoch} steps/epoch; ${e.trainImages} training, ${e.valImages} validation images; preset ${e.config.preset}, ${e.config.arch.numClasses - 1} class(es))\n`);
    } else if (e.kind === 'step') {
      const r = e.result;
      for (const b of r.modelsBuilt ?? []) {
        out.write(`${tty && barShown ? '\r\x1b[2K' : ''}${describeModelsBuilt(b, r.step)}\n`);
        barShown = false;
      }
      images += r.images;
      const done = r.step - startStep;
      const now = performance.now();
      const seconds = (now - t0) / 1000;
      if (lastStepAt !== undefined) {
        stepSeconds += (now - lastStepAt) / 1000;
        imagesTimed += r.images;
      }
      lastStepAt = now;
      const rate = imagesTimed > 0 ? imagesTimed / stepSeconds : images / seconds;
      const eta = Math.min((seconds / Math.max(done, 1)) * (total - r.step), budgetMinutes === undefined ? Infinity : Math.max(0, budgetMinutes * 60 - e.elapsedSeconds));
      const l = r.losses;
      const text = `epoch ${r.epoch + 1}/${Math.ceil(total / perEpoch)} step ${r.step}/${total} loss ${l.total.toFixed(3)} (rpn ${l.rpn_cls.toFixed(3)}/${l.rpn_reg.toFixed(3)}, roi ${l.cls.toFixed(3)}/${l.reg.toFixed(3)}) ${rate.toFixed(2)} img/s ETA ${formatDuration(eta)}`;
      if (tty) {
        if (now - lastDraw < 200 && r.step < total) return;
        lastDraw = now;
        const width = 20, filled = Math.round((width * r.step) / Math.max(total, 1));
        out.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
        barShown = true;
      } else if (r.step % every === 0 || r.step === total) {
        out.write(`${text}\n`);
      }
    } else if (e.kind === 'epoch') {
      lastStepAt = undefined;
      const r = e.record;
      const val = r.val ? `, val loss ${r.val.total.toFixed(4)}` : '';
      const map = r.map50 !== undefined ? `, val mAP@0.5 ${r.map50.toFixed(4)}` : '';
      barShown = false;
      out.write(`${tty ? '\r\x1b[2K' : ''}epoch ${r.epoch + 1}: train loss ${r.train.total.toFixed(4)}${val}${map} (${r.seconds.toFixed(1)} s)${e.best ? ' best' : ''}\n`);
    } else if (e.kind === 'lr-drop') {
      out.write(`${tty && barShown ? '\r\x1b[2K' : ''}${describeLrDrop(e)}\n`);
      barShown = false;
    } else if (tty && barShown) {
      out.write('\n');
      barShown = false;
    }
  };
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'Train a Faster R-CNN on VOC / CSV / COCO annotations (checkpoints, loss log, learning curve, resume)',
  builder: (y) =>
    y
      .option('model', { type: 'string', default: 'faster-rcnn', choices: ['faster-rcnn'], describe: 'Detector architecture' })
      .option('preset', { type: 'string', default: 'light', choices: PRESET_NAMES, describe: 'Model preset' })
      .option('data', { type: 'string', demandOption: true, describe: 'Training annotations: VOC folder (or root with Annotations/), CSV or COCO JSON' })
      .option('images', { type: 'string', describe: 'Image folder (VOC default: the root\'s JPEGImages)' })
      .option('val', { type: 'string', describe: 'Validation annotations (same kinds as --data)' })
      .option('val-images', { type: 'string', describe: 'Image folder of --val' })
      .option('ids', { type: 'string', describe: 'Train only on the image ids listed in this file, one per line (e.g. ImageSets/Main/train.txt)' })
      .option('val-ids', { type: 'string', describe: 'Validate only on the ids listed in this file (of --val, else of --data)' })
      .option('val-fraction', { type: 'number', default: 0.2, describe: 'Without --val: hold out this fraction of --data (seeded split; 0 = no validation)' })
      .option('epochs', { type: 'number', default: 10, describe: 'Epochs to train (a resumed run continues up to this many)' })
      .option('time-budget', { type: 'number', describe: 'Stop (and save) after the step that crosses this many minutes; the LR drops come at their fraction of the steps it allows if that is sooner' })
      .option('budget-lr-steps', { type: 'boolean', default: true, describe: 'With --time-budget, bring the LR drops forward to fit it (--no-budget-lr-steps: keep them on their epochs)' })
      .option('init', { type: 'string', describe: 'Initial weights (torchvision export or hpa-detect checkpoint); default random' })
      .option('batch', { type: 'number', default: 2, describe: 'Images per step' })
      .option('optimizer', { type: 'string', default: 'sgd', choices: ['sgd', 'adamw'] })
      .option('lr', { type: 'number', describe: 'Learning rate (default 0.02 for sgd, 1e-4 for adamw)' })
      .option('momentum', { type: 'number', default: 0.9, describe: 'SGD momentum' })
      .option('weight-decay', { type: 'number', default: 1e-4 })
      .option('warmup', { type: 'number', describe: 'Linear warm-up steps (default min(1000, steps per epoch - 1))' })
      .option('clip', { type: 'number', describe: 'Clip the gradient norm to this (default 10 from random weights, none with --init)' })
      .option('min-size', { type: 'number', describe: "Resize: short side (default: the preset's)" })
      .option('max-size', { type: 'number', describe: "Resize: long side cap (default: the preset's)" })
      .option('set', SET_OPTION)
      .option('augment', { type: 'string', default: 'flips', choices: Object.keys(AUGMENT), describe: "Augmentation: none, hflip (torchvision's detection recipe), flips (h/v flips, quarter turns), full (+ scale jitter, brightness/contrast)" })
      .option('map', { type: 'boolean', default: true, describe: 'Validate with mAP@0.5 (--no-map: validation loss only)' })
      .option('out', { alias: 'o', type: 'string', default: 'train-out', describe: 'Output folder' })
      .option('resume', { type: 'boolean', default: false, describe: `Continue from OUT/${TRAIN_FILES.last} (settings from the checkpoint)` })
      .option('seed', { type: 'number', default: 0, describe: 'Seed of the weights, data order, augmentation, sampling and split' })
      .option('threads', { type: 'number', describe: 'onnxruntime threads (default: all cores; a resumed run uses the checkpoint\'s)' })
      .option('low-memory', { type: 'boolean', default: false, describe: "Backward pass without onnxruntime's memory arena: about a third less peak memory at 512² with the ResNet presets, 10-24% more time per step, same results" })
      .option('json', { type: 'boolean', default: false, describe: 'Print a JSON summary on stdout' })
      .example('$0 train --data ../shared/data/bccd --preset light --epochs 12 --out runs/bccd', 'VOC root with Annotations/ and JPEGImages/')
      .example('$0 train --data ../shared/data/bccd --ids ../shared/data/bccd/train.txt --val-fraction 0 --out runs/bccd', 'Train on one split only')
      .example('$0 train --data ../shared/data/bccd --resume --epochs 12 --out runs/bccd', 'Continue an interrupted run') as Argv<TrainArgs>,
  handler: async (argv) => {
    const overrides = validate(argv);
    const ignored = argv.resume ? typedFlags(FIXED_ON_RESUME) : [];
    if (ignored.length > 0) process.stderr.write(`--resume: ${ignored.map((f) => `--${f}`).join(', ')} not used: a resumed run keeps the settings stored in ${path.join(argv.out, TRAIN_FILES.last)}\n`);
    const controller = new AbortController();
    const onSigint = () => {
      if (controller.signal.aborted) process.exit(130);
      process.stderr.write('\nhpa-detect: stopping after this step and saving (Ctrl-C again to quit at once)\n');
      controller.abort();
    };
    process.on('SIGINT', onSigint);
    try {
      const ids = argv.ids !== undefined ? await readIdList(argv.ids, '--ids') : undefined;
      const valIds = argv['val-ids'] !== undefined ? await readIdList(argv['val-ids'], '--val-ids') : undefined;
      const result = await trainDetector({
        preset: argv.preset,
        config: overrides,
        data: { annotations: argv.data, ...(argv.images ? { images: argv.images } : {}), ...(ids ? { ids } : {}) },
        ...(argv.val || valIds
          ? { val: { annotations: argv.val ?? argv.data, ...((argv.val ? argv['val-images'] : argv.images) ? { images: (argv.val ? argv['val-images'] : argv.images)! } : {}), ...(valIds ? { ids: valIds } : {}) } }
          : {}),
        valFraction: argv['val-fraction'],
        epochs: argv.epochs,
        ...(argv['time-budget'] !== undefined ? { timeBudgetMinutes: argv['time-budget'] } : {}),
        ...(argv.init ? { init: argv.init } : {}),
        batchSize: argv.batch,
        optimizer: {
          kind: argv.optimizer as 'sgd' | 'adamw', momentum: argv.momentum, weightDecay: argv['weight-decay'], budgetLrSteps: argv['budget-lr-steps'],
          ...(argv.lr !== undefined ? { lr: argv.lr } : {}), ...(argv.warmup !== undefined ? { warmupIters: argv.warmup } : {}), ...(argv.clip !== undefined ? { clipGradNorm: argv.clip } : {}),
        },
        ...(AUGMENT[argv.augment] ? { augment: AUGMENT[argv.augment] } : {}),
        map: argv.map,
        outDir: argv.out,
        resume: argv.resume,
        seed: argv.seed,
        threads: argv.threads ?? availableCores(),
        lowMemory: argv['low-memory'],
        signal: controller.signal,
      }, reporter(argv.json, argv['time-budget']));
      const summary = { stopped: result.stopped, steps: result.steps, epochs: result.epochs, best: result.best ?? null, last: result.last, model: result.modelJson, lossLog: result.lossLog, curve: result.curve };
      if (argv.json) process.stdout.write(`${JSON.stringify({ ...summary, history: result.history }, null, 2)}\n`);
      else process.stderr.write(`${result.stopped === 'done' ? 'done' : `stopped (${result.stopped})`} at step ${result.steps}; best: ${result.best ?? '(none yet)'}; last: ${result.last}\n`);
    } catch (err) {
      if (err instanceof RangeError || err instanceof TypeError) throw new CliError((err as Error).message);
      throw err;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};
