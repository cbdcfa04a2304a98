/**
 * Execution provider choice for ONNX Runtime sessions: `cpu`, `cuda` (an error with the install
 * hint when onnxruntime-node's CUDA provider libraries are absent) or `auto` (CUDA when it
 * loads, else CPU). The session factory reports which provider actually runs.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

/** What the user asks for. */
export type ProviderChoice = 'cpu' | 'cuda' | 'auto';
/** What runs. */
export type ProviderName = 'cpu' | 'cuda';

/** The README's install command for the CUDA 12 provider libraries. */
export const CUDA_INSTALL_HINT = 'ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js';

/** CUDA was asked for explicitly and cannot run here. */
export class ProviderUnavailableError extends Error {
  constructor(provider: string, cause: string) {
    super(
      `execution provider '${provider}' is not available: ${cause}\n` +
        `On a machine with an NVIDIA GPU, install onnxruntime-node's CUDA 12 provider libraries once with:\n  ${CUDA_INSTALL_HINT}\n` +
        `or run with --provider cpu (or auto).`,
    );
    this.name = 'ProviderUnavailableError';
  }
}

/** Options shared by every session of a model. */
export interface SessionOptions {
  provider?: ProviderChoice;
  /** Intra-op threads (default: ORT's choice, one per core). */
  threads?: number;
  /**
   * Write ONNX Runtime's per-node profile (Chrome trace JSON) of every session to files named
   * `<profilePrefix>_<date>.json` (ORT appends the date; written when the session is released).
   */
  profilePrefix?: string;
}

/**
 * Whether onnxruntime-node's CUDA provider library is installed beside its binding (the install
 * script puts it there). Checked first so `auto` does not make ORT print a load failure.
 */
export function cudaLibraryPresent(): boolean {
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    const dir = path.join(path.dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
    const name = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    return existsSync(path.join(dir, name));
  } catch {
    return false;
  }
}

/**
 * Throw at once when `cuda` was asked for and its provider library is absent (callers check this
 * before minutes of loading weights; the message is the same wherever it is raised).
 */
export function assertProviderInstalled(choice: ProviderChoice | undefined): void {
  if (choice === 'cuda' && !cudaLibraryPresent()) throw new ProviderUnavailableError('cuda', "onnxruntime-node's CUDA provider library (libonnxruntime_providers_cuda) is not installed");
}

function check(choice: unknown): ProviderChoice {
  if (choice !== 'cpu' && choice !== 'cuda' && choice !== 'auto') throw new RangeError(`provider must be 'cpu', 'cuda' or 'auto', got '${String(choice)}'`);
  return choice;
}

/** The ORT session options every session of ours gets (exported so benchmarks give a reference model the same). */
export function ortOptions(provider: ProviderName, threads: number | undefined, profilePrefix?: string): ort.InferenceSession.SessionOptions {
  const o: ort.InferenceSession.SessionOptions = { executionProviders: [provider], graphOptimizationLevel: 'all' };
  if (profilePrefix !== undefined) Object.assign(o, { enableProfiling: true, profileFilePrefix: profilePrefix });
  if (threads !== undefined) {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be an integer >= 1, got ${threads}`);
    o.intraOpNumThreads = threads;
    o.interOpNumThreads = 1;
  }
  return o;
}

/**
 * Create one session per model on the chosen provider; all sessions of a call share it. With
 * `auto`, a CUDA failure (no libraries, no GPU) falls back to CPU.
 */
export async function createSessions(models: readonly Uint8Array[], options: SessionOptions = {}): Promise<{ sessions: ort.InferenceSession[]; provider: ProviderName }> {
  const choice = check(options.provider ?? 'cpu');
  assertProviderInstalled(choice);
  if (choice === 'cuda' || (choice === 'auto' && cudaLibraryPresent())) {
    try {
      const sessions: ort.InferenceSession[] = [];
      for (const m of models) sessions.push(await ort.InferenceSession.create(m, ortOptions('cuda', options.threads, options.profilePrefix)));
      return { sessions, provider: 'cuda' };
    } catch (err) {
      if (choice === 'cuda') throw new ProviderUnavailableError('cuda', (err as Error).message.split('\n')[0] ?? String(err));
    }
  }
  const sessions: ort.InferenceSession[] = [];
  for (const m of models) sessions.push(await ort.InferenceSession.create(m, ortOptions('cpu', options.threads, options.profilePrefix)));
  return { sessions, provider: 'cpu' };
}
