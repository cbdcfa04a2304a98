/**
 * Faster R-CNN training step against torch eager (issue 5: "Training step, ResNet-50-FPN at
 * 512×512, 3 trainable backbone layers … Goal: ≤ 0.7× torch"; peak RSS of both), in the same run.
 *
 * Model: torchvision's fasterrcnn_resnet50_fpn built as with weights=None, weights_backbone=None,
 * num_classes 91, trainable_backbone_layers 3 (FrozenBatchNorm2d), seeded (seed 0) and written by
 * scripts/export_torchvision.py; our preset `resnet50-fpn` (trainableLayers 3) loads that file
 * (FileWeights) and torch (scripts/bench_train_step_torch.py) loads the same file. Batch: BATCH (2)
 * synthetic SIZE×SIZE (512) images with 4 boxes each; transform min_size = max_size = SIZE on both
 * sides, so the images stay SIZE×SIZE. SGD lr 0.02, momentum 0.9, weight decay 1e-4; THREADS (2)
 * on both sides (ORT intra-op and native optimizer threads; torch.set_num_threads).
 *
 * A step is everything DetectorTrainer.trainStep does (batch, transform, both segments forward and
 * backward, targets, proposals, RoIAlign, optimizer) against torch's `model(images, targets)` (its
 * transform included), the summed losses' backward and `optimizer.step()`.
 *
 * Correctness: from the same initial weights, torch records its RPN and RoI samples on the batch;
 * ours replays that sample through detectorPass (DetectorTrainer.segmented); the four losses must
 * agree within LOSS_TOL relative, and each trainable parameter's gradient norm within NORM_TOL.
 *
 * Timing: one untimed warm-up step each (ours also builds segment 1's training model in the check),
 * then STEPS (3) timed steps each, alternating ours/torch so both see the same load; medians of
 * wall and CPU seconds; peak RSS of each process (ours process.resourceUsage().maxRSS; torch
 * getrusage in its own process); the load average before and after.
 *
 * SPLIT=1 trains with DetectorTrainer's splitBackward (each segment's forward runs once, the
 * backward model reads the saved activations), SPLIT=0 with the training models that recompute
 * the forward pass; unset, the trainer's default (SPLIT_BACKWARD_DEFAULT). One path per run, so that
 * the peak RSS is that path's.
 *
 *   npm run bench:train-step-torch           (STEPS=3 SIZE=512 BATCH=2 THREADS=2 SPLIT=default)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { DetectionDataset } from '../src/data/dataset.js';
import { DetectionLoader } from '../src/data/loader.js';
import { toModelInput } from '../src/data/model-input.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import type { HostTensor } from '../src/io/tensor.js';
import { fasterRcnnConfig } from '../src/models/presets.js';
import { FileWeights } from '../src/models/weights.js';
import { packageRoot } from '../src/native.js';
import { detectorPass, type StepSample } from '../src/train/detector-step.js';
import { DetectorTrainer, SPLIT_BACKWARD_DEFAULT } from '../src/train/detector-trainer.js';
import { Rng } from '../src/util/rng.js';
import { median } from './bench-util.js';

const STEPS = Number(process.env.STEPS ?? 3);
const SIZE = Number(process.env.SIZE ?? 512);
const BATCH = Number(process.env.BATCH ?? 2);
const THREADS = Number(process.env.THREADS ?? 2);
const SPLIT = process.env.SPLIT === undefined ? SPLIT_BACKWARD_DEFAULT : process.env.SPLIT === '1';
const NUM_CLASSES = 91;
const SGD = { kind: 'sgd' as const, lr: 0.02, momentum: 0.9, weightDecay: 1e-4 };
/** Loss agreement (relative, plus 1e-6 absolute), as test/detector-step-torch.test.ts. */
const LOSS_TOL = 1e-4;
/** Gradient-norm agreement per parameter (relative). */
const NORM_TOL = 1e-3;
const PYTHON = '/usr/bin/python3';

const load = (): string => os.loadavg().map((x) => x.toFixed(1)).join(' ');

/** BATCH synthetic images (bright squares on a dark background, values in [0,1]) with 4 boxes each. */
function syntheticSamples(): { image: { data: Float32Array; height: number; width: number }; boxes: Float32Array; labels: Int32Array }[] {
  return Array.from({ length: BATCH }, (_, i) => {
    const rng = new Rng(i + 1);
    const data = new Float32Array(3 * SIZE * SIZE).fill(0.1);
    const boxes: number[] = [];
    for (let k = 0; k < 4; k++) {
      const w = Math.round(SIZE * (0.05 + 0.1 * rng.next()));
      const x = rng.int(0, SIZE - w - 1), y = rng.int(0, SIZE - w - 1);
      for (let c = 0; c < 3; c++) for (let yy = y; yy < y + w; yy++) data.fill(0.9, c * SIZE * SIZE + yy * SIZE + x, c * SIZE * SIZE + yy * SIZE + x + w);
      boxes.push(x, y, x + w, y + w);
    }
    return { image: { data, height: SIZE, width: SIZE }, boxes: Float32Array.from(boxes), labels: Int32Array.from([1, 2, 1, 2]) };
  });
}

/** The torch side as a request/response process. */
async function startTorch(dir: string): Promise<{ info: Record<string, unknown>; ask: <T>(cmd: string) => Promise<T>; quit: () => void }> {
  const child = spawn(PYTHON, [path.join(packageRoot, 'scripts', 'bench_train_step_torch.py'), dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done) throw new Error('bench_train_step_torch.py exited early (see its stderr above)');
    return r.value;
  };
  const info = JSON.parse(await next()) as Record<string, unknown>;
  if ((await next()) !== 'ready') throw new Error('bench_train_step_torch.py did not say ready');
  return {
    info,
    ask: async <T>(cmd: string): Promise<T> => {
      child.stdin.write(cmd + '\n');
      return JSON.parse(await next()) as T;
    },
    quit: () => child.stdin.end('quit\n'),
  };
}

interface TorchStep { fwd_ms: number; bwd_ms: number; opt_ms: number; wall_ms: number; cpu_ms: number; loss: number }

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-bench-step-torch-'));
  try {
    console.log(`load average at start ${load()}`);
    // 1. The seeded torchvision model, exported as our weights file.
    let t = performance.now();
    const exp = spawnSync(PYTHON, [path.join(packageRoot, 'scripts', 'export_torchvision.py'), '--out-dir', dir, '--arch', 'resnet50', '--num-classes', String(NUM_CLASSES),
      '--seed', '0', '--trainable-layers', '3', '--min-size', String(SIZE), '--max-size', String(SIZE), '--threads', String(THREADS)], { encoding: 'utf8' });
    if (exp.status !== 0) throw new Error(`export_torchvision.py failed: ${exp.stderr}`);
    console.log(`export_torchvision.py (resnet50, ${NUM_CLASSES} classes, 3 trainable layers, seed 0): ${((performance.now() - t) / 1000).toFixed(1)} s`);

    // 2. The batch and the config, for both sides.
    const config = fasterRcnnConfig('resnet50-fpn', { arch: { numClasses: NUM_CLASSES, trainableLayers: 3 }, transform: { minSize: SIZE, maxSize: SIZE } });
    const samples = syntheticSamples();
    const input = new Map<string, HostTensor>();
    const images = new Float32Array(BATCH * 3 * SIZE * SIZE);
    samples.forEach((s, i) => {
      images.set(s.image.data, i * 3 * SIZE * SIZE);
      input.set(`boxes/${i}`, { dtype: 'F32', shape: [4, 4], data: s.boxes });
      input.set(`labels/${i}`, { dtype: 'I32', shape: [4], data: s.labels });
    });
    input.set('images', { dtype: 'F32', shape: [BATCH, 3, SIZE, SIZE], data: images });
    await writeSafetensors(path.join(dir, 'input.safetensors'), input, undefined, { fsync: false });
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ config, threads: THREADS, lr: SGD.lr, momentum: SGD.momentum, weightDecay: SGD.weightDecay }));
    const torch = await startTorch(dir);

    // 3. Our trainer on the same weights and batch.
    const dataset = {
      size: BATCH,
      get: async (i: number) => ({ id: String(i), image: samples[i]!.image, target: { boxes: samples[i]!.boxes.slice(), labels: samples[i]!.labels.slice() } }),
    } as unknown as DetectionDataset;
    const loader = new DetectionLoader(dataset, { batchSize: BATCH });
    t = performance.now();
    const weightsFile = path.join(dir, 'weights.safetensors');
    const trainer = await DetectorTrainer.create({ config, weights: new FileWeights((await readSafetensors(weightsFile)).tensors, weightsFile), optimizer: SGD, loader, threads: { intraOp: THREADS, optimizer: THREADS }, splitBackward: SPLIT });
    const createS = (performance.now() - t) / 1000;
    const mb = (b: number): string => (b / 2 ** 20).toFixed(0);
    const rssAfterCreate = `RSS ${mb(process.memoryUsage().rss)} MB, peak ${mb(process.resourceUsage().maxRSS * 1024)} MB`;

    // 4. Correctness: torch's sample replayed from the same initial weights.
    const check = await torch.ask<{ losses: Record<string, number>; gradNorms: Record<string, number> }>('check');
    const ref = (await readSafetensors(path.join(dir, 'torch_sample.safetensors'))).tensors;
    const get = <A>(name: string): A => {
      const r = ref.get(name);
      if (!r) throw new Error(`torch sample has no ${name}`);
      return r.data as A;
    };
    // In a function, so that the check pass's gradients are garbage once it returns (not part of the timed steps' RSS).
    const { checkS, rssAfterCheck, ok, lossLines, ourNames, torchNames, sameSet, worst, positives, sample } = await (async () => {
      const sample: StepSample = {
        rpn: Array.from({ length: BATCH }, (_, i) => ({ positiveIndices: get<Int32Array>(`rpn_pos/${i}`), negativeIndices: get<Int32Array>(`rpn_neg/${i}`) })),
        roi: Array.from({ length: BATCH }, (_, i) => ({ proposals: get<Float32Array>(`roi_proposals/${i}`), labels: get<Int32Array>(`roi_labels/${i}`), regressionTargets: get<Float32Array>(`roi_targets/${i}`) })),
      };
      const t0 = performance.now();
      const modelInput = toModelInput(await loader.batch(Array.from({ length: BATCH }, (_, i) => i), new Rng(1)), config.transform);
      const pass = await detectorPass(trainer.segmented, modelInput, { sample }, { backward: true });
      const checkS = (performance.now() - t0) / 1000;
      const rssAfterCheck = `RSS ${mb(process.memoryUsage().rss)} MB, peak ${mb(process.resourceUsage().maxRSS * 1024)} MB`;
      const pairs: [string, number, number][] = [
        ['rpn_cls (loss_objectness)', pass.losses.rpn_cls, check.losses['loss_objectness']!],
        ['rpn_reg (loss_rpn_box_reg)', pass.losses.rpn_reg, check.losses['loss_rpn_box_reg']!],
        ['cls (loss_classifier)', pass.losses.cls, check.losses['loss_classifier']!],
        ['reg (loss_box_reg)', pass.losses.reg, check.losses['loss_box_reg']!],
      ];
      let ok: boolean = true;
      const lossLines = pairs.map(([name, ours, theirs]) => {
        const good = Math.abs(ours - theirs) <= LOSS_TOL * Math.abs(theirs) + 1e-6;
        ok &&= good;
        return `  ${name}: ours ${ours.toPrecision(7)} torch ${theirs.toPrecision(7)} (relative difference ${(Math.abs(ours - theirs) / Math.abs(theirs)).toExponential(1)})${good ? '' : ' FAIL'}`;
      });
      const torchNames = Object.keys(check.gradNorms).sort();
      const ourNames = [...pass.grads!.keys()].sort();
      const sameSet = torchNames.length === ourNames.length && torchNames.every((n, i) => n === ourNames[i]);
      ok &&= sameSet;
      let worst = { name: '', rel: 0 };
      for (const [name, g] of pass.grads!) {
        let s = 0;
        for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
        const theirs = check.gradNorms[name] ?? NaN;
        const rel = Math.abs(Math.sqrt(s) - theirs) / Math.max(theirs, 1e-30);
        if (!(rel <= worst.rel)) worst = { name, rel };
      }
      ok &&= worst.rel <= NORM_TOL;
      const positives = sample.roi.map((r) => r.labels.filter((l) => l > 0).length);
      return { checkS, rssAfterCheck, ok, lossLines, ourNames, torchNames, sameSet, worst, positives, sample };
    })();

    // 5. Timing, alternating.
    const ours = { wall: [] as number[], cpu: [] as number[], stages: new Map<string, number[]>() };
    const theirs = { wall: [] as number[], cpu: [] as number[], fwd: [] as number[], bwd: [] as number[], opt: [] as number[] };
    const loads: number[] = [];
    for (let i = -1; i < STEPS; i++) { // -1: warm-up of both
      t = performance.now();
      const c0 = process.cpuUsage();
      const r = await trainer.trainStep();
      const c = process.cpuUsage(c0);
      const w = (performance.now() - t) / 1000, u = (c.user + c.system) / 1e6;
      const ts = await torch.ask<TorchStep>('step');
      const l1 = os.loadavg()[0]!;
      console.log(`step ${i < 0 ? 'warm-up' : i}: ours ${w.toFixed(2)} s wall ${u.toFixed(2)} s CPU (loss ${r.losses.total.toFixed(3)}), torch ${(ts.wall_ms / 1000).toFixed(2)} s wall ${(ts.cpu_ms / 1000).toFixed(2)} s CPU (loss ${ts.loss.toFixed(3)}); load ${l1.toFixed(1)}`);
      if (i < 0) continue;
      loads.push(l1);
      ours.wall.push(w), ours.cpu.push(u);
      for (const [k, v] of Object.entries(r.timings)) ours.stages.set(k, [...(ours.stages.get(k) ?? []), v / 1000]);
      theirs.wall.push(ts.wall_ms / 1000), theirs.cpu.push(ts.cpu_ms / 1000), theirs.fwd.push(ts.fwd_ms / 1000), theirs.bwd.push(ts.bwd_ms / 1000), theirs.opt.push(ts.opt_ms / 1000);
    }
    const oursRss = process.resourceUsage().maxRSS / 1024;
    const torchRss = (await torch.ask<{ peak_rss_mb: number }>('rss')).peak_rss_mb;
    torch.quit();
    await trainer.release();

    const info = torch.info;
    const s = (x: number): string => x.toFixed(2);
    console.log(`\nFaster R-CNN ResNet-50-FPN (frozen BN, 3 trainable layers, ${NUM_CLASSES} classes), batch ${BATCH} × ${SIZE}×${SIZE} (min_size = max_size = ${SIZE}), SGD lr ${SGD.lr} momentum ${SGD.momentum} wd ${SGD.weightDecay}; ${THREADS} threads each; medians of ${STEPS} steps after 1 warm-up, alternating ours/torch`);
    console.log(`torch ${String(info.torch)} / torchvision ${String(info.torchvision)}, ${String(info.threads)} threads, BLAS ${String(info.blas)} (${(info.blasLibraries as string[]).join(', ') || 'none mapped'}); trainable parameters: torch ${String(info.trainable)}, ours ${trainer.trainableNames.length} tensors`);
    console.log(`our trainer (splitBackward ${SPLIT}): create ${createS.toFixed(1)} s (then ${rssAfterCreate}), replayed check pass (builds segment 1's training models) ${checkS.toFixed(1)} s (then ${rssAfterCheck})`);
    console.log(`check (torchvision's sample replayed: ${sample.rpn.map((r) => `${r.positiveIndices.length}+${r.negativeIndices.length}`).join(', ')} anchors, ${sample.roi.map((r, i) => `${r.labels.length} RoIs (${positives[i]} positive)`).join(', ')}): ${ok ? 'PASS' : 'FAIL'}`);
    for (const l of lossLines) console.log(l);
    console.log(`  gradients: ${ourNames.length} trainable tensors ours, ${torchNames.length} torch, ${sameSet ? 'the same names' : 'DIFFERENT names'}; worst relative difference of a gradient norm ${worst.rel.toExponential(1)} (${worst.name}; tolerance ${NORM_TOL})`);
    console.log('| | step s (wall) | step CPU s | peak RSS MB |');
    console.log('| --- | ---: | ---: | ---: |');
    console.log(`| torch eager | ${s(median(theirs.wall))} | ${s(median(theirs.cpu))} | ${torchRss.toFixed(0)} |`);
    console.log(`| ours | ${s(median(ours.wall))} | ${s(median(ours.cpu))} | ${oursRss.toFixed(0)} |`);
    console.log(`ratio ours / torch: ${(median(ours.wall) / median(theirs.wall)).toFixed(2)} wall, ${(median(ours.cpu) / median(theirs.cpu)).toFixed(2)} CPU (goal ≤ 0.7 wall); peak RSS ${(oursRss / torchRss).toFixed(2)}`);
    console.log(`torch split (medians): forward ${s(median(theirs.fwd))} s, backward ${s(median(theirs.bwd))} s, optimizer ${s(median(theirs.opt))} s`);
    console.log(`our split (medians): ${[...ours.stages].map(([k, v]) => `${k} ${s(median(v))}`).join(', ')} s (backward = segment 2 training run + RoIAlign backward + segment 1 training run, forward and backward)`);
    console.log(`load average (1 min) during the timed steps: ${loads.map((l) => l.toFixed(1)).join(' ')}; at the end ${load()}`);
    if (!ok) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
