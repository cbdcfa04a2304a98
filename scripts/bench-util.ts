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

/** Sum of onnxruntime kernel time (ms) per operator type in a profile file (`enableProfiling`). */
export function profileByOp(file: string): Map<string, number> {
  const events = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
  const byOp = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur / 1000);
  }
  return byOp;
}
