/**
 * `hpa-detect synth`: the built-in synthetic HPA-like dataset (4 channel PNGs, LabelImg VOC XML and
 * instance masks per image, plus manifest.json). Bad arguments exit 2; an unwritable folder exits 1.
 */
import type { Argv, CommandModule } from 'yargs';
import { CliError, UsageError } from '../errors.js';
import { Progress } from '../../util/progress.js';
import { SYNTH_DIFFICULTIES, type SynthDifficulty } from '../../synth/params.js';
import { synthesizeDataset, validateSynthOptions, type SynthOptions } from '../../synth/write.js';

interface SynthArgs {
  out: string;
  count: number;
  seed: number;
  difficulty: SynthDifficulty;
  size: number;
  json: boolean;
}

/** The yargs module of `hpa-detect synth`. */
export const synthCommand: CommandModule<object, SynthArgs> = {
  command: 'synth',
  describe: 'Generate a synthetic HPA-like dataset (channels, VOC XML, instance masks)',
  builder: (y) =>
    y
      .option('out', { type: 'string', demandOption: true, describe: 'Output folder (created if missing)' })
      .option('count', { type: 'number', demandOption: true, describe: 'Number of images (≥ 1)' })
      .option('seed', { type: 'number', default: 0, describe: 'Dataset seed (integer ≥ 0): same seed, same files' })
      .option('difficulty', {
        type: 'string',
        choices: SYNTH_DIFFICULTIES,
        default: 'standard',
        describe: 'Level (see docs/synth.md)',
      })
      .option('size', { type: 'number', default: 512, describe: 'Image side in pixels' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the manifest summary as JSON, no progress' })
      .example('$0 synth --out data/synth --count 100 --seed 1', '100 standard 512×512 sets in data/synth')
      .example('$0 merge data/synth data/merged', 'then merge the channels into {id}.png (the XML filenames)') as Argv<SynthArgs>,
  handler: async (argv) => {
    const options: SynthOptions = {
      outDir: argv.out,
      count: argv.count,
      seed: argv.seed,
      difficulty: argv.difficulty,
      size: argv.size,
    };
    try {
      validateSynthOptions(options);
    } catch (err) {
      throw new UsageError(`synth: ${(err as Error).message}`);
    }
    const progress = new Progress(argv.count, { label: 'synth', unit: 'images', quiet: argv.json });
    options.onImage = () => progress.tick();
    let manifest;
    try {
      manifest = await synthesizeDataset(options);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new CliError(`synth: cannot write to ${argv.out}: ${e.code ? `${e.code} ${e.path ?? ''}`.trim() : e.message}`);
    } finally {
      progress.finish();
    }
    const cells = manifest.images.reduce((s, i) => s + i.cells, 0);
    const nucleoli = manifest.images.reduce((s, i) => s + i.nucleoli, 0);
    const summary = {
      out: argv.out,
      images: manifest.count,
      cells,
      nucleoli,
      notNucleoli: cells - nucleoli,
      seconds: Math.round(progress.elapsedSeconds * 100) / 100,
      imagesPerSecond: Math.round((manifest.count / progress.elapsedSeconds) * 10) / 10,
    };
    if (argv.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      process.stdout.write(
        `wrote ${summary.images} images (${cells} cells: ${nucleoli} Nucleoli, ${cells - nucleoli} Not Nucleoli) ` +
          `to ${argv.out} in ${summary.seconds} s (${summary.imagesPerSecond} images/s)\n`,
      );
    }
  },
};
