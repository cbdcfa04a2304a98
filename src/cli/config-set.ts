/**
 * `--set section.field=value` (train and predict): any of a preset's detector settings from the
 * command line, as torchvision's FasterRCNN keyword arguments are from Python, e.g.
 *   --set box.detectionsPerImg=300 --set anchors.sizes=cells --set rpn.postNmsTopNTest=500
 * Fields and their kinds come from the preset's own config (src/models/presets.ts), so a typo or
 * a value of the wrong kind is a usage error naming the flag. The architecture is the preset's,
 * except `arch.trainableLayers`; the class count comes from the data or the weights.
 */
import { type ConfigOverrides, type FasterRcnnConfig, SMALL_CELL_ANCHOR_SIZES, TORCHVISION_ANCHOR_SIZES } from '../models/presets.js';
import { mergeOverrides } from '../infer/predict-model.js';
import { UsageError } from './errors.js';

const SECTIONS = ['anchors', 'transform', 'rpn', 'box', 'arch'] as const;
type Section = (typeof SECTIONS)[number];

/** The only architecture field a command line may change (torchvision's trainable_backbone_layers). */
const ARCH_SETTABLE = ['trainableLayers'];

/** Counts and pixel sizes: a fraction there is a usage error, not a silently truncated value. */
const INTEGER_FIELDS = new Set([
  'arch.trainableLayers', 'transform.minSize', 'transform.maxSize', 'transform.sizeDivisible',
  'rpn.preNmsTopNTrain', 'rpn.preNmsTopNTest', 'rpn.postNmsTopNTrain', 'rpn.postNmsTopNTest', 'rpn.batchSizePerImage',
  'box.detectionsPerImg', 'box.batchSizePerImage', 'box.poolSize', 'box.samplingRatio',
]);

/** Named anchor-size sets for `anchors.sizes`. */
const NAMED_ANCHOR_SIZES: Record<string, number[][]> = { torchvision: TORCHVISION_ANCHOR_SIZES, cells: SMALL_CELL_ANCHOR_SIZES };

/** Every settable `section.field`, for help text and errors. */
export function settableFields(reference: FasterRcnnConfig): string[] {
  return SECTIONS.flatMap((s) => Object.keys(reference[s]).filter((f) => s !== 'arch' || ARCH_SETTABLE.includes(f)).map((f) => `${s}.${f}`));
}

function numberList(text: string, flag: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const values = parts.map(Number);
  if (parts.some((p) => p === '') || !values.every(Number.isFinite)) throw new UsageError(`${flag}: expected comma-separated numbers, got "${text}"`);
  return values;
}

/** anchors.sizes: `cells`, `torchvision`, or one entry per FPN level P2..P6 (`16,32,64,128,256`; several sizes of a level joined by `/`). */
function anchorSizes(text: string, flag: string): number[][] {
  const named = NAMED_ANCHOR_SIZES[text];
  if (named) return named.map((l) => [...l]);
  const levels = text.split(',').map((level) => numberList(level.replace(/\//g, ','), flag));
  if (!levels.every((l) => l.every((v) => v > 0))) throw new UsageError(`${flag}: anchor sizes must be > 0, got "${text}"`);
  return levels;
}

/**
 * Parse `--set` values against `reference` (the preset's config) into overrides; `arch: false`
 * refuses arch.trainableLayers (predict: it changes nothing at inference).
 * @throws UsageError naming the flag: an unknown field, one that cannot be set, or a malformed value
 */
export function parseConfigSets(values: readonly string[], reference: FasterRcnnConfig, o: { arch?: boolean } = {}): ConfigOverrides {
  const out: Partial<Record<Section, Record<string, unknown>>> = {};
  const known = settableFields(reference);
  for (const raw of values) {
    const flag = `--set ${raw}`;
    const eq = raw.indexOf('=');
    if (eq < 0) throw new UsageError(`${flag}: expected section.field=value, e.g. box.detectionsPerImg=300`);
    const key = raw.slice(0, eq).trim(), text = raw.slice(eq + 1).trim();
    const [section, field, ...rest] = key.split('.');
    if (!SECTIONS.includes(section as Section) || field === undefined || rest.length > 0 || !known.includes(key)) {
      const why = section === 'arch' ? 'the architecture is the preset\'s (only arch.trainableLayers can be set)' : `settable: ${known.join(', ')}`;
      throw new UsageError(`${flag}: unknown setting '${key}'; ${why}`);
    }
    if (section === 'arch' && o.arch === false) throw new UsageError(`${flag}: the architecture is the weights'; ${key} only applies to training`);
    const current = (reference[section as Section] as unknown as Record<string, unknown>)[field];
    let value: unknown;
    if (key === 'anchors.sizes') value = anchorSizes(text, flag);
    else if (Array.isArray(current)) {
      value = numberList(text, flag);
      if ((key === 'transform.imageMean' || key === 'transform.imageStd') && (value as number[]).length !== 3) throw new UsageError(`${flag}: needs 3 numbers (R, G, B)`);
    } else {
      value = Number(text);
      if (text === '' || !Number.isFinite(value)) throw new UsageError(`${flag}: expected a number, got "${text}"`);
      if (INTEGER_FIELDS.has(key) && !Number.isInteger(value)) throw new UsageError(`${flag}: expected an integer, got "${text}"`);
    }
    (out[section as Section] ??= {})[field] = value;
  }
  return out as ConfigOverrides;
}

/** The model flags train and predict share: `--set` values, then `--min-size`/`--max-size` on top. */
export function commandLineOverrides(a: { set?: string[]; 'min-size'?: number; 'max-size'?: number }, reference: FasterRcnnConfig, o: { arch?: boolean } = {}): ConfigOverrides {
  const transform = { ...(a['min-size'] ? { minSize: a['min-size'] } : {}), ...(a['max-size'] ? { maxSize: a['max-size'] } : {}) };
  return mergeOverrides(parseConfigSets(a.set ?? [], reference, o), { transform });
}

/** The yargs option both commands declare. */
export const SET_OPTION = {
  type: 'string',
  array: true,
  describe: 'Detector setting section.field=value (repeatable), e.g. box.detectionsPerImg=300, anchors.sizes=cells, rpn.preNmsTopNTest=2000, box.nmsThresh=0.4, arch.trainableLayers=5; see docs/models.md',
} as const;
