/**
 * Does the demo's detector learn the synthetic classes? Runs the whole demo (same data, same
 * held-out split, same scoring) once per variant and prints one JSON line each: steps, seconds,
 * held-out mAP@0.5 per class, and finding cells whatever the class. The figures in
 * docs/detection-training.md ("Learning the synthetic classes") come from here.
 *
 *   node dist/scripts/demo-class-diagnostic.js '{"name":"default"}' '{"name":"r18","preset":"resnet18-fpn-gn"}'
 *
 * A variant is a DemoTrainOptions object (preset, imageSize, epochs, minutes, optimizer, config,
 * augment, shuffleLabels) plus a `name`; `count`, `seed`, `size` and `difficulty` pick other
 * synthetic data. The demo trains at lr 0.0025 since 2026-11-26 23:50 UTC; the tables before that
 * ran at 0.02, so to rerun one add `"optimizer":{"lr":0.02}` (kept beside any other optimizer keys).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runDemo } from '../src/demo/pipeline.js';
import type { DemoTrainOptions } from '../src/demo/detect-stage.js';
import type { SynthDifficulty } from '../src/synth/index.js';

interface Variant extends DemoTrainOptions {
  name?: string;
  count?: number;
  seed?: number;
  /** Side of the synthetic images (default 512). */
  size?: number;
  /** Synthetic difficulty level (default standard). */
  difficulty?: SynthDifficulty;
}

function parseVariant(arg: string, index: number): Variant {
  try {
    const v = JSON.parse(arg) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError('not an object');
    return v as Variant;
  } catch (err) {
    throw new TypeError(`variant ${index + 1} is not a JSON object (${(err as Error).message}): ${arg}`);
  }
}

async function main(): Promise<void> {
  const variants = process.argv.slice(2).map(parseVariant);
  if (variants.length === 0) variants.push({ name: 'default' });
  for (const { name, count, seed, size, difficulty, ...train } of variants) {
    const outDir = await mkdtemp(path.join(os.tmpdir(), 'hpa-demo-diag-'));
    const t0 = performance.now();
    try {
      const r = await runDemo({ outDir, progress: false, ...(count ? { count } : {}), ...(seed !== undefined ? { seed } : {}), ...(size ? { size } : {}), ...(difficulty ? { difficulty } : {}), train });
      const d = r.detection!;
      console.log(JSON.stringify({
        name: name ?? 'variant',
        steps: d.train.steps,
        trainSeconds: Math.round(d.trainSeconds),
        totalSeconds: Math.round((performance.now() - t0) / 1000),
        map50: Number(d.evaluation.map50.toFixed(3)),
        perClass: Object.fromEntries(d.evaluation.perClass.map((c) => [c.name, Number(c.ap50.toFixed(3))])),
        cellFinding: Number(d.cellFinding.map50.toFixed(3)),
        finalLosses: d.train.history.at(-1)?.train,
        // The RoI classifier's loss per epoch: where the classes separate, it drops from its plateau.
        clsByEpoch: d.train.history.map((e) => Number(e.train.cls.toFixed(3))),
      }));
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
