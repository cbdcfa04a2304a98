/**
 * Output buffers of one session handed to onnxruntime's `run` as pre-allocated fetches, reused
 * while its inputs keep their shapes.
 *
 * Why: a session without a memory arena (the split forward models) otherwise mallocs every output
 * afresh on each run, and the kernel zero-fills those pages on first touch. For resnet18-fpn-gn at
 * 512², batch 2, the reuse halves a training step's page faults (173 k → 87 k) and its system time
 * (0.49 → 0.24 s; docs/benchmarks.md, "Reused output buffers"). With fetches given onnxruntime
 * writes into them; onnxruntime-node still returns copies (its binding copies every output into a
 * new JavaScript buffer), so callers never see the scratch buffers and one run cannot overwrite
 * what an earlier run returned.
 */
import * as ort from 'onnxruntime-node';
import { allocArray, isDType } from '../graph/dtype.js';
import { trainerTuning } from './tuning.js';

function shapeKey(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): string {
  return session.inputNames.map((n) => feeds[n]?.dims.join('x') ?? '?').join(',');
}

/** The reused outputs of one session; release() drops them with the session. */
export class OutputScratch {
  /** The buffers and the input shapes they fit. */
  private buffers: { key: string; fetches: Record<string, ort.Tensor> } | undefined;
  /** Input shapes of the last run without buffers: they are made when a shape comes twice. */
  private lastMiss: string | undefined;
  /** Set when a run into the buffers failed (an output shape that depends on input values). */
  private disabled = false;

  constructor(readonly session: ort.InferenceSession) {}

  /** `session.run(feeds)`: into the reused buffers when these input shapes have been seen before. */
  async run(feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
    if (this.disabled || !trainerTuning.outputScratch) return this.session.run(feeds);
    const key = shapeKey(this.session, feeds);
    if (this.buffers?.key === key) {
      try {
        return await this.session.run(feeds, this.buffers.fetches);
      } catch {
        // Never again for this session; a real error recurs in the plain run and is thrown there.
        this.disabled = true;
        this.release();
        return this.session.run(feeds);
      }
    }
    const out = await this.session.run(feeds);
    if (key === this.lastMiss) this.buffers = this.allocate(key, out);
    this.lastMiss = key;
    return out;
  }

  /** Whether the next run with inputs of these shapes writes into reused buffers (tests). */
  holds(feeds: Record<string, ort.Tensor>): boolean {
    return this.buffers?.key === shapeKey(this.session, feeds);
  }

  release(): void {
    this.buffers = undefined;
  }

  /** Buffers shaped like `out`, or none when an output has a type the builder does not make. */
  private allocate(key: string, out: ort.InferenceSession.OnnxValueMapType): OutputScratch['buffers'] {
    const fetches: Record<string, ort.Tensor> = {};
    for (const name of this.session.outputNames) {
      const t = out[name] as ort.Tensor;
      if (!isDType(t.type)) return undefined;
      fetches[name] = new ort.Tensor(t.type, allocArray(t.type, t.size) as ort.Tensor.DataTypeMap[typeof t.type], t.dims);
    }
    return { key, fetches };
  }
}
