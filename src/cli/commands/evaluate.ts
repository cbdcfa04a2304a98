/**
 * `hpa-detect evaluate --gt GT --pred PRED [--out DIR]`: mAP of predictions against ground truth,
 * per class: VOC AP50 (all-point and VOC2007 11-point) and COCO AP@[.5:.95]; a table on stdout,
 * metrics.json and pr-curve.png (one precision-recall curve per class at IoU 0.5) in --out.
 */
import type { Argv, CommandModule } from 'yargs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { CliError, UsageError } from '../errors.js';
import { AnnotationInputError, ANNOTATION_FORMATS, type AnnotationFormat } from '../../annotations/load.js';
import { formatIssue } from '../../annotations/dataset.js';
import { evaluateDetections } from '../../eval/map.js';
import { pairDetections, type PairedDetections } from '../../eval/pair.js';
import { guessAnnotationFormat, readGroundTruth, type GroundTruthSet } from '../../eval/read-ground-truth.js';
import { PredictionInputError, readPredictions, type PredictionSet } from '../../eval/read-predictions.js';
import { formatMetricsTable, metricsDocument } from '../../eval/report.js';
import { renderPrCurve } from '../../render/pr-curve.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { readIdList } from '../read-ids.js';

interface EvaluateArgs {
  gt: string;
  pred: string;
  format?: AnnotationFormat;
  images?: string;
  classes?: string;
  ids?: string;
  iou?: string;
  'min-score': number;
  out?: string;
  json: boolean;
}

/** At most this many issue lines on stderr; the rest are counted. */
const MAX_ISSUE_LINES = 20;

const listed = (names: readonly string[], max = 10) => `${names.slice(0, max).join(', ')}${names.length > max ? `, … (${names.length} in all)` : ''}`;

export const evaluateCommand: CommandModule<object, EvaluateArgs> = {
  command: 'evaluate',
  describe: 'mAP of predictions against ground truth (VOC AP50, 11-point, COCO AP@[.5:.95]) with PR curves',
  builder: (y) =>
    y
      .option('gt', { type: 'string', demandOption: true, describe: 'Ground truth: a LabelImg VOC folder, keras-frcnn CSV or COCO JSON' })
      .option('pred', { type: 'string', demandOption: true, describe: 'Predictions: predictions.json of `predict` (or its folder), a folder of VOC XML with <score>, or COCO results JSON' })
      .option('format', { type: 'string', choices: ANNOTATION_FORMATS, describe: 'Format of --gt (default: folder = voc, .json = coco, else csv)' })
      .option('images', { type: 'string', describe: 'Image folder: check and size the ground-truth images (a CSV needs it when its paths do not resolve)' })
      .option('classes', { type: 'string', describe: 'Comma-separated class names in label order (default: ground-truth classes sorted)' })
      .option('ids', { type: 'string', describe: 'Evaluate only the image ids listed in this file, one per line (e.g. ImageSets/Main/val.txt)' })
      .option('iou', { type: 'string', describe: 'Extra IoU thresholds for VOC all-point AP columns, e.g. 0.75 or 0.6,0.75' })
      .option('min-score', { type: 'number', default: 0.05, describe: 'Drop detections scoring below this first' })
      .option('out', { alias: 'o', type: 'string', describe: 'Folder for metrics.json and pr-curve.png' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the metrics as JSON (without the curves) instead of the table' })
      .example('$0 evaluate --gt bccd/Annotations --pred out/predictions.json --out eval', 'VOC ground truth against predict\'s output')
      .example('$0 evaluate --gt bccd/Annotations --ids bccd/val.txt --pred out', 'Only the validation split')
      .example('$0 evaluate --gt coco.json --pred results.json --iou 0.75', 'COCO ground truth and COCO results') as Argv<EvaluateArgs>,
  handler: async (argv) => {
    if (typeof argv.gt !== 'string' || typeof argv.pred !== 'string') throw new UsageError('evaluate needs --gt and --pred');
    const minScore = argv['min-score'];
    if (!(minScore >= 0 && minScore <= 1)) throw new UsageError(`--min-score must be in [0, 1], got ${minScore}`);
    const extraIous = parseIous(argv.iou);
    const classes = argv.classes !== undefined ? parseClasses(argv.classes) : undefined;
    const ids = argv.ids !== undefined ? await readIdList(argv.ids, '--ids') : undefined;

    const gt = await loadGroundTruth(argv.gt, argv.format ?? (await guessAnnotationFormat(argv.gt)), argv.images);
    const preds = await loadPredictions(argv.pred, gt);
    for (const w of preds.warnings) process.stderr.write(`warning: ${w}\n`);
    if (preds.scoreThreshold !== undefined && preds.scoreThreshold > minScore) {
      process.stderr.write(`warning: ${preds.file} kept only detections scoring ≥ ${preds.scoreThreshold} (predict --score-threshold); AP is computed from those (use predict --score-threshold ${minScore} for the standard figures)\n`);
    }
    let paired: PairedDetections;
    try {
      paired = pairDetections(gt, preds, { classes, ids });
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    reportPairing(paired);

    const result = evaluateDetections(paired.gt, paired.preds, { numClasses: paired.classNames.length, classNames: paired.classNames, minScore, extraIouThresholds: extraIous });
    const about = { gt: argv.gt, pred: argv.pred, ...(argv.ids !== undefined ? { ids: argv.ids } : {}), minScore, classNames: paired.classNames, imagesWithoutPrediction: paired.withoutPrediction, failedPredictions: paired.failed };
    if (argv.json) process.stdout.write(JSON.stringify(metricsDocument(result, about, false), null, 1) + '\n');
    else process.stdout.write(formatMetricsTable(result));

    if (argv.out !== undefined) {
      await mkdir(argv.out, { recursive: true });
      const metrics = path.join(argv.out, 'metrics.json');
      await writeFileAtomic(metrics, JSON.stringify(metricsDocument(result, about)) + '\n');
      const curve = path.join(argv.out, 'pr-curve.png');
      const { png } = await renderPrCurve(result.perClass.map((c) => ({ name: c.name, precision: c.precision, recall: c.recall, ap: c.ap50 })), { title: `Precision-recall at IoU 0.5 (mAP50 ${Number.isNaN(result.map50) ? '-' : result.map50.toFixed(3)})` });
      await writeFileAtomic(curve, png);
      process.stderr.write(`→ ${metrics}, ${curve}\n`);
    }
  },
};

function parseIous(text: string | undefined): number[] {
  if (text === undefined) return [];
  return String(text).split(',').map((s) => {
    const v = Number(s.trim());
    if (s.trim() === '' || !(v > 0 && v <= 1)) throw new UsageError(`--iou must be IoU thresholds in (0, 1], comma-separated, got "${text}"`);
    return v;
  });
}

function parseClasses(text: string): string[] {
  const names = String(text).split(',').map((s) => s.trim());
  if (names.some((n) => n === '') || new Set(names).size !== names.length) throw new UsageError(`--classes must be distinct non-empty names, got "${text}"`);
  return names;
}

async function loadGroundTruth(file: string, format: AnnotationFormat, images: string | undefined): Promise<GroundTruthSet> {
  let gt: GroundTruthSet;
  try {
    gt = await readGroundTruth(file, format, images);
  } catch (err) {
    if (err instanceof AnnotationInputError) throw new CliError(`ground truth: ${err.message}`);
    throw err;
  }
  gt.issues.slice(0, MAX_ISSUE_LINES).forEach((i) => process.stderr.write(`${formatIssue(i)}\n`));
  if (gt.issues.length > MAX_ISSUE_LINES) process.stderr.write(`… ${gt.issues.length - MAX_ISSUE_LINES} more issue(s) in ${file}\n`);
  if (gt.fatal.length > 0) {
    const hint = format === 'csv' && images === undefined ? ' (a CSV has no image sizes: give --images DIR)' : '';
    throw new CliError(`ground truth ${file}: ${gt.fatal.length} file(s) or entries unusable (${listed([...new Set(gt.fatal.map((i) => i.file))], 5)})${hint}; fix them or leave them out, evaluating without them would be wrong`);
  }
  if (gt.images.length === 0) throw new CliError(`ground truth ${file}: no images`);
  return gt;
}

async function loadPredictions(file: string, gt: GroundTruthSet): Promise<PredictionSet> {
  try {
    return await readPredictions(file, gt.coco);
  } catch (err) {
    if (err instanceof PredictionInputError) throw new CliError(`predictions: ${err.message}`);
    throw err;
  }
}

function reportPairing(p: PairedDetections): void {
  if (p.outsideIds > 0) process.stderr.write(`${p.outsideIds} predicted image(s) outside --ids left out\n`);
  if (p.withoutPrediction.length > 0) {
    process.stderr.write(`${p.withoutPrediction.length} of ${p.imageIds.length} ground-truth image(s) have no prediction entry, evaluated as without detections: ${listed(p.withoutPrediction)}\n`);
  }
  if (p.failed.length > 0) process.stderr.write(`of those, predict failed on: ${listed(p.failed)}\n`);
  if (p.predictionOnlyClasses.length > 0) {
    process.stderr.write(`warning: class(es) ${p.predictionOnlyClasses.join(', ')} are predicted but have no ground truth (AP undefined, left out of the means; do the class names match? see predict --classes)\n`);
  }
}
