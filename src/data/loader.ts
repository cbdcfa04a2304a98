/**
 * Batches of detection samples for training: the example order of each epoch from the `shuffle`
 * stream (EpochOrder, src/train/trainer-data.ts: full batches of one orientation where the order
 * allows, resumable mid-epoch), images decoded
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
import { augmentBatch, orientation, validateAugmentOptions, type AugmentOptions, type Orientation } from './augment.js';
import { copyTarget, type DetectionDataset, type DetectionSample, type DetectionTarget } from './dataset.js';

/**
 * One batch: images (float CHW in [0, 1], sizes may differ) and their targets, in the same order.
 * Images may be shared with the loader's cache: read them, do not write into them.
 */
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
  /**
   * Batches of one orientation where the epoch's order allows (default true): landscape, portrait
   * and square images in separate batches (EpochOrder's `groups`, from the image sizes the dataset
   * read), so a batch is not padded to the larger of both sides. No effect when all images share one
   * orientation.
   */
  groupByOrientation?: boolean;
  /**
   * Decoded images kept in memory, in bytes (default {@link DEFAULT_CACHE_BYTES}; 0 turns it
   * off): a small data set is decoded once instead of every epoch. Images are cached in the order
   * they are first decoded until the budget is full.
   */
  cacheBytes?: number;
}

/** 256 MiB: the demo's 36 training images (113 MB as float CHW) fit; BCCD's 205 fit partly. */
export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

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
  /** Decoded samples by dataset index; augmentation and the model transform never change an image in place. */
  private readonly cache = new Map<number, DetectionSample>();
  private cacheFree: number;

  constructor(
    readonly dataset: DetectionDataset,
    options: DetectionLoaderOptions,
  ) {
    this.shuffle = options.shuffle ?? true;
    this.order = new EpochOrder(dataset.size, options.batchSize, this.shuffle, options.groupByOrientation === false ? undefined : orientationGroups(dataset));
    this.augment = options.augment ? validateAugmentOptions(options.augment) : undefined;
    this.prefetchOn = options.prefetch ?? true;
    this.concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
    this.cacheFree = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (!(this.cacheFree >= 0)) throw new RangeError(`cacheBytes must be a number >= 0, got ${options.cacheBytes}`);
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

  /** Decode and augment the examples `indices` (augmentation from `augment`, in index order, quarter turns grouped: augmentBatch). */
  async batch(indices: readonly number[], augment: Rng): Promise<DetectionBatch> {
    const key = indices.join(',');
    const pending = this.pending?.key === key ? this.pending.samples : undefined;
    this.pending = undefined;
    const samples = await (pending ?? this.decode(indices));
    const out = this.augment ? augmentBatch(samples, this.augment, augment) : samples;
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
    const copy = new EpochOrder(this.order.size, this.order.batchSize, this.shuffle, this.order.groups);
    return copy.indices(0, new Rng(shuffle.state));
  }

  private startPrefetch(indices: number[]): void {
    const samples = this.decode(indices);
    // A failed prefetch surfaces when (if) that batch is asked for, not as an unhandled rejection.
    samples.catch(() => undefined);
    this.pending = { key: indices.join(','), samples };
  }

  /** Example `index`: the cached image with a fresh copy of its target, or decoded (and cached while the budget allows). */
  private async sample(index: number): Promise<DetectionSample> {
    const hit = this.cache.get(index);
    if (hit) return { ...hit, target: copyTarget(hit.target) };
    const s = await this.dataset.get(index);
    const bytes = s.image.data.byteLength;
    if (bytes <= this.cacheFree && !this.cache.has(index)) {
      this.cacheFree -= bytes;
      this.cache.set(index, { ...s, target: copyTarget(s.target) });
    }
    return s;
  }

  /** Decode `indices` with at most `concurrency` images in flight; results in index order. */
  private async decode(indices: readonly number[]): Promise<DetectionSample[]> {
    const out = new Array<DetectionSample>(indices.length);
    let next = 0;
    const worker = async () => {
      while (next < indices.length) {
        const i = next++;
        out[i] = await this.sample(indices[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, indices.length) }, worker));
    return out;
  }
}

/**
 * Orientation of each image from the sizes the dataset read from the image headers; undefined when
 * they are unknown (a dataset without records) or all alike.
 */
function orientationGroups(dataset: DetectionDataset): Orientation[] | undefined {
  const records = (dataset as Partial<Pick<DetectionDataset, 'records'>>).records;
  if (!records || records.length !== dataset.size) return undefined;
  const groups = records.map(orientation);
  return groups.every((g) => g === groups[0]) ? undefined : groups;
}
