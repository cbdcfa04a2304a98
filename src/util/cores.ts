/** The CPU count a process may use, for default thread counts of onnxruntime and native pools. */
import os from 'node:os';

/** os.availableParallelism() (cgroup-aware), else the number of CPUs; at least 1. */
export function availableCores(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}
