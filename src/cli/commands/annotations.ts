/**
 * `hpa-detect annotations convert|stats|split`: LabelImg VOC XML (or COCO JSON, keras-frcnn CSV) to
 * keras-frcnn CSV, COCO JSON or a VOC directory layout; per-class statistics; seeded train/val/test lists.
 * Every problem is printed on stderr naming the file (and object); the good files are still
 * converted, and the exit code is 1 when any file had an error.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { CliError, UsageError } from '../errors.js';
import type { AnnotationIssue } from '../../annotations/model.js';
import { formatIssue, type LoadOptions } from '../../annotations/dataset.js';
import type { OutsidePolicy } from '../../annotations/validate.js';
import { ANNOTATION_FORMATS, AnnotationInputError, loadAnnotations, type AnnotationFormat, type LoadedAnnotations } from '../../annotations/load.js';
import { formatKerasCsv } from '../../annotations/csv.js';
import { formatCocoJson, toCoco } from '../../annotations/coco.js';
import { writeVocLayout } from '../../annotations/voc-layout.js';
import { computeStats, formatStatsTable } from '../../annotations/stats.js';
import { splitIds, writeSplit, type SplitOptions } from '../../annotations/split.js';
import { writeFileAtomic } from '../../util/atomic.js';

/** Load IN, turning a missing input into exit 2 (not named) or exit 1 (unreadable). */
async function load(input: unknown, from: AnnotationFormat, options: LoadOptions): Promise<LoadedAnnotations> {
  // yargs reports a missing positional but may still run the handler; keep the exit code 2.
  if (typeof input !== 'string' || input === '') throw new UsageError('name the input (a folder of VOC XML, an XML file, a COCO JSON or a CSV file)');
  try {
    return await loadAnnotations(input, from, options);
  } catch (err) {
    if (err instanceof AnnotationInputError) throw new CliError(err.message);
    throw err;
  }
}

function printIssues(issues: AnnotationIssue[]): void {
  for (const issue of issues) process.stderr.write(`${issue.severity}: ${formatIssue(issue)}\n`);
}

/** After the work is done: exit 1 naming every file that had an error. */
function failIfErrors(loaded: LoadedAnnotations, extra: AnnotationIssue[] = []): void {
  const files = [...new Set([...loaded.filesWithErrors, ...extra.filter((i) => i.severity === 'error').map((i) => i.file)])];
  if (files.length) throw new CliError(`${files.length} file(s) had errors (the rest was converted): ${files.join(', ')}`);
}

function parseClasses(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const classes = value.split(',').map((c) => c.trim()).filter((c) => c !== '');
  if (classes.length === 0) throw new UsageError('--classes: give at least one class name (comma-separated)');
  return classes;
}

/**
 * yargs reports choice/demand failures through main's fail() handler but may still run the command
 * handler; re-check what a handler relies on so a usage error never writes anything.
 */
function requireChoice(name: string, value: unknown, choices: readonly string[]): void {
  if (typeof value !== 'string' || !choices.includes(value)) {
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got ${String(value)}`);
  }
}

function requirePath(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`name the ${name}`);
}

/** Converting in place would rewrite (and drop boxes from) the user's only copy: refuse it. */
function refuseOverwritingInput(input: unknown, out: string, to: string): void {
  if (typeof input !== 'string') return;
  const source = path.resolve(input);
  const target = path.resolve(out);
  const clash = to === 'voc' ? source === path.join(target, 'Annotations') || source.startsWith(path.join(target, 'Annotations') + path.sep) : source === target;
  if (clash) throw new UsageError(`OUT ${out} would overwrite the input ${input}; write somewhere else`);
}

function splitOptions(argv: { seed: number; val: number; test: number }): SplitOptions {
  const check = (name: string, v: number) => {
    if (!Number.isFinite(v) || v < 0 || v > 1) throw new UsageError(`--${name} must be a fraction in [0, 1], got ${v}`);
  };
  check('val', argv.val);
  check('test', argv.test);
  if (argv.val + argv.test > 1) throw new UsageError(`--val + --test must be <= 1, got ${argv.val + argv.test}`);
  if (!Number.isInteger(argv.seed)) throw new UsageError(`--seed must be an integer, got ${argv.seed}`);
  return { seed: argv.seed, val: argv.val, test: argv.test };
}

function splitFlags<T>(y: Argv<T>, prefix = '') {
  return y
    .option('seed', { type: 'number', default: 0, describe: `${prefix}Seed of the shuffle (same seed, same lists)` })
    .option('val', { type: 'number', default: 0.2, describe: `${prefix}Fraction of images for validation` })
    .option('test', { type: 'number', default: 0.1, describe: `${prefix}Fraction of images for test` });
}

interface ConvertArgs {
  in: string;
  out: string;
  from: AnnotationFormat;
  to: 'csv' | 'coco' | 'voc';
  images?: string;
  'image-prefix'?: string;
  // No defaults: yargs' conflicts() would treat a default false as given.
  clip?: boolean;
  'reject-outside'?: boolean;
  'keep-outside'?: boolean;
  classes?: string;
  round: boolean;
  link: boolean;
  seed: number;
  val: number;
  test: number;
  json: boolean;
}

const convertCommand: CommandModule<object, ConvertArgs> = {
  command: 'convert <in> <out>',
  describe: 'Convert LabelImg VOC XML (or COCO JSON, keras-frcnn CSV) to keras-frcnn CSV, COCO JSON or a VOC layout',
  builder: (y) =>
    splitFlags(
      y
        .positional('in', { type: 'string', demandOption: true, describe: 'Folder of VOC XML or one XML file; with --from, a COCO JSON or keras-frcnn CSV file' })
        .positional('out', { type: 'string', demandOption: true, describe: 'CSV file, COCO JSON file, or (--to voc) output folder' })
        .option('from', { choices: ANNOTATION_FORMATS, default: 'voc' as const, describe: 'Input format' })
        .option('to', { choices: ['csv', 'coco', 'voc'] as const, demandOption: true, describe: 'Output format' })
        .option('images', { type: 'string', describe: 'Image folder: missing images are errors; CSV paths point into it; --to voc copies from it' })
        .option('image-prefix', { type: 'string', describe: 'CSV: prefix of each filepath (default: --images, else the bare file name)' })
        .option('clip', { type: 'boolean', describe: 'Clip boxes reaching outside the image (the default)' })
        .option('reject-outside', { type: 'boolean', describe: 'Drop boxes reaching outside the image (an error)' })
        .option('keep-outside', { type: 'boolean', describe: 'Keep boxes reaching outside the image as they are (a warning)' })
        .conflicts('clip', ['reject-outside', 'keep-outside'])
        .conflicts('reject-outside', 'keep-outside')
        .option('classes', { type: 'string', describe: 'Allowed classes, comma-separated, in COCO category-id order; others are errors' })
        .option('round', { type: 'boolean', default: false, describe: "CSV: round coordinates to integers (keras-frcnn reads them with int())" })
        .option('link', { type: 'boolean', default: false, describe: 'VOC: symlink images into JPEGImages/ instead of copying' })
        .option('json', { type: 'boolean', default: false, describe: 'Print a machine-readable summary on stdout' }),
      'VOC ImageSets/Main: ',
    )
      .example('$0 annotations convert Annotations annot.txt --to csv --images JPEGImages', 'keras-frcnn annot.txt')
      .example('$0 annotations convert Annotations coco.json --to coco --classes RBC,WBC,Platelets', 'COCO with fixed category ids')
      .example('$0 annotations convert Annotations voc-out --to voc --images JPEGImages --seed 1', 'VOC directory layout')
      .example('$0 annotations convert annot.txt voc-out --from csv --to voc', 'keras-frcnn CSV to VOC (sizes read from the images)') as Argv<ConvertArgs>,
  handler: async (argv) => {
    requireChoice('from', argv.from, ANNOTATION_FORMATS);
    requireChoice('to', argv.to, ['csv', 'coco', 'voc']);
    requirePath('output (OUT)', argv.out);
    if ([argv.clip, argv['reject-outside'], argv['keep-outside']].filter(Boolean).length > 1) {
      throw new UsageError('--clip, --reject-outside and --keep-outside are mutually exclusive');
    }
    const outside: OutsidePolicy = argv['reject-outside'] ? 'reject' : argv['keep-outside'] ? 'keep' : 'clip';
    const classes = parseClasses(argv.classes);
    const split = argv.to === 'voc' ? splitOptions(argv) : undefined;
    refuseOverwritingInput(argv.in, argv.out, argv.to);
    const loaded = await load(argv.in, argv.from, {
      outside,
      ...(classes ? { classes } : {}),
      ...(argv.images !== undefined ? { imageDir: argv.images } : {}),
    });
    printIssues(loaded.issues);

    const extra: AnnotationIssue[] = [];
    try {
      if (argv.to !== 'voc') await fs.mkdir(path.dirname(path.resolve(argv.out)), { recursive: true });
      if (argv.to === 'csv') {
        const prefix = argv['image-prefix'] ?? argv.images;
        const fractional = loaded.annotations.some((a) => a.objects.some((o) => [o.x1, o.y1, o.x2, o.y2].some((v) => !Number.isInteger(v))));
        if (fractional && !argv.round) process.stderr.write("note: some coordinates are fractional; keras-frcnn reads them with int() and fails: add --round\n");
        await writeFileAtomic(argv.out, formatKerasCsv(loaded.annotations, { ...(prefix !== undefined ? { imagePrefix: prefix } : {}), round: argv.round }));
      } else if (argv.to === 'coco') {
        const coco = toCoco(loaded.annotations, { ...(classes ? { classes } : {}), description: `hpa-detect annotations convert ${argv.in}` });
        await writeFileAtomic(argv.out, formatCocoJson(coco));
      } else {
        const r = await writeVocLayout(argv.out, loaded.annotations, {
          ...(argv.images !== undefined ? { imageDir: argv.images } : {}),
          link: argv.link,
          ...(split ? { split } : {}),
        });
        extra.push(...r.issues);
        printIssues(r.issues);
        if (argv.images === undefined) process.stderr.write('note: no --images given; JPEGImages/ left empty\n');
      }
    } catch (err) {
      if (err instanceof RangeError) throw new CliError(err.message);
      throw new CliError(`cannot write ${argv.out}: ${(err as Error).message}`);
    }

    const boxes = loaded.annotations.reduce((n, a) => n + a.objects.length, 0);
    const summary = {
      input: argv.in,
      output: argv.out,
      to: argv.to,
      images: loaded.annotations.length,
      boxes,
      errors: [...loaded.issues, ...extra].filter((i) => i.severity === 'error').length,
      warnings: [...loaded.issues, ...extra].filter((i) => i.severity === 'warning').length,
      filesWithErrors: loaded.filesWithErrors,
      issues: [...loaded.issues, ...extra],
    };
    if (argv.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else process.stderr.write(`converted ${summary.images} images (${boxes} boxes) to ${argv.to}: ${argv.out}\n`);
    failIfErrors(loaded, extra);
  },
};

interface StatsArgs {
  in: string;
  from: AnnotationFormat;
  json: boolean;
}

const statsCommand: CommandModule<object, StatsArgs> = {
  command: 'stats <in>',
  describe: 'Per-class box and image counts and a box-size histogram, as read (nothing dropped)',
  builder: (y) =>
    y
      .positional('in', { type: 'string', demandOption: true, describe: 'Folder of VOC XML or one XML file; with --from, a COCO JSON or keras-frcnn CSV file' })
      .option('from', { choices: ANNOTATION_FORMATS, default: 'voc' as const, describe: 'Input format' })
      .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output' })
      .example('$0 annotations stats ../shared/data/bccd/Annotations', 'RBC/WBC/Platelets counts') as Argv<StatsArgs>,
  handler: async (argv) => {
    requireChoice('from', argv.from, ANNOTATION_FORMATS);
    const loaded = await load(argv.in, argv.from, { validate: false });
    printIssues(loaded.issues);
    const stats = computeStats(loaded.annotations);
    if (argv.json) process.stdout.write(`${JSON.stringify({ input: argv.in, ...stats, issues: loaded.issues }, null, 2)}\n`);
    else process.stdout.write(formatStatsTable(stats));
    if (loaded.filesWithErrors.length) throw new CliError(`${loaded.filesWithErrors.length} file(s) could not be read in full: ${loaded.filesWithErrors.join(', ')}`);
  },
};

interface SplitArgs {
  in: string;
  out: string;
  from: AnnotationFormat;
  seed: number;
  val: number;
  test: number;
  json: boolean;
}

const splitCommand: CommandModule<object, SplitArgs> = {
  command: 'split <in>',
  describe: 'Seeded train/val/test lists of image ids (train.txt, val.txt, test.txt, trainval.txt)',
  builder: (y) =>
    splitFlags(
      y
        .positional('in', { type: 'string', demandOption: true, describe: 'Folder of VOC XML (ids are the XML names); with --from, a COCO JSON or CSV file (ids are image names)' })
        .option('out', { type: 'string', demandOption: true, describe: 'Folder for the id lists' })
        .option('from', { choices: ANNOTATION_FORMATS, default: 'voc' as const, describe: 'Input format' })
        .option('json', { type: 'boolean', default: false, describe: 'Print the lists as JSON on stdout' }),
    ).example('$0 annotations split Annotations --out ImageSets/Main --seed 42 --val 0.2 --test 0.1', '70/20/10 split') as Argv<SplitArgs>,
  handler: async (argv) => {
    requireChoice('from', argv.from, ANNOTATION_FORMATS);
    requirePath('output folder (--out DIR)', argv.out);
    const options = splitOptions(argv);
    const loaded = await load(argv.in, argv.from, { validate: false });
    printIssues(loaded.issues);
    const split = splitIds(loaded.ids, options);
    const written = await writeSplit(argv.out, split);
    if (argv.json) process.stdout.write(`${JSON.stringify({ ...options, ...split }, null, 2)}\n`);
    else process.stderr.write(`${split.train.length} train, ${split.val.length} val, ${split.test.length} test ids written: ${written.join(', ')}\n`);
    if (loaded.filesWithErrors.length) throw new CliError(`${loaded.filesWithErrors.length} file(s) could not be read and are in no list: ${loaded.filesWithErrors.join(', ')}`);
  },
};

/** `hpa-detect annotations <convert|stats|split>`. */
export const annotationsCommand: CommandModule<object, object> = {
  command: 'annotations <command>',
  describe: 'Convert, count and split LabelImg (Pascal VOC) annotations',
  builder: (y) =>
    y
      .command(convertCommand as CommandModule<object, any>)
      .command(statsCommand as CommandModule<object, any>)
      .command(splitCommand as CommandModule<object, any>)
      .demandCommand(1, 'Name an annotations command: convert, stats or split.'),
  handler: () => {},
};
