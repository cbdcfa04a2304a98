/**
 * Faster R-CNN configurations: the architecture (backbone depth, normalisation, FPN width, heads)
 * and every inference/training knob of torchvision's FasterRCNN constructor, under camel-cased
 * names. Defaults are torchvision 0.14's (models/detection/faster_rcnn.py).
 */

/** How the backbone (and, for GroupNorm, the FPN) normalises activations. */
export type NormKind =
  /** torchvision's FrozenBatchNorm2d: fixed statistics; for fine-tuning imported weights. */
  | 'frozen-bn'
  /** GroupNorm(32, C) in the backbone and FPN: trainable from scratch with small batches. */
  | 'group-norm';

/** ResNet depths with torchvision's block layouts. */
export type ResNetDepth = 18 | 34 | 50;

/** The architecture: what decides parameter names and shapes. */
export interface ArchitectureConfig {
  depth: ResNetDepth;
  /**
   * ResNet stem and layer1 width; layer2..4 are 2×, 4×, 8× it (torchvision: 64). Narrower
   * backbones train faster from scratch; only 64 loads torchvision weights.
   */
  baseWidth: number;
  norm: NormKind;
  /** GroupNorm groups (torchvision's usual 32); ignored for frozen-bn. */
  groupNormGroups: number;
  /** FPN output channels (torchvision: 256). */
  fpnChannels: number;
  /** TwoMLPHead width (torchvision: 1024). */
  representationSize: number;
  /** Classes including background (index 0). */
  numClasses: number;
  /** Backbone stages trained, counted from layer4 down (torchvision's trainable_backbone_layers, 0..5). */
  trainableLayers: number;
}

/** Anchor sizes per FPN level (P2..P6) and aspect ratios (height / width) shared by all levels. */
export interface AnchorConfig {
  sizes: number[][];
  aspectRatios: number[];
}

/** GeneralizedRCNNTransform settings. */
export interface TransformConfig {
  minSize: number;
  maxSize: number;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
  /** Batch padding multiple (torchvision: 32, the FPN's coarsest stride). */
  sizeDivisible: number;
}

/** RPN settings (torchvision's rpn_* arguments). */
export interface RpnConfig {
  preNmsTopNTrain: number;
  preNmsTopNTest: number;
  postNmsTopNTrain: number;
  postNmsTopNTest: number;
  nmsThresh: number;
  fgIouThresh: number;
  bgIouThresh: number;
  batchSizePerImage: number;
  positiveFraction: number;
  scoreThresh: number;
}

/** RoI heads settings (torchvision's box_* arguments). */
export interface BoxHeadConfig {
  scoreThresh: number;
  nmsThresh: number;
  detectionsPerImg: number;
  fgIouThresh: number;
  bgIouThresh: number;
  batchSizePerImage: number;
  positiveFraction: number;
  /** RoIAlign output size (7) and sampling ratio (2) of the box pooler. */
  poolSize: number;
  samplingRatio: number;
}

/** A complete Faster R-CNN configuration. */
export interface FasterRcnnConfig {
  preset: string;
  arch: ArchitectureConfig;
  anchors: AnchorConfig;
  transform: TransformConfig;
  rpn: RpnConfig;
  box: BoxHeadConfig;
}

/** torchvision's AnchorGenerator sizes for FPN: ((32,), (64,), (128,), (256,), (512,)). */
export const TORCHVISION_ANCHOR_SIZES = [[32], [64], [128], [256], [512]];
/** Anchors for cells (HPA cells are 20–120 px at the working resolution): half torchvision's sizes. */
export const SMALL_CELL_ANCHOR_SIZES = [[16], [32], [64], [128], [256]];

const TORCHVISION_TRANSFORM: TransformConfig = {
  minSize: 800,
  maxSize: 1333,
  imageMean: [0.485, 0.456, 0.406],
  imageStd: [0.229, 0.224, 0.225],
  sizeDivisible: 32,
};

const TORCHVISION_RPN: RpnConfig = {
  preNmsTopNTrain: 2000,
  preNmsTopNTest: 1000,
  postNmsTopNTrain: 2000,
  postNmsTopNTest: 1000,
  nmsThresh: 0.7,
  fgIouThresh: 0.7,
  bgIouThresh: 0.3,
  batchSizePerImage: 256,
  positiveFraction: 0.5,
  scoreThresh: 0,
};

const TORCHVISION_BOX: BoxHeadConfig = {
  scoreThresh: 0.05,
  nmsThresh: 0.5,
  detectionsPerImg: 100,
  fgIouThresh: 0.5,
  bgIouThresh: 0.5,
  batchSizePerImage: 512,
  positiveFraction: 0.25,
  poolSize: 7,
  samplingRatio: 2,
};

function torchvisionLike(preset: string, depth: ResNetDepth, norm: NormKind): FasterRcnnConfig {
  return {
    preset,
    arch: { depth, baseWidth: 64, norm, groupNormGroups: 32, fpnChannels: 256, representationSize: 1024, numClasses: 91, trainableLayers: norm === 'frozen-bn' ? 3 : 5 },
    anchors: { sizes: TORCHVISION_ANCHOR_SIZES.map((s) => [...s]), aspectRatios: [0.5, 1, 2] },
    transform: { ...TORCHVISION_TRANSFORM, imageMean: [...TORCHVISION_TRANSFORM.imageMean], imageStd: [...TORCHVISION_TRANSFORM.imageStd] },
    rpn: { ...TORCHVISION_RPN },
    box: { ...TORCHVISION_BOX },
  };
}

/**
 * The presets:
 * - `resnet50-fpn`: torchvision's fasterrcnn_resnet50_fpn (frozen BN, 3 trainable layers), the
 *   fine-tuning preset that loads torchvision weights unchanged; `resnet18-fpn`, `resnet34-fpn`
 *   the same with the smaller ResNets;
 * - `resnet18-fpn-gn`: from scratch, GroupNorm in backbone and FPN, all layers trainable;
 * - `light`: the laptop preset (minutes to train from scratch): a half-width ResNet-18 (stages
 *   32/64/128/256 channels, GroupNorm with 16 groups), FPN 64 channels, TwoMLPHead 256,
 *   cell-sized anchors, images at 512, fewer proposals. A training step at 384 px costs about a
 *   third of the full-width backbone's (docs/detection-training.md).
 */
export const PRESETS: Readonly<Record<string, () => FasterRcnnConfig>> = {
  'resnet50-fpn': () => torchvisionLike('resnet50-fpn', 50, 'frozen-bn'),
  'resnet34-fpn': () => torchvisionLike('resnet34-fpn', 34, 'frozen-bn'),
  'resnet18-fpn': () => torchvisionLike('resnet18-fpn', 18, 'frozen-bn'),
  'resnet18-fpn-gn': () => torchvisionLike('resnet18-fpn-gn', 18, 'group-norm'),
  light: () => {
    const c = torchvisionLike('light', 18, 'group-norm');
    c.arch.baseWidth = 32;
    c.arch.groupNormGroups = 16;
    c.arch.fpnChannels = 64;
    c.arch.representationSize = 256;
    c.anchors.sizes = SMALL_CELL_ANCHOR_SIZES.map((s) => [...s]);
    c.transform.minSize = 512;
    c.transform.maxSize = 512;
    c.rpn.preNmsTopNTrain = 1000;
    c.rpn.postNmsTopNTrain = 1000;
    c.rpn.preNmsTopNTest = 500;
    c.rpn.postNmsTopNTest = 500;
    c.box.batchSizePerImage = 256;
    return c;
  },
};

/** Names of the presets, for CLI choices and error messages. */
export const PRESET_NAMES = Object.keys(PRESETS);

/** A deep-partial override of a config (what users pass on top of a preset). */
export type ConfigOverrides = {
  [K in keyof FasterRcnnConfig]?: FasterRcnnConfig[K] extends object ? Partial<FasterRcnnConfig[K]> : FasterRcnnConfig[K];
};

/** A fresh copy of preset `name` with `overrides` applied section by section. */
export function fasterRcnnConfig(name: string, overrides: ConfigOverrides = {}): FasterRcnnConfig {
  const make = PRESETS[name];
  if (!make) throw new RangeError(`unknown preset '${name}'; presets: ${PRESET_NAMES.join(', ')}`);
  const c = make();
  const out: FasterRcnnConfig = {
    preset: c.preset,
    arch: { ...c.arch, ...overrides.arch },
    anchors: { ...c.anchors, ...overrides.anchors },
    transform: { ...c.transform, ...overrides.transform },
    rpn: { ...c.rpn, ...overrides.rpn },
    box: { ...c.box, ...overrides.box },
  };
  validateConfig(out);
  return out;
}

/** Throws a RangeError naming the first inconsistent field. */
export function validateConfig(c: FasterRcnnConfig): void {
  const positive = (v: number, name: string) => {
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be > 0, got ${v}`);
  };
  if (![18, 34, 50].includes(c.arch.depth)) throw new RangeError(`arch.depth must be 18, 34 or 50, got ${c.arch.depth}`);
  if (!Number.isInteger(c.arch.numClasses) || c.arch.numClasses < 2) throw new RangeError(`arch.numClasses must be an integer >= 2 (background included), got ${c.arch.numClasses}`);
  if (!Number.isInteger(c.arch.trainableLayers) || c.arch.trainableLayers < 0 || c.arch.trainableLayers > 5) {
    throw new RangeError(`arch.trainableLayers must be an integer in 0..5, got ${c.arch.trainableLayers}`);
  }
  if (!Number.isInteger(c.arch.baseWidth) || c.arch.baseWidth < 1) throw new RangeError(`arch.baseWidth must be a positive integer, got ${c.arch.baseWidth}`);
  if (c.arch.norm === 'group-norm' && c.arch.baseWidth % c.arch.groupNormGroups !== 0) {
    throw new RangeError(`arch.baseWidth ${c.arch.baseWidth} is not divisible by arch.groupNormGroups ${c.arch.groupNormGroups}`);
  }
  if (c.arch.norm === 'group-norm' && c.arch.fpnChannels % c.arch.groupNormGroups !== 0) {
    throw new RangeError(`arch.fpnChannels ${c.arch.fpnChannels} is not divisible by arch.groupNormGroups ${c.arch.groupNormGroups}`);
  }
  if (c.anchors.sizes.length !== 5) throw new RangeError(`anchors.sizes needs one list per FPN level P2..P6 (5), got ${c.anchors.sizes.length}`);
  const perLevel = c.anchors.sizes[0]!.length * c.anchors.aspectRatios.length;
  c.anchors.sizes.forEach((s, i) => {
    if (s.length * c.anchors.aspectRatios.length !== perLevel) throw new RangeError(`anchors.sizes[${i}]: every level needs the same number of anchors (the RPN head is shared)`);
  });
  positive(c.transform.minSize, 'transform.minSize');
  positive(c.transform.maxSize, 'transform.maxSize');
  positive(c.transform.sizeDivisible, 'transform.sizeDivisible');
  c.transform.imageStd.forEach((v, i) => positive(v, `transform.imageStd[${i}]`));
  c.anchors.aspectRatios.forEach((v, i) => positive(v, `anchors.aspectRatios[${i}]`));
  c.anchors.sizes.forEach((l, i) => l.forEach((v, j) => positive(v, `anchors.sizes[${i}][${j}]`)));
  const count = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be an integer >= 1, got ${v}`);
  };
  for (const k of ['preNmsTopNTrain', 'preNmsTopNTest', 'postNmsTopNTrain', 'postNmsTopNTest', 'batchSizePerImage'] as const) count(c.rpn[k], `rpn.${k}`);
  for (const k of ['detectionsPerImg', 'batchSizePerImage', 'poolSize'] as const) count(c.box[k], `box.${k}`);
  const unit = (v: number, name: string) => {
    if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${v}`);
  };
  for (const s of ['rpn', 'box'] as const) {
    for (const k of ['nmsThresh', 'scoreThresh', 'fgIouThresh', 'bgIouThresh'] as const) unit(c[s][k], `${s}.${k}`);
    if (!(c[s].positiveFraction > 0 && c[s].positiveFraction <= 1)) throw new RangeError(`${s}.positiveFraction must be in (0, 1], got ${c[s].positiveFraction}`);
    if (c[s].bgIouThresh > c[s].fgIouThresh) throw new RangeError(`${s}.bgIouThresh ${c[s].bgIouThresh} is above ${s}.fgIouThresh ${c[s].fgIouThresh}`);
  }
}

/** Anchors per FPN position (sizes × ratios of one level): 3 for torchvision's presets. */
export function anchorsPerPosition(c: FasterRcnnConfig): number {
  return c.anchors.sizes[0]!.length * c.anchors.aspectRatios.length;
}
