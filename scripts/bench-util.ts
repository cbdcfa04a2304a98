/** Timing helpers shared by the benchmark scripts. */
import { readFileSync } from 'node:fs';

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median wall time in ms of `reps` calls of `fn`, after one untimed warm-up call. */
export function timeMs(fn: () => void, reps: number): number {
  fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(ts);
}

/** The fp32 peak a benchmark reports its GFLOP/s against, and how it was derived. */
export interface AssumedPeak {
  gflops: number;
  description: string;
}

/**
 * fp32 peak of `cores` cores of this machine, read from /proc/cpuinfo: 2 FMA pipes per core,
 * 16 fp32 lanes with AVX-512 (8 with AVX2 only), 2 FLOP per FMA, at the listed clock (the TSC
 * clock on these VMs; boost may go higher, so a kernel can pass 100%). The machines lent here
 * differ (AVX2-only EPYCs, AVX-512 ones), so a fixed figure would be wrong on some of them.
 */
export function assumedPeak(cores: number, cpuinfo = readCpuinfo()): AssumedPeak {
  const flags = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1]?.split(/\s+/) ?? [];
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo)?.[1] ?? NaN);
  const ghz = Number.isFinite(mhz) && mhz > 0 ? mhz / 1000 : 2.6;
  const [lanes, isa] = flags.includes('avx512f') ? [16, 'AVX-512'] : flags.includes('avx2') ? [8, 'AVX2'] : [4, 'SSE'];
  const gflops = cores * 2 * lanes * 2 * ghz;
  return { gflops, description: `${cores} core(s) × 2 FMA × ${lanes} fp32 × 2 FLOP × ${ghz.toFixed(2)} GHz, ${isa}` };
}

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

/** One node's kernel-time event in an onnxruntime profile file (`enableProfiling`). */
export interface KernelEvent {
  /** Node name (ours: the graph's node names, e.g. `grad.Conv_grad_3`). */
  node: string;
  op: string;
  /** Input shapes, in input order (one entry per input, a dtype → dims object each). */
  inputShapes: Record<string, number[]>[];
  ms: number;
  /** Which `session.run` of the session it belongs to (0-based; the first includes one-time work). */
  run: number;
}

/** An onnxruntime profile file, parsed once: its kernel-time events and each run's duration. */
export interface Profile {
  kernels: KernelEvent[];
  /** Duration (ms) of each `session.run`, as onnxruntime timed it (its `model_run` events). */
  runMs: number[];
}

/** Read an onnxruntime profile file (a Chrome trace written with `enableProfiling`). */
export function readProfile(file: string): Profile {
  type Raw = { cat: string; name: string; ts: number; dur: number; args?: { op_name?: string; input_type_shape?: Record<string, number[]>[] } };
  const events = JSON.parse(readFileSync(file, 'utf8')) as Raw[];
  const runs = events.filter((e) => e.name === 'model_run');
  const kernels = events
    .filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'))
    .map((e) => ({
      node: e.name.slice(0, -'_kernel_time'.length),
      op: e.args?.op_name ?? '?',
      inputShapes: e.args?.input_type_shape ?? [],
      ms: e.dur / 1000,
      run: runs.findIndex((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur),
    }));
  return { kernels, runMs: runs.map((r) => r.dur / 1000) };
}

/**
 * Sum of kernel time (ms) per key of each event (`keyOf`, by default the operator type). With
 * `firstRun` > 0 only the runs from that one on count; otherwise every event does, inside a
 * `model_run` or not.
 */
export function profileBy(kernels: KernelEvent[], keyOf: (e: KernelEvent) => string = (e) => e.op, firstRun = 0): Map<string, number> {
  const sums = new Map<string, number>();
  for (const e of kernels) {
    if (firstRun > 0 && e.run < firstRun) continue;
    const key = keyOf(e);
    sums.set(key, (sums.get(key) ?? 0) + e.ms);
  }
  return sums;
}

/** Sum of onnxruntime kernel time (ms) per operator type in a profile file (`enableProfiling`). */
export function profileByOp(file: string): Map<string, number> {
  return profileBy(readProfile(file).kernels);
}
