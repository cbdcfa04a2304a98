/**
 * Formulation switches of the gradient builder, for A/B benchmarks of one formulation against
 * another in the same process (scripts/bench-train-core.ts `AB=1`). The defaults are the measured
 * faster choices; the alternatives compute the same gradients.
 */
export const gradTuning = {
  /** Conv weight gradient's im2col: one depthwise Conv with one-hot kernels ('conv') or Pad + kh·kw Slices + Concat ('slices'). */
  im2col: 'conv' as 'conv' | 'slices',
  /** Conv weight gradient as a Conv over transposed tensors (batch 1, 1 group) for kernels of at least this many taps. */
  transposedMinTaps: 25,
  /** Conv input gradient: 'auto' (flipped-weight Conv for stride 1 on ≥ 1024 output pixels, else ConvTranspose), or always 'convTranspose'. */
  convInputGrad: 'auto' as 'auto' | 'convTranspose',
  /** Conv weight gradient, batch > 1 on small maps: the batch folded into one Gemm's inner dimension instead of per-image products + ReduceSum. */
  foldBatchIntoGemm: true,
  /** Closed-form gradient of normalizations built from basic ops (src/graph/grad/fused.ts). */
  fuseNormalizations: true,
};
