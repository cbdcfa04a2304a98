/**
 * The thread behind {@link DetectorWorker}: loads one Detector, then answers detect requests in
 * the order they arrive (one model run at a time).
 */
import { parentPort } from 'node:worker_threads';
import { Detector } from './detector.js';
import type { WorkerError, WorkerReply, WorkerRequest } from './detector-worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('detector-worker-main.js runs as a worker thread (DetectorWorker.load)');

const asError = (err: unknown): WorkerError =>
  err instanceof Error ? { name: err.name, message: err.message } : { name: 'Error', message: String(err) };

let detector: Detector | undefined;
// Requests run one after another: a chain, so a slow batch never overlaps the next one.
let queue: Promise<void> = Promise.resolve();

port.on('message', (request: WorkerRequest) => {
  queue = queue.then(async () => {
    if (request.kind === 'load') {
      try {
        detector = await Detector.load(request.weightsFile, request.preset, request.options);
        port.postMessage({ kind: 'ready', config: detector.config, provider: detector.provider } satisfies WorkerReply);
      } catch (err) {
        port.postMessage({ kind: 'error', id: 0, error: asError(err) } satisfies WorkerReply);
      }
      return;
    }
    try {
      if (!detector) throw new Error('detector worker: detect before load');
      // Copied back, not transferred: a few hundred values per image, and the arrays may be views.
      const results = await detector.detectBatch(request.images);
      port.postMessage({ kind: 'results', id: request.id, results } satisfies WorkerReply);
    } catch (err) {
      port.postMessage({ kind: 'error', id: request.id, error: asError(err) } satisfies WorkerReply);
    }
  });
});
