/**
 * Data for the Trainer: a dataset that turns example indices into named feeds, and the epoch order
 * drawn from the `shuffle` stream in a way that a checkpoint taken in the middle of an epoch can
 * redraw (docs/checkpoint-format.md, "Resuming").
 */
import type { Tensor } from '../graph/values.js';
import type { Rng } from '../util/rng.js';

/** The trainer's random streams, saved in every checkpoint. */
export interface TrainerRngs {
  /** Data order (drawn by the trainer once per epoch). */
  shuffle: Rng;
  /** Augmentation, for the dataset's own use. */
  augment: Rng;
  /** Sampling (anchors, RoIs, hard examples), for the dataset's or the loss's own use. */
  sample: Rng;
}

/**
 * A training set: `size` examples, and the feeds (data inputs of the training model, e.g. images
 * and labels) of a batch of them. `batch` must draw randomness only from `rngs` (augment, sample),
 * in an order that depends only on its arguments, so that resume is bit-for-bit.
 */
export interface TrainerDataset {
  readonly size: number;
  batch(indices: readonly number[], rngs: TrainerRngs): Record<string, Tensor> | Promise<Record<string, Tensor>>;
}

/**
 * The example order of each epoch: a Fisher–Yates shuffle from the `shuffle` stream at the epoch's
 * first step (or 0..size-1 without shuffling). `stateAtEpochStart` is what a checkpoint stores
 * as rng.shuffle, so a resume redraws the same order and skips the batches already done.
 */
export class EpochOrder {
  private order: number[] = [];
  private epochStart: Uint32Array;

  constructor(
    readonly size: number,
    readonly batchSize: number,
    private readonly shuffle: boolean,
  ) {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`dataset.size must be a positive integer, got ${size}`);
    if (!Number.isSafeInteger(batchSize) || batchSize <= 0 || batchSize > size) {
      throw new RangeError(`batchSize must be an integer in [1, dataset.size = ${size}], got ${batchSize}`);
    }
    this.epochStart = new Uint32Array(4);
  }

  /** Full batches per epoch (a last partial batch is dropped, as DataLoader(drop_last=True)). */
  get stepsPerEpoch(): number {
    return Math.floor(this.size / this.batchSize);
  }

  /** Example indices of the step that follows `completedSteps` steps; draws the order at an epoch's first step. */
  indices(completedSteps: number, rng: Rng): number[] {
    const inEpoch = completedSteps % this.stepsPerEpoch;
    if (inEpoch === 0 || this.order.length === 0) this.draw(rng);
    return this.order.slice(inEpoch * this.batchSize, (inEpoch + 1) * this.batchSize);
  }

  /** rng.shuffle for a checkpoint after `completedSteps`: the epoch-start state mid-epoch, else the current one. */
  checkpointState(completedSteps: number, rng: Rng): Uint32Array {
    return completedSteps % this.stepsPerEpoch === 0 || this.order.length === 0 ? rng.state : Uint32Array.from(this.epochStart);
  }

  /** Forget the drawn order (after loading a checkpoint: the next step redraws it from the restored stream). */
  reset(): void {
    this.order = [];
  }

  private draw(rng: Rng): void {
    this.epochStart = rng.state;
    const all = Array.from({ length: this.size }, (_, i) => i);
    this.order = this.shuffle ? rng.shuffle(all) : all;
  }
}
