/**
 * Which model config `hpa-detect predict` builds for a weights file: our files carry it, so
 * `--preset` is only needed for torchvision exports. Where it is stored:
 *   checkpoints      `__metadata__` {format: "hpa-detect/checkpoint", checkpoint: "<JSON>"} → .model
 *   exported weights `__metadata__` {format: "hpa-detect/weights", model: "<JSON>"}
 *                    (DetectorTrainer.exportWeights)
 * Only the safetensors header is read here (not the tensors), so the choice is quick and errors
 * come early.
 *
 * Accepted `model` documents (docs/predict.md):
 *   { preset: "light", config?: ConfigOverrides, classes?: string[] }  DetectorTrainer writes the
 *        whole FasterRcnnConfig as `config` (plus arch: "faster-rcnn"); any partial one works
 *   { preset: "light", arch: {...}, transform: {...}, ... }             a FasterRcnnConfig itself
 */
import { open } from 'node:fs/promises';
import { MAX_HEADER_SIZE, METADATA_KEY } from '../io/safetensors.js';
import { type ConfigOverrides, PRESET_NAMES } from '../models/presets.js';
import { TORCHVISION_BASE_WIDTH } from '../models/resnet.js';
import { CHECKPOINT_FORMAT } from '../train/checkpoint.js';

/** The model config a checkpoint stores, normalised. */
export interface StoredModelConfig {
  preset: string;
  config: ConfigOverrides;
  /** Names of classes 1..K, when stored. */
  classes?: string[];
}

/** `__metadata__.format` of DetectorTrainer.exportWeights files. */
export const WEIGHTS_FORMAT = 'hpa-detect/weights';

/** Preset of weights that store no config (torchvision's fasterrcnn_resnet50_fpn). */
export const DEFAULT_PRESET = 'resnet50-fpn';

const SECTIONS = ['arch', 'anchors', 'transform', 'rpn', 'box'] as const;

/** The `__metadata__` map of a safetensors file (undefined when it has none). */
export async function readSafetensorsMetadata(file: string): Promise<Record<string, string> | undefined> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    if (bytesRead < 8) throw new RangeError(`${file}: not a safetensors file (shorter than 8 bytes)`);
    const n = Number(head.readBigUInt64LE(0));
    if (n > MAX_HEADER_SIZE) throw new RangeError(`${file}: not a safetensors file (header length ${n})`);
    const buf = Buffer.alloc(n);
    await fh.read(buf, 0, n, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(buf.toString('utf8'));
    } catch (err) {
      throw new RangeError(`${file}: safetensors header is not valid JSON: ${(err as Error).message}`);
    }
    const meta = header[METADATA_KEY];
    return meta && typeof meta === 'object' ? (meta as Record<string, string>) : undefined;
  } finally {
    await fh.close();
  }
}

/**
 * The model config stored in one of our checkpoints, or undefined (a torchvision export, or a
 * checkpoint whose `model` is null).
 * @throws RangeError naming the file and field when the stored config is malformed
 */
export async function storedModelConfig(file: string): Promise<StoredModelConfig | undefined> {
  const meta = await readSafetensorsMetadata(file);
  const field = meta?.format === CHECKPOINT_FORMAT ? 'checkpoint' : meta?.format === WEIGHTS_FORMAT ? 'model' : undefined;
  if (!field || typeof meta?.[field] !== 'string') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(meta[field]!);
  } catch (err) {
    throw new RangeError(`${file}: __metadata__.${field} is not valid JSON: ${(err as Error).message}`);
  }
  const model = field === 'checkpoint' ? (parsed as { model?: unknown } | null)?.model : parsed;
  if (model === null || model === undefined) return undefined;
  if (typeof model !== 'object' || Array.isArray(model)) throw new RangeError(`${file}: stored model config must be an object, got ${JSON.stringify(model)}`);
  const m = model as Record<string, unknown>;
  if (typeof m.preset !== 'string' || !PRESET_NAMES.includes(m.preset)) {
    throw new RangeError(`${file}: stored model config: preset must be one of ${PRESET_NAMES.join(', ')}, got ${JSON.stringify(m.preset)}`);
  }
  if (m.config !== undefined && (typeof m.config !== 'object' || m.config === null || Array.isArray(m.config))) {
    throw new RangeError(`${file}: stored model config: config must be an object of overrides`);
  }
  const src = (m.config ?? m) as Record<string, unknown>;
  const config: Record<string, unknown> = {};
  for (const s of SECTIONS) if (src[s] !== undefined && typeof src[s] === 'object') config[s] = src[s];
  const arch = config.arch as Record<string, unknown> | undefined;
  // A whole arch (it names the depth) written before widths were configurable is torchvision's width.
  if (arch && arch.depth !== undefined && arch.baseWidth === undefined) config.arch = { ...arch, baseWidth: TORCHVISION_BASE_WIDTH };
  if (m.classes !== undefined && !(Array.isArray(m.classes) && m.classes.every((c) => typeof c === 'string'))) {
    throw new RangeError(`${file}: model field classes must be an array of class names`);
  }
  return { preset: m.preset, config: config as ConfigOverrides, ...(m.classes ? { classes: m.classes as string[] } : {}) };
}

/** Merge two override sets section by section (`b` wins). */
export function mergeOverrides(a: ConfigOverrides, b: ConfigOverrides): ConfigOverrides {
  const out: Record<string, unknown> = {};
  for (const s of SECTIONS) {
    if (a[s] !== undefined || b[s] !== undefined) out[s] = { ...a[s], ...b[s] };
  }
  return out as ConfigOverrides;
}

/**
 * Preset and overrides for a weights file: the checkpoint's stored config when present (with
 * `cli` overrides on top), else `presetArg` (default {@link DEFAULT_PRESET}).
 * @throws RangeError when `presetArg` contradicts the checkpoint, or its stored config is malformed
 */
export async function resolveModelConfig(file: string, presetArg: string | undefined, cli: ConfigOverrides = {}): Promise<StoredModelConfig & { fromCheckpoint: boolean }> {
  const stored = await storedModelConfig(file);
  if (stored) {
    if (presetArg !== undefined && presetArg !== stored.preset) {
      throw new RangeError(`${file} stores a model of preset '${stored.preset}'; --preset ${presetArg} contradicts it (leave --preset out)`);
    }
    return { ...stored, config: mergeOverrides(stored.config, cli), fromCheckpoint: true };
  }
  // torchvision exports carry no config; resnet50-fpn is what fasterrcnn_resnet50_fpn exports.
  return { preset: presetArg ?? DEFAULT_PRESET, config: cli, fromCheckpoint: false };
}
