/**
 * Switches of the detector trainer's onnxruntime use, for A/B benchmarks in one process
 * (scripts/bench-train-detector.ts; like src/models/tuning.ts for the model builders). The
 * defaults are the measured faster choices; the alternatives compute the same values.
 */
export const trainerTuning = {
  /** The split forward models write into reused output buffers (train/output-scratch.ts) instead of fresh ones. */
  outputScratch: true,
  /**
   * onnxruntime's memory arena for the backward and training models. Off, it lowers peak RSS by
   * about a third and costs 5–20% more time per step (page faults of fresh buffers each run;
   * docs/benchmarks.md, "Reused output buffers").
   */
  backwardArena: true,
};
