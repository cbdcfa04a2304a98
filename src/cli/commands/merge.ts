/**
 * `hpa-detect merge IN OUT`: merges every HPA channel set of folder IN into OUT/{id}.png.
 * Exit 0 when every set merged (or was already there), 1 when any set failed (the summary in
 * OUT/merge-summary.json lists each with its reason), 2 on bad usage.
 */
import type { CommandModule } from 'yargs';
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import { mergeFolder, defaultMergeConcurrency, MERGE_SUMMARY_NAME } from '../../hpa/merge-folder.js';
import { CliError, UsageError } from '../errors.js';
import path from 'node:path';

interface MergeArgs {
  in: string;
  out: string;
  size?: number;
  mode: string;
  concurrency?: number;
  json: boolean;
  'max-pixels'?: number;
}

export const mergeCommand: CommandModule<object, MergeArgs> = {
  command: 'merge <in> <out>',
  describe: 'Merge the 4 channel files of every HPA set in a folder into RGB PNGs ({id}.png)',
  builder: (y) =>
    y
      .positional('in', { type: 'string', demandOption: true, describe: 'Folder of {id}_{red,green,blue,yellow}.{png,jpg,tif} files' })
      .positional('out', { type: 'string', demandOption: true, describe: 'Output folder (created if needed)' })
      .option('size', { type: 'number', describe: 'Resize so that the longer side is N pixels (aspect ratio kept)' })
      .option('mode', { type: 'string', choices: ['sum', 'average'], default: 'sum', describe: 'sum: R+Y/2, G+Y/2 (clamped); average: (R+Y)/2, (G+Y)/2' })
      .option('concurrency', { type: 'number', describe: `Sets in flight (default ${defaultMergeConcurrency()})` })
      .option('max-pixels', { type: 'number', describe: 'Fail a set whose image has more pixels than this' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the summary as JSON on stdout' })
      .example('$0 merge train/ merged/ --size 512', 'merge every set, 512x512 outputs')
      .example('$0 merge fields/ out/ --mode average --json', 'Kaggle-style average, JSON summary'),
  handler: async (argv) => {
    const positiveInt = (name: string, v: number | undefined) => {
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new UsageError(`--${name} must be a positive integer, got ${v}`);
    };
    positiveInt('size', argv.size);
    positiveInt('concurrency', argv.concurrency);
    positiveInt('max-pixels', argv['max-pixels']);
    // checked here as well as by yargs' `choices`: a handler must not run with a bad mode
    if (argv.mode !== 'sum' && argv.mode !== 'average') throw new UsageError(`--mode must be sum or average, got ${argv.mode}`);
    const stat = await fs.stat(argv.in).catch(() => undefined);
    if (!stat?.isDirectory()) throw new UsageError(`input folder ${argv.in} does not exist or is not a folder`);

    sharp.cache(false); // every file is read once: libvips' operation cache only costs memory here
    const summary = await mergeFolder(argv.in, argv.out, {
      mode: argv.mode as 'sum' | 'average',
      progress: true,
      ...(argv.size !== undefined ? { size: argv.size } : {}),
      ...(argv.concurrency !== undefined ? { concurrency: argv.concurrency } : {}),
      ...(argv['max-pixels'] !== undefined ? { maxPixels: argv['max-pixels'] } : {}),
    });
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    } else {
      process.stdout.write(
        `merged ${summary.merged}, skipped ${summary.skipped} (already done), failed ${summary.failed} ` +
          `of ${summary.total} sets in ${summary.seconds.toFixed(1)} s\n`,
      );
      for (const f of summary.failures) process.stdout.write(`  failed ${f.id}: ${f.reason}\n`);
    }
    if (summary.failed > 0) {
      throw new CliError(`${summary.failed} of ${summary.total} sets failed; see ${path.join(argv.out, MERGE_SUMMARY_NAME)}`);
    }
  },
};
