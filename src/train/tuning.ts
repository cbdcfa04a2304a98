/**
 * Switches of the detector trainer's onnxruntime use, for A/B benchmarks in one process
 * (scripts/bench-train-detector.ts; like src/models/tuning.ts for the model builders). The
 * alternatives compute the same values.
 */
export const trainerTuning = {
  /** The split forward models write into reused output buffers (train/output-scratch.ts: fewer page faults) instead of fresh ones. */
  outputScratch: true,
};
