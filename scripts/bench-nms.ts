/**
 * `npm run bench:nms`: hpa-detect's native NMS against torchvision.ops.nms (Debian's
 * /usr/bin/python3, torch limited to 2 threads) on the same inputs, IoU 0.7, 1000/4000/12000
 * boxes, the two box generators of issue 3:
 *   uniform:   x, y ~ U(0, 500), w, h ~ U(4, 64)
 *   clustered: N/40 centres ~ U(0, 500); each box a centre plus N(0, 6) jitter, w, h ~ U(20, 60)
 * scores: a random permutation of N distinct values. Both sides' repetitions are interleaved
 * (python answers one timed call per request, then ours runs once), so machine load affects
 * both alike. Prints medians of the repetitions, the ratio, and whether both returned the same
 * kept indices (exit code 1 if not).
 *
 * Options: --reps R (default 30), --seed S (default 1), --no-torch.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/util/rng.js';
import { nmsSync } from '../src/detection/nms.js';
import { median } from './bench-util.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const python = '/usr/bin/python3';

export type Generator = 'uniform' | 'clustered';

/** Boxes [n*4] and distinct scores [n] from the generators. */
export function makeBoxes(n: number, kind: Generator, rng: Rng): { boxes: Float32Array; scores: Float32Array } {
  const boxes = new Float32Array(4 * n);
  if (kind === 'uniform') {
    for (let i = 0; i < n; i++) {
      const x = rng.uniform(0, 500), y = rng.uniform(0, 500);
      const w = rng.uniform(4, 64), h = rng.uniform(4, 64);
      boxes.set([x, y, x + w, y + h], 4 * i);
    }
  } else {
    const k = Math.max(1, Math.round(n / 40));
    const centres: [number, number][] = [];
    for (let c = 0; c < k; c++) centres.push([rng.uniform(0, 500), rng.uniform(0, 500)]);
    for (let i = 0; i < n; i++) {
      const [cx0, cy0] = centres[i % k]!;
      const cx = cx0 + rng.normal(0, 6), cy = cy0 + rng.normal(0, 6);
      const w = rng.uniform(20, 60), h = rng.uniform(20, 60);
      boxes.set([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 4 * i);
    }
  }
  const perm = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const scores = Float32Array.from(perm, (v) => (v + 1) / (n + 1));
  return { boxes, scores };
}


/** The python helper as a line-protocol server (see bench_nms_torch.py). */
class TorchSide {
  private lines: AsyncIterator<string>;
  private proc;
  constructor(spec: string) {
    this.proc = spawn(python, [path.join(repoRoot, 'scripts', 'bench_nms_torch.py'), spec], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = createInterface({ input: this.proc.stdout! })[Symbol.asyncIterator]();
  }
  async ask(cmd: string): Promise<string> {
    this.proc.stdin!.write(cmd + '\n');
    return this.read();
  }
  async read(): Promise<string> {
    const r = await this.lines.next();
    if (r.done) throw new Error('torchvision helper exited');
    return r.value;
  }
  close(): void {
    this.proc.stdin!.end('quit\n');
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, def: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : def;
  };
  const reps = opt('--reps', 30);
  const seed = opt('--seed', 1);
  const withTorch = !args.includes('--no-torch');
  const iou = 0.7;
  const rng = new Rng(seed);
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-nms-'));
  const cases: { name: string; n: number; kind: Generator; boxes: Float32Array; scores: Float32Array; file: string }[] = [];
  for (const kind of ['uniform', 'clustered'] as const) {
    for (const n of [1000, 4000, 12000]) {
      const { boxes, scores } = makeBoxes(n, kind, rng);
      const file = path.join(dir, `${kind}_${n}.bin`);
      const buf = new Float32Array(5 * n);
      buf.set(boxes, 0);
      buf.set(scores, 4 * n);
      writeFileSync(file, Buffer.from(buf.buffer));
      cases.push({ name: `${kind} ${n}`, n, kind, boxes, scores, file });
    }
  }
  let torch: TorchSide | undefined;
  let versions = '';
  if (withTorch) {
    const spec = path.join(dir, 'cases.json');
    writeFileSync(spec, JSON.stringify({ cases: cases.map((c) => ({ name: c.name, file: c.file, n: c.n, iou })) }));
    try {
      const t = new TorchSide(spec);
      const hello = JSON.parse(await t.read()) as { torch: string; torchvision: string; threads: number };
      versions = `; torch ${hello.torch} / torchvision ${hello.torchvision}, ${hello.threads} threads`;
      torch = t;
    } catch (e) {
      console.error(`torchvision side skipped (${python}): ${(e as Error).message}`);
    }
  }

  console.log(`NMS, IoU ${iou}, medians of ${reps} interleaved runs (ms): wall clock, and process CPU time ` +
    `(less distorted when other jobs share the machine); node ${process.version}${versions}`);
  console.log('| boxes | generator | kept | ours wall | torchvision wall | ratio wall | ours CPU | torchvision CPU | ratio CPU | same kept |');
  console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  let allSame = true;
  for (const [ci, c] of cases.entries()) {
    for (let w = 0; w < 3; w++) {
      nmsSync(c.boxes, c.scores, iou);
      if (torch) await torch.ask(`run ${ci}`);
    }
    const ours: number[] = [], oursCpu: number[] = [];
    const theirs: number[] = [], theirsCpu: number[] = [];
    let kept: Int32Array = new Int32Array(0);
    for (let r = 0; r < reps; r++) {
      if (torch) {
        const [w, cpu] = (await torch.ask(`run ${ci}`)).split(' ').map(Number);
        theirs.push(w!);
        theirsCpu.push(cpu!);
      }
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      kept = nmsSync(c.boxes, c.scores, iou);
      ours.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const d = process.cpuUsage(c0);
      oursCpu.push((d.user + d.system) / 1e3);
    }
    const tk = torch ? (JSON.parse(await torch.ask(`keep ${ci}`)) as number[]) : undefined;
    const same = tk ? tk.length === kept.length && tk.every((v, i) => v === kept[i]) : undefined;
    if (same === false) allSame = false;
    const fmt = (x: number, d: number) => (torch ? x.toFixed(d) : 'n/a');
    const mo = median(ours), mt = median(theirs), mco = median(oursCpu), mct = median(theirsCpu);
    console.log(`| ${c.n} | ${c.kind} | ${kept.length} | ${mo.toFixed(3)} | ${fmt(mt, 2)} | ${fmt(mt / mo, 1)}× | ` +
      `${mco.toFixed(3)} | ${fmt(mct, 2)} | ${fmt(mct / mco, 1)}× | ${same === undefined ? 'n/a' : same ? 'yes' : 'NO'} |`);
  }
  torch?.close();
  rmSync(dir, { recursive: true, force: true });
  if (!allSame) {
    console.error('kept indices differ from torchvision');
    process.exitCode = 1;
  }
}

await main();
