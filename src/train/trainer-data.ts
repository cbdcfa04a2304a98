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
 * first step (or 0..size-1 without shuffling), its full batches regrouped when `groups` is given
 * ({@link groupedOrder}). `checkpointState` is what a checkpoint stores as rng.shuffle, so a resume
 * redraws the same order and skips the batches already done.
 */
export class EpochOrder {
  private order: number[] = [];
  private epochStart: Uint32Array;

  /**
   * `groups` (optional, a group key per example): batches drawn from one group where the order
   * allows, see {@link groupedOrder}.
   */
  constructor(
    readonly size: number,
    readonly batchSize: number,
    private readonly shuffle: boolean,
    readonly groups?: readonly (number | string)[],
  ) {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`dataset.size must be a positive integer, got ${size}`);
    if (!Number.isSafeInteger(batchSize) || batchSize <= 0 || batchSize > size) {
      throw new RangeError(`batchSize must be an integer in [1, dataset.size = ${size}], got ${batchSize}`);
    }
    if (groups !== undefined && groups.length !== size) throw new RangeError(`groups has ${groups.length} entries for ${size} examples`);
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
    const drawn = this.shuffle ? rng.shuffle(all) : all;
    // The examples past the last full batch are set aside first, so each example is left out of an
    // epoch with the same chance as without groups (grouping them last would always drop the
    // leftovers of a small group).
    const used = this.stepsPerEpoch * this.batchSize;
    this.order = this.groups ? [...groupedOrder(drawn.slice(0, used), this.groups, this.batchSize), ...drawn.slice(used)] : drawn;
  }
}

/**
 * An order whose batches (consecutive runs of `batchSize`) each hold one group where possible:
 * walking `order`, a group's batch is emitted when it has `batchSize` examples, as torchvision's
 * GroupedBatchSampler does; the examples left over (fewer than `batchSize` of each group) follow in
 * their order, as the epoch's last batches, which may mix groups (torchvision instead fills them
 * with repeats from the same group). Every example stays once in the order, so the number of full
 * batches is unchanged; with one group the order is `order` itself.
 */
export function groupedOrder(order: readonly number[], groups: readonly (number | string)[], batchSize: number): number[] {
  const filling = new Map<number | string, number[]>();
  const out: number[] = [];
  for (const i of order) {
    const g = groups[i]!;
    const batch = filling.get(g) ?? [];
    batch.push(i);
    if (batch.length === batchSize) {
      out.push(...batch);
      filling.delete(g);
    } else {
      filling.set(g, batch);
    }
  }
  const placed = new Set(out);
  for (const i of order) if (!placed.has(i)) out.push(i);
  return out;
}
