/**
 * Every CLI command, in the order `--help` lists them. Each module exports one yargs
 * CommandModule; handlers report failures by throwing CliError (see errors.ts).
 */
import type { CommandModule } from 'yargs';
import { infoCommand } from './commands/info.js';
import { annotationsCommand } from './commands/annotations.js';
import { mergeCommand } from './commands/merge.js';
import { labelsCommand } from './commands/labels.js';
import { showCommand } from './commands/show.js';
import { synthCommand } from './commands/synth.js';
import { demoCommand } from './commands/demo.js';
import { predictCommand } from './commands/predict.js';
import { trainCommand } from './commands/train.js';
import { evaluateCommand } from './commands/evaluate.js';

// Add new commands here: one import above, one entry below.
export const commands: CommandModule<any, any>[] = [
  demoCommand,
  infoCommand,
  annotationsCommand,
  mergeCommand,
  labelsCommand,
  showCommand,
  predictCommand,
  trainCommand,
  evaluateCommand,
  synthCommand,
];
