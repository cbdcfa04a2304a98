/**
 * Training checkpoints as safetensors (docs/training-artifacts.md):
 * - `param/<name>`: every parameter;
 * - `optim/<name>/<slot>`: optimizer state with torch.optim's slot names (momentum_buffer,
 *   exp_avg, exp_avg_sq);
 * - `__metadata__`: { "checkpoint": JSON string of CheckpointState (format_version, step, epoch,
 *   rng states, config) }.
 * Saved atomically (temp file + rename), so a kill leaves the old or the new checkpoint.
 */
import { readFile } from 'node:fs/promises';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';
import type { Tensor } from './values.js';
import { writeFileAtomic } from '../util/atomic.js';

/** Version of the checkpoint layout written by this code. */
export const CHECKPOINT_FORMAT_VERSION = 1;

/** The JSON part of a checkpoint. */
export interface CheckpointState {
  step: number;
  epoch: number;
  /** Named random-number generator states (e.g. Rng.state as numbers) for shuffle, augment, sample. */
  rng: Record<string, number[]>;
  /** Model/training configuration, stored verbatim. */
  config: unknown;
}

/** A whole checkpoint in memory. */
export interface Checkpoint extends CheckpointState {
  params: Map<string, Tensor>;
  /** Optimizer state: parameter name → slot name → tensor. */
  optim: Map<string, Map<string, Tensor>>;
}

/** Encode a checkpoint as safetensors bytes. */
export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const all = new Map<string, Tensor>();
  for (const [name, t] of c.params) all.set(`param/${name}`, t);
  for (const [name, slots] of c.optim) for (const [slot, t] of slots) all.set(`optim/${name}/${slot}`, t);
  const state = { format_version: CHECKPOINT_FORMAT_VERSION, step: c.step, epoch: c.epoch, rng: c.rng, config: c.config };
  return encodeSafetensors(all, { checkpoint: JSON.stringify(state) });
}

/** Decode checkpoint bytes; throws for a missing or newer format version. */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  const { tensors, metadata } = decodeSafetensors(bytes);
  const raw = metadata['checkpoint'];
  if (raw === undefined) throw new Error('checkpoint: __metadata__.checkpoint is missing (not an hpa-detect checkpoint)');
  const state = JSON.parse(raw) as CheckpointState & { format_version: number };
  if (state.format_version > CHECKPOINT_FORMAT_VERSION) throw new Error(`checkpoint: format_version ${state.format_version} is newer than ${CHECKPOINT_FORMAT_VERSION}`);
  const params = new Map<string, Tensor>();
  const optim = new Map<string, Map<string, Tensor>>();
  for (const [key, t] of tensors) {
    if (key.startsWith('param/')) params.set(key.slice(6), t);
    else if (key.startsWith('optim/')) {
      const rest = key.slice(6);
      const cut = rest.lastIndexOf('/');
      if (cut <= 0) throw new Error(`checkpoint: tensor '${key}' is not optim/<name>/<slot>`);
      const name = rest.slice(0, cut);
      if (!optim.has(name)) optim.set(name, new Map());
      optim.get(name)!.set(rest.slice(cut + 1), t);
    } else throw new Error(`checkpoint: unexpected tensor '${key}'`);
  }
  return { params, optim, step: state.step, epoch: state.epoch, rng: state.rng, config: state.config };
}

/** Save a checkpoint atomically. */
export async function saveCheckpoint(file: string, c: Checkpoint): Promise<void> {
  await writeFileAtomic(file, encodeCheckpoint(c));
}

/** Load a checkpoint file. */
export async function loadCheckpoint(file: string): Promise<Checkpoint> {
  return decodeCheckpoint(new Uint8Array(await readFile(file)));
}
