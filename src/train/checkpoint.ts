/**
 * Training checkpoints: one safetensors file (`checkpoint.safetensors`) with every parameter, the
 * optimizer state and, in `__metadata__`, a JSON document with the format version, step, epoch,
 * the random-number generator states, the model config and the optimizer config. The layout is
 * documented in docs/checkpoint-format.md; torch users can read it with `safetensors.torch.load_file`.
 *
 *   param/<name>            every parameter (torchvision names, e.g. backbone.body.conv1.weight)
 *   optim/<name>/<slot>     optimizer state in torch.optim's slot names (momentum_buffer, exp_avg,
 *                           exp_avg_sq, max_exp_avg_sq, step)
 *   __metadata__            {"format": "hpa-detect/checkpoint", "checkpoint": "<JSON document>"}
 *
 * Saving is atomic (temp file + fsync + rename): a crash leaves the previous checkpoint or the new
 * one. The JSON holds the SHA-256 of the data section, so loading detects corrupted tensor bytes.
 */
import { createHash } from 'node:crypto';
import type { AdamWOptions, AdamWState, SgdOptions, SgdState } from './optim.js';
import type { ScheduleConfig } from './schedule.js';
import { validateSchedule } from './schedule.js';
import { readSafetensors, safetensorsWriteOrder, writeSafetensors, type WriteSafetensorsOptions } from '../io/safetensors.js';
import { bytesOf, elementCount, type HostTensor } from '../io/tensor.js';
import { Rng } from '../util/rng.js';

/** Value of `__metadata__.format` that marks a checkpoint. */
export const CHECKPOINT_FORMAT = 'hpa-detect/checkpoint';
/** Version of the JSON document and tensor layout this build writes and reads. */
export const CHECKPOINT_FORMAT_VERSION = 1;
/** Conventional file name inside a training-artifacts folder. */
export const CHECKPOINT_FILE = 'checkpoint.safetensors';
/** The RNG streams every checkpoint carries (data order, augmentation, proposal/RoI sampling). */
export const RNG_STREAMS = ['shuffle', 'augment', 'sample'] as const;
/** Name of a required RNG stream. */
export type RngStream = (typeof RNG_STREAMS)[number];

/** Any JSON value (model configs and free-form trainer data). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_ takes it. */
export interface ClipConfig {
  maxNorm: number;
  normType?: number;
}

/** Optimizer hyper-parameters (torch.optim's, camel-cased), LR schedule and clipping. */
export type OptimizerConfig = (({ kind: 'sgd' } & Omit<SgdOptions, 'threads'>) | ({ kind: 'adamw' } & Omit<AdamWOptions, 'threads'>)) & {
  schedule?: ScheduleConfig;
  clipGradNorm?: ClipConfig;
};

/** Everything a trainer needs to continue bit for bit. */
export interface Checkpoint {
  /** Optimizer steps completed; the next step's learning rate is learningRate(schedule, lr, step). */
  step: number;
  /** 0-based epoch that the next step belongs to. */
  epoch: number;
  /** Rng.state of each stream: the three of RNG_STREAMS, and any others the trainer keeps. */
  rng: Record<RngStream, Uint32Array> & { [stream: string]: Uint32Array };
  /** The model config (architecture, classes, normalisation …), as JSON. */
  model: JsonValue;
  optimizer: OptimizerConfig;
  /** Every parameter by name. */
  params: ReadonlyMap<string, HostTensor>;
  /** Optimizer state per parameter name: slot name → tensor (parameters without state may be absent). */
  optimState: ReadonlyMap<string, Readonly<Record<string, HostTensor>>>;
  /** Free-form trainer data (e.g. best validation score). */
  extra?: { [key: string]: JsonValue };
}

/** A checkpoint as loaded: maps are concrete and the version is reported. */
export interface LoadedCheckpoint extends Checkpoint {
  formatVersion: number;
  params: Map<string, HostTensor>;
  optimState: Map<string, Record<string, HostTensor>>;
}

/** What the caller's model expects; loadCheckpoint reports every difference by name. */
export interface CheckpointExpectation {
  /** Parameter names, or names with shapes to compare. */
  params?: readonly string[] | ReadonlyMap<string, readonly number[]>;
  /** Slots every parameter must have, e.g. ['exp_avg', 'exp_avg_sq', 'step'] for AdamW. */
  slots?: readonly string[];
}

/** A checkpoint that cannot be saved or loaded; the message names the file and the tensor or field. */
export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'CheckpointError';
  }
}

const PARAM_PREFIX = 'param/';
const OPTIM_PREFIX = 'optim/';

interface MetadataDocument {
  format_version: number;
  step: number;
  epoch: number;
  rng: Record<string, number[]>;
  model: JsonValue;
  optimizer: OptimizerConfig;
  extra?: { [key: string]: JsonValue };
  data_sha256: string;
}

function checkRngState(file: string, stream: string, s: unknown): Uint32Array {
  const words = s instanceof Uint32Array ? [...s] : s;
  if (!Array.isArray(words) || words.length !== 4 || !words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
    throw new CheckpointError(file, `rng.${stream} must be 4 unsigned 32-bit words (Rng.state), got ${JSON.stringify(words)}`);
  }
  if (words.every((w) => w === 0)) throw new CheckpointError(file, `rng.${stream} is all zero, which is not a valid xoshiro128** state`);
  return Uint32Array.from(words as number[]);
}

function checkCounters(file: string, step: unknown, epoch: unknown): void {
  if (!Number.isSafeInteger(step) || (step as number) < 0) throw new CheckpointError(file, `step must be a non-negative integer, got ${JSON.stringify(step)}`);
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 0) throw new CheckpointError(file, `epoch must be a non-negative integer, got ${JSON.stringify(epoch)}`);
}

function checkOptimizer(file: string, o: unknown): OptimizerConfig {
  if (typeof o !== 'object' || o === null) throw new CheckpointError(file, 'optimizer must be an object with kind and lr');
  const c = o as Record<string, unknown>;
  if (c.kind !== 'sgd' && c.kind !== 'adamw') throw new CheckpointError(file, `optimizer.kind must be "sgd" or "adamw", got ${JSON.stringify(c.kind)}`);
  for (const [k, v] of Object.entries(c)) {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new CheckpointError(file, `optimizer.${k} must be finite, got ${v}`);
  }
  if (c.kind === 'sgd' && typeof c.lr !== 'number') throw new CheckpointError(file, 'optimizer.lr is required for sgd');
  if (c.schedule !== undefined) {
    try {
      validateSchedule(c.schedule as ScheduleConfig, 'optimizer.schedule');
    } catch (err) {
      throw new CheckpointError(file, (err as Error).message);
    }
  }
  return c as unknown as OptimizerConfig;
}

/** Hash the data section: every tensor's bytes in the order the safetensors writer lays them out. */
function hashTensors(ordered: Iterable<[string, HostTensor]>): string {
  const h = createHash('sha256');
  for (const [, t] of ordered) h.update(bytesOf(t.data));
  return h.digest('hex');
}

/** The safetensors tensor map of a checkpoint (views, no copies). */
function tensorMapOf(file: string, c: Checkpoint): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of c.params) {
    if (name.length === 0) throw new CheckpointError(file, 'a parameter has an empty name');
    out.set(PARAM_PREFIX + name, t);
  }
  for (const [name, slots] of c.optimState) {
    if (!c.params.has(name)) throw new CheckpointError(file, `optimizer state for "${name}", which is not a parameter`);
    for (const [slot, t] of Object.entries(slots)) {
      if (slot.length === 0 || slot.includes('/')) throw new CheckpointError(file, `optimizer slot name ${JSON.stringify(slot)} of "${name}" must be non-empty without "/"`);
      out.set(`${OPTIM_PREFIX}${name}/${slot}`, t);
    }
  }
  return out;
}

/**
 * Save `checkpoint` to `file` atomically (temp file beside it, fsync, rename). Tensors are streamed
 * from their arrays without copies. Throws CheckpointError/SafetensorsError naming the bad field or
 * tensor before anything is written; an existing `file` survives any failure.
 */
export async function saveCheckpoint(file: string, checkpoint: Checkpoint, options: WriteSafetensorsOptions = {}): Promise<void> {
  const c = checkpoint;
  checkCounters(file, c.step, c.epoch);
  const rng: Record<string, number[]> = {};
  for (const stream of RNG_STREAMS) if (!(c.rng && stream in c.rng)) throw new CheckpointError(file, `rng.${stream} is missing (required streams: ${RNG_STREAMS.join(', ')})`);
  for (const [stream, s] of Object.entries(c.rng)) rng[stream] = [...checkRngState(file, stream, s)];
  checkOptimizer(file, c.optimizer);
  const tensors = tensorMapOf(file, c);
  const ordered = safetensorsWriteOrder(tensors, file);
  const doc: MetadataDocument = {
    format_version: CHECKPOINT_FORMAT_VERSION,
    step: c.step,
    epoch: c.epoch,
    rng,
    model: c.model ?? null,
    optimizer: c.optimizer,
    ...(c.extra === undefined ? {} : { extra: c.extra }),
    data_sha256: hashTensors(ordered),
  };
  await writeSafetensors(file, tensors, { format: CHECKPOINT_FORMAT, checkpoint: JSON.stringify(doc) }, options);
}

function parseDocument(file: string, metadata: Record<string, string> | undefined): MetadataDocument {
  if (metadata?.format !== CHECKPOINT_FORMAT || typeof metadata.checkpoint !== 'string') {
    throw new CheckpointError(file, `not an hpa-detect checkpoint: __metadata__.format is ${JSON.stringify(metadata?.format)}, expected "${CHECKPOINT_FORMAT}" with a "checkpoint" document`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(metadata.checkpoint);
  } catch (err) {
    throw new CheckpointError(file, `__metadata__.checkpoint is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new CheckpointError(file, '__metadata__.checkpoint must be a JSON object');
  const d = doc as Record<string, unknown>;
  const v = d.format_version;
  if (!Number.isInteger(v)) throw new CheckpointError(file, `format_version must be an integer, got ${JSON.stringify(v)}`);
  if ((v as number) > CHECKPOINT_FORMAT_VERSION) {
    throw new CheckpointError(file, `format_version ${v} was written by a newer hpa-detect; this build reads version ${CHECKPOINT_FORMAT_VERSION}`);
  }
  if (v !== CHECKPOINT_FORMAT_VERSION) throw new CheckpointError(file, `format_version ${v} is not supported (this build reads version ${CHECKPOINT_FORMAT_VERSION})`);
  checkCounters(file, d.step, d.epoch);
  if (typeof d.rng !== 'object' || d.rng === null) throw new CheckpointError(file, 'rng must be an object of stream states');
  for (const stream of RNG_STREAMS) if (!(stream in d.rng)) throw new CheckpointError(file, `rng.${stream} is missing`);
  if (!('model' in d)) throw new CheckpointError(file, 'model config is missing');
  checkOptimizer(file, d.optimizer);
  if (typeof d.data_sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(d.data_sha256)) throw new CheckpointError(file, 'data_sha256 must be 64 hex digits');
  return d as unknown as MetadataDocument;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function listed(title: string, items: string[]): string | undefined {
  if (items.length === 0) return undefined;
  const shown = [...items].sort().slice(0, 20).join(', ');
  return `${title} (${items.length}): ${shown}${items.length > 20 ? ', …' : ''}`;
}

function checkExpectation(file: string, params: Map<string, HostTensor>, optimState: Map<string, Record<string, HostTensor>>, expect: CheckpointExpectation): void {
  const problems: (string | undefined)[] = [];
  if (expect.params !== undefined) {
    const shapes = Array.isArray(expect.params) ? undefined : (expect.params as ReadonlyMap<string, readonly number[]>);
    const names = new Set(shapes ? shapes.keys() : (expect.params as readonly string[]));
    problems.push(listed('missing parameters', [...names].filter((n) => !params.has(n))));
    problems.push(listed('unexpected parameters', [...params.keys()].filter((n) => !names.has(n))));
    if (shapes) {
      const mismatched: string[] = [];
      for (const [n, want] of shapes) {
        const got = params.get(n)?.shape;
        if (got && !sameShape(got, want)) mismatched.push(`${n} [${got.join(', ')}] in the file, [${want.join(', ')}] expected`);
      }
      problems.push(listed('shape mismatches', mismatched));
    }
  }
  if (expect.slots !== undefined) {
    const missing: string[] = [];
    const unexpected: string[] = [];
    for (const n of params.keys()) {
      const slots = optimState.get(n) ?? {};
      for (const s of expect.slots) if (!(s in slots)) missing.push(`${OPTIM_PREFIX}${n}/${s}`);
      for (const s of Object.keys(slots)) if (!expect.slots.includes(s)) unexpected.push(`${OPTIM_PREFIX}${n}/${s}`);
    }
    problems.push(listed('missing optimizer state', missing));
    problems.push(listed('unexpected optimizer state', unexpected));
  }
  const found = problems.filter((p): p is string => p !== undefined);
  if (found.length > 0) throw new CheckpointError(file, `does not match the model: ${found.join('; ')}`);
}

/**
 * Load and validate a checkpoint: format and version, metadata fields, the data section's SHA-256,
 * tensor names (`param/…`, `optim/<param>/<slot>` of a saved parameter), and, when `expect` is
 * given, parameter names, shapes and optimizer slots, every difference named in one error.
 */
export async function loadCheckpoint(file: string, expect: CheckpointExpectation = {}): Promise<LoadedCheckpoint> {
  const { tensors, metadata } = await readSafetensors(file);
  const doc = parseDocument(file, metadata);
  if (hashTensors(tensors) !== doc.data_sha256) {
    throw new CheckpointError(file, 'tensor data does not match data_sha256 (the file is corrupted)');
  }
  const params = new Map<string, HostTensor>();
  const optimState = new Map<string, Record<string, HostTensor>>();
  const unknown: string[] = [];
  for (const [key, t] of tensors) {
    if (key.startsWith(PARAM_PREFIX)) params.set(key.slice(PARAM_PREFIX.length), t);
  }
  for (const [key, t] of tensors) {
    if (key.startsWith(PARAM_PREFIX)) continue;
    const cut = key.lastIndexOf('/');
    const name = key.slice(OPTIM_PREFIX.length, cut);
    if (!key.startsWith(OPTIM_PREFIX) || cut <= OPTIM_PREFIX.length || !params.has(name)) {
      unknown.push(key);
      continue;
    }
    const slots = optimState.get(name) ?? {};
    slots[key.slice(cut + 1)] = t;
    optimState.set(name, slots);
  }
  if (unknown.length > 0) throw new CheckpointError(file, listed('tensors that are neither param/<name> nor optim/<saved param>/<slot>', unknown)!);
  checkExpectation(file, params, optimState, expect);
  const rng = {} as LoadedCheckpoint['rng'];
  for (const [stream, s] of Object.entries(doc.rng)) rng[stream] = checkRngState(file, stream, s);
  return {
    formatVersion: doc.format_version,
    step: doc.step,
    epoch: doc.epoch,
    rng,
    model: doc.model,
    optimizer: doc.optimizer,
    ...(doc.extra === undefined ? {} : { extra: doc.extra }),
    params,
    optimState,
  };
}

/** Rng objects that continue each saved stream exactly where it stopped. */
export function restoreRngs(checkpoint: Pick<Checkpoint, 'rng'>): Record<RngStream, Rng> & { [stream: string]: Rng } {
  const out = {} as Record<RngStream, Rng> & { [stream: string]: Rng };
  for (const [stream, state] of Object.entries(checkpoint.rng)) out[stream] = new Rng(state);
  return out;
}

/** The Rng.state of each stream, for Checkpoint.rng. */
export function rngStates(rngs: Record<RngStream, Rng> & { [stream: string]: Rng }): Checkpoint['rng'] {
  const out = {} as Checkpoint['rng'];
  for (const [stream, r] of Object.entries(rngs)) out[stream] = r.state;
  return out;
}

function f32Slot(name: string, slots: Readonly<Record<string, HostTensor>>, slot: string, size: number): Float32Array {
  const t = slots[slot];
  if (!t) throw new RangeError(`optim/${name}/${slot} is missing`);
  if (t.dtype !== 'F32' || elementCount(t.shape) !== size) {
    throw new RangeError(`optim/${name}/${slot} must be F32 with ${size} elements, got ${t.dtype} [${t.shape.join(', ')}]`);
  }
  return t.data as Float32Array;
}

/** torch.optim.SGD's slots of one parameter: momentum_buffer once momentum has started. */
export function sgdSlots(state: SgdState, shape: readonly number[]): Record<string, HostTensor> {
  return state.momentumBuffer ? { momentum_buffer: { dtype: 'F32', shape: [...shape], data: state.momentumBuffer } } : {};
}

/** SgdState from saved slots (no momentum buffer yet when the slot is absent). */
export function sgdStateFromSlots(name: string, slots: Readonly<Record<string, HostTensor>>, size: number): SgdState {
  return { momentumBuffer: 'momentum_buffer' in slots ? f32Slot(name, slots, 'momentum_buffer', size) : null };
}

/**
 * torch.optim.AdamW's slots of one parameter: exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad) and
 * step. torch 1.13 keeps step as a float scalar tensor; it is stored as an F64 scalar (exact to 2^53).
 */
export function adamwSlots(state: AdamWState, shape: readonly number[]): Record<string, HostTensor> {
  const s = [...shape];
  const out: Record<string, HostTensor> = {
    exp_avg: { dtype: 'F32', shape: s, data: state.expAvg },
    exp_avg_sq: { dtype: 'F32', shape: s, data: state.expAvgSq },
    step: { dtype: 'F64', shape: [], data: Float64Array.of(state.step) },
  };
  if (state.maxExpAvgSq) out.max_exp_avg_sq = { dtype: 'F32', shape: s, data: state.maxExpAvgSq };
  return out;
}

/** AdamWState from saved slots; throws a RangeError naming the missing or malformed slot. */
export function adamwStateFromSlots(name: string, slots: Readonly<Record<string, HostTensor>>, size: number): AdamWState {
  const step = slots.step;
  if (!step || elementCount(step.shape) !== 1 || !(step.dtype === 'F64' || step.dtype === 'F32' || step.dtype === 'I64')) {
    throw new RangeError(`optim/${name}/step must be a scalar F64, F32 or I64 tensor`);
  }
  const value = Number(step.data[0]);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`optim/${name}/step must be a non-negative integer, got ${value}`);
  return {
    step: value,
    expAvg: f32Slot(name, slots, 'exp_avg', size),
    expAvgSq: f32Slot(name, slots, 'exp_avg_sq', size),
    maxExpAvgSq: 'max_exp_avg_sq' in slots ? f32Slot(name, slots, 'max_exp_avg_sq', size) : null,
  };
}
