/**
 * Formulation switches of the model builders, for A/B benchmarks in one process (like
 * src/graph/grad/tuning.ts for the gradient rules). The defaults are the measured faster choices;
 * the alternatives compute the same function up to float rounding.
 */
export const modelTuning = {
  /** A conv followed by FrozenBatchNorm2d as one Conv with the norm folded into its weight and bias (graph/blocks.ts), or as Conv + BatchNormalization. */
  foldFrozenBatchNorm: true,
};
