/**
 * MODEL as `hpa-detect predict` takes it: a safetensors file, a training run's folder, or the
 * run's model.json. A run names its weights in model.json (checkpoint-best, else
 * checkpoint-last), so `predict runs/cells/ images/` uses what `train` chose.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { TRAIN_FILES } from '../train/detector-fit.js';
import { CliError } from './errors.js';

/** The weights file for `arg`, and the model.json or folder it was found through. */
export function resolveModelPath(arg: string): { file: string; via?: string } {
  if (!existsSync(arg)) throw new CliError(`model not found: ${arg}`);
  if (statSync(arg).isDirectory()) {
    const json = path.join(arg, TRAIN_FILES.model);
    if (existsSync(json)) return { file: weightsOf(json), via: json };
    for (const f of [TRAIN_FILES.best, TRAIN_FILES.last]) if (existsSync(path.join(arg, f))) return { file: path.join(arg, f), via: arg };
    throw new CliError(`model not found: ${arg} is a folder without ${TRAIN_FILES.model}, ${TRAIN_FILES.best} or ${TRAIN_FILES.last} (a training run's --out)`);
  }
  if (arg.toLowerCase().endsWith('.json')) return { file: weightsOf(arg), via: arg };
  return { file: arg };
}

/** The weights file a model.json names (relative to it). */
function weightsOf(json: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(json, 'utf8'));
  } catch (err) {
    throw new CliError(`cannot read ${json}: ${(err as Error).message}`);
  }
  const weights = (doc as { weights?: unknown } | null)?.weights;
  if (typeof weights !== 'string' || weights === '') throw new CliError(`${json}: no "weights" field naming the checkpoint (is it a model.json of hpa-detect train?)`);
  const file = path.resolve(path.dirname(json), weights);
  if (!existsSync(file) || !statSync(file).isFile()) throw new CliError(`${json} names ${weights}, which is not there: ${file}`);
  return file;
}
