/** Messages between {@link DetectorWorker} and its thread (detector-worker-main.ts). */
import type { FasterRcnnConfig } from '../models/presets.js';
import type { DetectionResult, DetectorInput, DetectorOptions } from './detector.js';
import type { ProviderName } from './providers.js';

export type WorkerRequest =
  | { kind: 'load'; weightsFile: string; preset: string; options: DetectorOptions }
  | { kind: 'detect'; id: number; images: DetectorInput[] };

/** An error as it crosses the thread boundary. */
export interface WorkerError {
  name: string;
  message: string;
}

export type WorkerReply =
  | { kind: 'ready'; config: FasterRcnnConfig; provider: ProviderName }
  | { kind: 'results'; id: number; results: DetectionResult[] }
  /** `id` 0 for a failed load. */
  | { kind: 'error'; id: number; error: WorkerError };
