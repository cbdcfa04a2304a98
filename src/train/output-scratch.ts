/**
 * Output buffers handed to onnxruntime's `run` as pre-allocated fetches, kept per session and
 * reused while the session's inputs keep their shapes.
 *
 * Why: a session without a memory arena (the split forward models) otherwise mallocs every output
 * afresh on each run, and the kernel zero-fills those pages on first touch: for ResNet-50-FPN's
 * saved activations at batch 2 and 512² that is about 390 MB and 200 k page faults per step.
 * With fetches given, onnxruntime writes into them. onnxruntime-node still returns copies (its
 * binding copies every output into a new JavaScript buffer), so callers never see the scratch
 * buffers and one run cannot overwrite what an earlier run returned.
 */
import * as ort from 'onnxruntime-node';
import { trainerTuning } from './tuning.js';

interface Scratch {
  /** Input shapes the buffers were sized for. */
  key: string;
  fetches: Record<string, ort.Tensor>;
}

/**
 * The scratch of the most recently run sessions, least recent first. A step runs two (segment 1's
 * and segment 2's forward models); a data set of several image sizes has one segment 1 session
 * per size, and holding a scratch for each would add their outputs' size to the peak memory, so
 * only the last SCRATCH_SESSIONS keep one (sizes that alternate then run as without scratch).
 */
const scratchBySession = new Map<ort.InferenceSession, Scratch>();
const SCRATCH_SESSIONS = 2;

function remember(session: ort.InferenceSession, scratch: Scratch): void {
  scratchBySession.delete(session);
  scratchBySession.set(session, scratch);
  while (scratchBySession.size > SCRATCH_SESSIONS) scratchBySession.delete(scratchBySession.keys().next().value!);
}

function shapeKey(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): string {
  return session.inputNames.map((n) => feeds[n]?.dims.join('x') ?? '?').join(',');
}

/**
 * `session.run(feeds)`, with pre-allocated outputs from the second run on with the same input
 * shapes (the first run's outputs tell their shapes and types). Returns what `run` returns.
 */
export async function runWithOutputScratch(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
  if (!trainerTuning.outputScratch) return session.run(feeds);
  const key = shapeKey(session, feeds);
  const scratch = scratchBySession.get(session);
  if (scratch?.key === key) {
    remember(session, scratch);
    try {
      return await session.run(feeds, scratch.fetches);
    } catch {
      // An output whose shape depends on input values, not only on input shapes: run without.
      scratchBySession.delete(session);
      return session.run(feeds);
    }
  }
  const out = await session.run(feeds);
  const fetches: Record<string, ort.Tensor> = {};
  for (const name of session.outputNames) {
    const t = out[name] as ort.Tensor;
    if (t.type !== 'float32' && t.type !== 'int64') return out; // only the types our graphs output
    fetches[name] = new ort.Tensor(t.type, t.type === 'float32' ? new Float32Array(t.size) : new BigInt64Array(t.size), t.dims);
  }
  remember(session, { key, fetches });
  return out;
}

/** Whether `session` holds a scratch now (tests and diagnostics). */
export function holdsOutputScratch(session: ort.InferenceSession): boolean {
  return scratchBySession.has(session);
}
