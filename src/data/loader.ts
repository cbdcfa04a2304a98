/**
 * Batches of detection samples for training: the example order of each epoch from the `shuffle`
 * stream (EpochOrder, src/train/trainer-data.ts: full batches, resumable mid-epoch), images decoded
 * a few at a time, augmentation from the `augment` stream, and optionally the next batch decoded in
 * the background while the current one trains.
 *
 * Determinism: decoding draws no random numbers, and augmentation runs when a batch is handed out,
 * in batch order, so batches are the same with or without prefetch and whatever the decode timing;
 * the streams after step s are what a checkpoint after step s stores.
 */
import type { ImageTensor } from '../infer/transform.js';
import { EpochOrder, type TrainerRngs } from '../train/trainer-data.js';
import { Rng } from '../util/rng.js';
import { augmentSample, validateAugmentOptions, type AugmentOptions } from './augment.js';
import type { DetectionDataset, DetectionSample, DetectionTarget } from './dataset.js';

/** One batch: images (float CHW in [0, 1], sizes may differ) and their targets, in the same order. */
export interface DetectionBatch {
  /** Dataset indices of the examples. */
  indices: number[];
  ids: string[];
  images: ImageTensor[];
  targets: DetectionTarget[];
}

/** Loader settings. */
export interface DetectionLoaderOptions {
  batchSize: number;
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** Augmentation (default none). */
  augment?: AugmentOptions;
  /** Decode the next batch while the current one is used (default true). */
  prefetch?: boolean;
  /** Images decoded at the same time (default 4). */
  concurrency?: number;
}

/** The streams the loader draws from. */
export type LoaderRngs = Pick<TrainerRngs, 'shuffle' | 'augment'>;

/** Batches over a {@link DetectionDataset}; see the file comment. */
export class DetectionLoader {
  readonly order: EpochOrder;
  private readonly augment: AugmentOptions | undefined;
  private readonly prefetchOn: boolean;
  private readonly shuffle: boolean;
  private readonly concurrency: number;
  private pending: { key: string; samples: Promise<DetectionSample[]> } | undefined;

  constructor(
    readonly dataset: DetectionDataset,
    options: DetectionLoaderOptions,
  ) {
    this.shuffle = options.shuffle ?? true;
    this.order = new EpochOrder(dataset.size, options.batchSize, this.shuffle);
    this.augment = options.augment ? validateAugmentOptions(options.augment) : undefined;
    this.prefetchOn = options.prefetch ?? true;
    this.concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
  }

  /** Full batches per epoch (a last partial batch is dropped). */
  get stepsPerEpoch(): number {
    return this.order.stepsPerEpoch;
  }

  /**
   * The batch of the step that follows `completedSteps` steps: draws the epoch order from
   * rngs.shuffle at an epoch's first step, augments from rngs.augment, then (with prefetch) starts
   * decoding the following step's images.
   */
  async next(completedSteps: number, rngs: LoaderRngs): Promise<DetectionBatch> {
    const indices = this.order.indices(completedSteps, rngs.shuffle);
    const batch = await this.batch(indices, rngs.augment);
    if (this.prefetchOn) this.startPrefetch(this.peekIndices(completedSteps + 1, rngs.shuffle));
    return batch;
  }

  /** Decode and augment the examples `indices` (augmentation from `augment`, in index order). */
  async batch(indices: readonly number[], augment: Rng): Promise<DetectionBatch> {
    const key = indices.join(',');
    const pending = this.pending?.key === key ? this.pending.samples : undefined;
    this.pending = undefined;
    const samples = await (pending ?? this.decode(indices));
    const out = this.augment ? samples.map((s) => augmentSample(s, this.augment!, augment)) : samples;
    return { indices: [...indices], ids: out.map((s) => s.id), images: out.map((s) => s.image), targets: out.map((s) => s.target) };
  }

  /** Async iteration over `steps` batches from step `fromStep` (the trainer's completed steps). */
  async *batches(fromStep: number, steps: number, rngs: LoaderRngs): AsyncGenerator<DetectionBatch> {
    for (let s = fromStep; s < fromStep + steps; s++) yield await this.next(s, rngs);
  }

  /** rng.shuffle to store in a checkpoint after `completedSteps` (EpochOrder.checkpointState). */
  checkpointState(completedSteps: number, shuffle: Rng): Uint32Array {
    return this.order.checkpointState(completedSteps, shuffle);
  }

  /** After restoring the streams from a checkpoint: forget the drawn order and any prefetched batch. */
  reset(): void {
    this.order.reset();
    this.pending = undefined;
  }

  /** The indices `next(step)` will use, without drawing from `shuffle` (a copy redraws a new epoch's order). */
  private peekIndices(step: number, shuffle: Rng): number[] {
    if (step % this.order.stepsPerEpoch !== 0) return this.order.indices(step, shuffle);
    const copy = new EpochOrder(this.order.size, this.order.batchSize, this.shuffle);
    return copy.indices(0, new Rng(shuffle.state));
  }

  private startPrefetch(indices: number[]): void {
    const samples = this.decode(indices);
    // A failed prefetch surfaces when (if) that batch is asked for, not as an unhandled rejection.
    samples.catch(() => undefined);
    this.pending = { key: indices.join(','), samples };
  }

  /** Decode `indices` with at most `concurrency` images in flight; results in index order. */
  private async decode(indices: readonly number[]): Promise<DetectionSample[]> {
    const out = new Array<DetectionSample>(indices.length);
    let next = 0;
    const worker = async () => {
      while (next < indices.length) {
        const i = next++;
        out[i] = await this.dataset.get(indices[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, indices.length) }, worker));
    return out;
  }
}
