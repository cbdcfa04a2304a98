/**
 * A {@link Detector} that runs in a worker thread, for servers. onnxruntime-node 1.30 runs a
 * session on the calling thread (its `run()` returns a Promise, but the work happens
 * synchronously inside a `setImmediate`), so `Detector.detect` holds the event loop for the whole
 * model run (194–366 ms for `light` at 512 px in test/detector-worker.test.ts, seconds for
 * ResNet-50-FPN at 800 px). `DetectorWorker` owns the sessions in a `worker_threads` Worker; the
 * caller's event loop keeps serving requests while it detects (docs/models.md has an example).
 * `detect` and `detectBatch` take no `debug` option.
 *
 * Requests are answered in order, one model run at a time per worker (run several workers for
 * more, each with its own `threads`). Images and results are copied between the threads (the
 * caller's buffers stay usable).
 */
import { Worker } from 'node:worker_threads';
import type { FasterRcnnConfig } from '../models/presets.js';
import type { DetectionResult, DetectorInput, DetectorOptions } from './detector.js';
import type { ProviderName } from './providers.js';
import type { WorkerError, WorkerReply, WorkerRequest } from './detector-worker-protocol.js';

interface Pending {
  resolve: (results: DetectionResult[]) => void;
  reject: (err: Error) => void;
}

/** An error sent across the thread boundary, rebuilt with its class (TypeError, RangeError, Error). */
function rebuild(e: WorkerError): Error {
  const Kind = e.name === 'TypeError' ? TypeError : e.name === 'RangeError' ? RangeError : Error;
  return new Kind(e.message);
}

export class DetectorWorker {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly config: FasterRcnnConfig,
    /** The execution provider that runs the graphs. */
    readonly provider: ProviderName,
  ) {
    worker.on('message', (reply: WorkerReply) => {
      if (reply.kind !== 'results' && reply.kind !== 'error') return;
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.kind === 'results') p.resolve(reply.results);
      else p.reject(rebuild(reply.error));
    });
    const fail = (err: Error) => {
      this.failure = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`detector worker exited (code ${code})`)));
  }

  /** Detector.load in a new worker thread: same arguments, same errors. */
  static async load(weightsFile: string, preset: string, options: DetectorOptions = {}): Promise<DetectorWorker> {
    const worker = new Worker(new URL('./detector-worker-main.js', import.meta.url));
    // Only our own listeners come off afterwards: Worker keeps internal ones on itself.
    let listeners: [string, Parameters<Worker['on']>[1]][] = [];
    try {
      const ready = await new Promise<Extract<WorkerReply, { kind: 'ready' }>>((resolve, reject) => {
        listeners = [
          ['message', (reply: WorkerReply) => (reply.kind === 'ready' ? resolve(reply) : reply.kind === 'error' ? reject(rebuild(reply.error)) : undefined)],
          ['error', reject],
          ['exit', (code: number) => reject(new Error(`detector worker exited (code ${code}) while loading ${weightsFile}`))],
        ];
        for (const [event, fn] of listeners) worker.on(event, fn);
        const request: WorkerRequest = { kind: 'load', weightsFile, preset, options };
        worker.postMessage(request);
      });
      for (const [event, fn] of listeners) worker.off(event, fn);
      return new DetectorWorker(worker, ready.config, ready.provider);
    } catch (err) {
      await worker.terminate();
      throw err;
    }
  }

  /** Detect objects in one image (as Detector.detect). */
  async detect(image: DetectorInput): Promise<DetectionResult> {
    return (await this.detectBatch([image]))[0]!;
  }

  /** Detect objects in several images run as one padded batch (as Detector.detectBatch). */
  detectBatch(images: readonly DetectorInput[]): Promise<DetectionResult[]> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const request: WorkerRequest = { kind: 'detect', id, images: [...images] };
      this.worker.postMessage(request);
    });
  }

  /** Release the sessions and end the worker; pending requests are rejected. */
  async release(): Promise<void> {
    if (this.failure) return;
    await this.worker.terminate();
  }
}
