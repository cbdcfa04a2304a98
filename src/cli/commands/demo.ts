/** `hpa-detect demo`: the main job on built-in synthetic data (see src/demo/pipeline.ts). */
import type { CommandModule } from 'yargs';
import { runDemo } from '../../demo/pipeline.js';
import { SYNTH_DIFFICULTIES, type SynthDifficulty } from '../../synth/params.js';
import { UsageError } from '../errors.js';

interface DemoArgs {
  out: string;
  count: number;
  seed: number;
  difficulty: string;
  json: boolean;
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'Run the workflow on built-in synthetic data: synthesize, merge, convert annotations, draw overlays, write an HTML report',
  builder: (y) =>
    y
      .option('out', { type: 'string', default: 'demo-out', describe: 'Output folder' })
      .option('count', { type: 'number', default: 24, describe: 'Synthetic images to generate' })
      .option('seed', { type: 'number', default: 0, describe: 'Random seed' })
      .option('difficulty', { type: 'string', default: 'standard', choices: SYNTH_DIFFICULTIES as unknown as string[] })
      .option('json', { type: 'boolean', default: false, describe: 'Print a JSON summary on stdout' })
      .example('$0 demo --out demo-out', 'Write demo-out/index.html and everything it links'),
  handler: async (argv) => {
    if (!Number.isInteger(argv.count) || argv.count < 1) throw new UsageError(`--count must be a positive integer, got ${argv.count}`);
    if (!Number.isInteger(argv.seed) || argv.seed < 0) throw new UsageError(`--seed must be a non-negative integer, got ${argv.seed}`);
    const result = await runDemo({
      outDir: argv.out,
      count: argv.count,
      seed: argv.seed,
      difficulty: argv.difficulty as SynthDifficulty,
      log: (line) => process.stderr.write(`${line}\n`),
      progress: !argv.json,
    });
    if (argv.json) {
      const { manifest, ...rest } = result;
      process.stdout.write(`${JSON.stringify({ ...rest, images: manifest.count }, null, 2)}\n`);
    } else {
      process.stdout.write(`Report: ${result.report}\n`);
    }
  },
};
