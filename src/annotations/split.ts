/**
 * Seeded train/val/test split of image ids, written as one id per line (like VOC's
 * ImageSets/Main/*.txt and BCCD's train.txt). Same ids + seed + fractions: same split, on any machine.
 */
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { Rng } from '../util/rng.js';
import { writeFileAtomic } from '../util/atomic.js';

export interface SplitOptions {
  /** Seed for the project's Rng (xoshiro128**). */
  seed: number;
  /** Fraction of ids for validation, in [0, 1]. */
  val: number;
  /** Fraction of ids for test, in [0, 1]; val + test <= 1. */
  test: number;
}

/** The three disjoint lists, each sorted; together they are exactly the input ids. */
export interface Split {
  train: string[];
  val: string[];
  test: string[];
}

function checkFraction(value: number, name: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`${name} must be a number, got ${String(value)}`);
  if (value < 0 || value > 1) throw new RangeError(`${name} must be in [0, 1], got ${value}`);
}

/**
 * Shuffle the (sorted, de-duplicated) ids with Rng(seed), take round(n*test) for test, then
 * round(n*val) for val, the rest for train. The input order does not matter.
 */
export function splitIds(ids: readonly string[], options: SplitOptions): Split {
  checkFraction(options.val, 'val');
  checkFraction(options.test, 'test');
  if (options.val + options.test > 1 + 1e-12) throw new RangeError(`val + test must be <= 1, got ${options.val + options.test}`);
  if (!Number.isInteger(options.seed)) throw new TypeError(`seed must be an integer, got ${String(options.seed)}`);
  const unique = [...new Set(ids)].sort();
  const shuffled = new Rng(options.seed).shuffle(unique.slice());
  const n = shuffled.length;
  const nTest = Math.round(n * options.test);
  const nVal = Math.min(Math.round(n * options.val), n - nTest);
  const sorted = (a: string[]) => a.sort();
  return {
    test: sorted(shuffled.slice(0, nTest)),
    val: sorted(shuffled.slice(nTest, nTest + nVal)),
    train: sorted(shuffled.slice(nTest + nVal)),
  };
}

/** Write train.txt, val.txt, test.txt (and trainval.txt, as VOC has) into `dir`, atomically. */
export async function writeSplit(dir: string, split: Split): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  const lists: [string, string[]][] = [
    ['train', split.train],
    ['val', split.val],
    ['test', split.test],
    ['trainval', [...split.train, ...split.val].sort()],
  ];
  const written: string[] = [];
  for (const [name, ids] of lists) {
    const file = path.join(dir, `${name}.txt`);
    await writeFileAtomic(file, ids.map((id) => `${id}\n`).join(''));
    written.push(file);
  }
  return written;
}
