/**
 * One Faster R-CNN training step across the two graph segments (docs/detection-training.md,
 * "One step"), pure of file I/O:
 *
 *   segment 1 forward (eval model, or the split forward model) → objectness.l, deltas.l, features.l
 *   per image rpnTargets (sample from rng) → rpnLoss (+ grad.objectness.l, grad.deltas.l)
 *   per image proposals with the training top-n (detached) → roiTargets (sample from rng)
 *   MultiScaleRoIAlign(P2..P5, RoIs) → box_features
 *   segment 2 forward (eval model, or the split forward model) → roiLoss (+ grad.class_logits, grad.box_regression)
 *   segment 2 backward seeded with those → grad.roi_heads.*, grad.box_features
 *   MultiScaleRoIAlign backward → grad.features.0..3
 *   segment 1 backward seeded with grad.features.l, grad.objectness.l, grad.deltas.l → grad.backbone.*, grad.rpn.*
 *
 * With a segment's split models (src/graph/split-training.ts) its forward runs once: the forward
 * model replaces the eval model and also returns the saved activations, and the backward model,
 * fed those and the seeds, replaces the training model. Without them the segment runs forward
 * twice (eval model, then the training model with the seeds, which recomputes the forward pass).
 * Random draws, in torchvision's order: the RPN samples of every image, then the RoI samples.
 * The draws can be replaced by a recorded {@link StepSample} (same RPN sample, same RoIs), which
 * makes the loss a smooth function of the parameters (finite-difference checks).
 */
import * as ort from 'onnxruntime-node';
import { generateAnchors } from '../detection/anchors.js';
import { multiScaleRoiAlign, multiScaleRoiAlignBackward } from '../detection/multiscale-roi-align.js';
import type { FeatureShape } from '../detection/roi-align.js';
import { roiTargets, type RoiTargets } from '../detection/targets-roi.js';
import { rpnTargets, type RpnTargets } from '../detection/targets-rpn.js';
import type { DetectionModelInput } from '../data/model-input.js';
import { anchorLevels, rpnProposals } from '../infer/rpn-proposals.js';
import { SEGMENT1_OUTPUTS, SEGMENT2_IO } from '../models/faster-rcnn.js';
import { anchorsPerPosition, type FasterRcnnConfig } from '../models/presets.js';
import type { Rng } from '../util/rng.js';
import { roiLoss, rpnLoss, type RpnHeadLevel } from './detection-loss.js';
import { detectionLossComponents, roiGradFeeds, rpnGradFeeds, type DetectionLossComponents } from './detection-loss-feeds.js';
import type { OutputScratch } from './output-scratch.js';
import type { ParamBuffer } from './trainer-optimizer.js';

/** FPN levels the box pooler reads (P2..P5; P6 `pool` feeds only the RPN, as in torchvision). */
export const POOLED_LEVELS = 4;

/** Segment 1 outputs that receive a gradient seed in its training model. */
export const SEGMENT1_CHAINED: readonly string[] = [
  ...SEGMENT1_OUTPUTS.features.slice(0, POOLED_LEVELS),
  ...SEGMENT1_OUTPUTS.objectness,
  ...SEGMENT1_OUTPUTS.deltas,
];

/** A segment's split models: the forward pass once, then the backward pass from saved values. */
export interface SplitSessions {
  /** Inputs and parameters → the eval model's outputs plus `saved`. */
  forward: ort.InferenceSession;
  /** `saved`, seeds `grad.<output>`, the parameters and inputs it reads → `grad.<param>`, `grad.<input>`. */
  backward: ort.InferenceSession;
  /** Forward outputs fed to the backward model under the same names. */
  saved: readonly string[];
  /** Reused output buffers of `forward` (train/output-scratch.ts); without it each run allocates its outputs. */
  forwardScratch?: OutputScratch;
}

/**
 * A segment's eval model (forward outputs) and either its training model (seeds in, gradients
 * out; recomputes the forward pass) or its split models. A backward pass uses `split` when set.
 */
export interface SegmentSessions {
  eval: ort.InferenceSession;
  train?: ort.InferenceSession;
  split?: SplitSessions;
  /** Whether `train` / `split.backward` run with onnxruntime's memory arena (DetectorTrainer gives it to one image size at a time; tests read it). */
  arena?: boolean;
}

/** What a step needs besides the batch: config, sessions, the trainable parameters of each segment. */
export interface SegmentedDetector {
  config: FasterRcnnConfig;
  /**
   * Segment 1's sessions for a padded batch [batch, 3, height, width] (the training and split
   * models have static shapes: autodiff needs them; the eval model takes any size). Eval: images +
   * trainable params → features, objectness, deltas; training: also grad.<chained output> in,
   * grad.<param> out; split: the same in two runs with the saved activations between them.
   */
  segment1(batch: number, height: number, width: number): Promise<SegmentSessions>;
  /** Segment 1's eval model alone (any size): forward-only passes use it, so validation builds no training models. */
  segment1Eval: ort.InferenceSession;
  /** Segment 2 (box head): box_features + params → class_logits, box_regression; training: grad.<param>, grad.box_features out. */
  segment2: SegmentSessions;
  /** Trainable parameters fed to segment 1 / segment 2 (values read at each run). */
  seg1Params: ReadonlyMap<string, ParamBuffer>;
  seg2Params: ReadonlyMap<string, ParamBuffer>;
}

/** The random choices of one step, recorded so that it can be replayed exactly. */
export interface StepSample {
  /** Sampled anchors per image. */
  rpn: { positiveIndices: Int32Array; negativeIndices: Int32Array }[];
  /** Sampled RoIs per image (boxes, labels, regression targets). */
  roi: Pick<RoiTargets, 'proposals' | 'labels' | 'regressionTargets'>[];
}

/** Where a step's random choices come from. */
export type StepSampleSource = { rng: Rng } | { sample: StepSample };

/** What one forward (and backward) pass gave. */
export interface DetectorPass {
  /** The four losses and their sum (float64). */
  losses: DetectionLossComponents;
  /** The sample used (pass it back as { sample } to replay the step). */
  sample: StepSample;
  /** Gradient of the total loss per trainable parameter (only with backward). */
  grads?: Map<string, Float32Array>;
  /** Milliseconds per stage. */
  timings: Record<'segment1' | 'targets' | 'roiAlign' | 'segment2' | 'backward', number>;
}

function paramFeeds(params: ReadonlyMap<string, ParamBuffer>, feeds: Record<string, ort.Tensor>): void {
  for (const [name, b] of params) feeds[name] = new ort.Tensor('float32', b.data, b.shape);
}

/** Forward outputs of a segment: the split forward model on a backward pass, else the eval model. */
function runForward(seg: SegmentSessions, feeds: Record<string, ort.Tensor>, backward: boolean): Promise<ort.InferenceSession.OnnxValueMapType> {
  if (!backward || !seg.split) return seg.eval.run(feeds);
  return seg.split.forwardScratch ? seg.split.forwardScratch.run(feeds) : seg.split.forward.run(feeds);
}

/**
 * Gradients of a segment: the backward model fed the saved values and what it reads of `feeds`
 * (parameters, inputs, seeds), or the training model fed `feeds` (forward recomputed).
 */
function runBackward(seg: SegmentSessions, feeds: Record<string, ort.Tensor>, forward: ort.InferenceSession.OnnxValueMapType): Promise<ort.InferenceSession.OnnxValueMapType> {
  if (seg.split) {
    const b: Record<string, ort.Tensor> = {};
    for (const s of seg.split.saved) b[s] = f32(forward, s);
    for (const name of seg.split.backward.inputNames) if (!(name in b)) b[name] = feeds[name] ?? missing(name);
    return seg.split.backward.run(b);
  }
  if (!seg.train) throw new Error('detector step: a segment needs a training model or split models for a backward pass');
  return seg.train.run(feeds);
}

function missing(name: string): never {
  throw new Error(`detector step: no feed for the backward model's input '${name}'`);
}

function f32(out: ort.InferenceSession.OnnxValueMapType, name: string): ort.Tensor {
  const t = out[name];
  if (!t) throw new Error(`detector step: the model has no output '${name}'`);
  return t as ort.Tensor;
}

/**
 * Forward (and with `backward`, the gradients of the total loss) of one batch. `input` is
 * toModelInput's output: the padded batch and the gt boxes in resized-image pixels.
 */
export async function detectorPass(model: SegmentedDetector, input: DetectionModelInput, source: StepSampleSource, options: { backward: boolean }): Promise<DetectorPass> {
  const { config: cfg } = model;
  const timings = { segment1: 0, targets: 0, roiAlign: 0, segment2: 0, backward: 0 };
  let t0 = performance.now();
  const lap = (k: keyof typeof timings) => {
    const now = performance.now();
    timings[k] += now - t0;
    t0 = now;
  };
  const [n, , H, W] = input.shape;
  if (input.targets.length !== n) throw new RangeError(`input.targets has ${input.targets.length} entries for a batch of ${n}`);
  const replay = 'sample' in source ? source.sample : undefined;
  if (replay && (replay.rpn.length !== n || replay.roi.length !== n)) throw new RangeError(`source.sample is for ${replay.rpn.length} images, the batch has ${n}`);
  const images = new ort.Tensor('float32', input.tensor, input.shape);
  const seg1: SegmentSessions = options.backward ? await model.segment1(n, H, W) : { eval: model.segment1Eval };

  const s1Feeds: Record<string, ort.Tensor> = { images };
  paramFeeds(model.seg1Params, s1Feeds);
  const s1 = await runForward(seg1, s1Feeds, options.backward);
  lap('segment1');

  // RPN targets and loss over the whole batch.
  const a = anchorsPerPosition(cfg);
  const levels: RpnHeadLevel[] = SEGMENT1_OUTPUTS.objectness.map((name, l) => {
    const o = f32(s1, name);
    return { objectness: o.data as Float32Array, deltas: f32(s1, SEGMENT1_OUTPUTS.deltas[l]!).data as Float32Array, height: o.dims[2]!, width: o.dims[3]! };
  });
  const anchors = generateAnchors(anchorLevels(cfg.anchors), [H, W], levels.map((l) => [l.height, l.width] as [number, number]));
  const rpnOptions = { fgIouThresh: cfg.rpn.fgIouThresh, bgIouThresh: cfg.rpn.bgIouThresh, batchSizePerImage: cfg.rpn.batchSizePerImage, positiveFraction: cfg.rpn.positiveFraction };
  const rpnT: RpnTargets[] = input.targets.map((t, i) =>
    rpnTargets(anchors, t.boxes, replay ? { sampled: replay.rpn[i]! } : { rng: (source as { rng: Rng }).rng }, rpnOptions));
  const rpn = rpnLoss(levels, a, rpnT);

  // Proposals (no gradient flows through them) and the RoI sample, image by image.
  let roiT: StepSample['roi'];
  if (replay) {
    roiT = replay.roi;
  } else {
    const rng = (source as { rng: Rng }).rng;
    const roiOptions = { fgIouThresh: cfg.box.fgIouThresh, bgIouThresh: cfg.box.bgIouThresh, batchSizePerImage: cfg.box.batchSizePerImage, positiveFraction: cfg.box.positiveFraction };
    const proposals = input.targets.map((_, b) => {
      const per = (t: Float32Array) => t.subarray((b * t.length) / n, ((b + 1) * t.length) / n);
      const imageLevels = levels.map((l) => ({ objectness: per(l.objectness), deltas: per(l.deltas), height: l.height, width: l.width }));
      return rpnProposals(imageLevels, cfg.anchors, cfg.rpn, [H, W], input.imageSizes[b]!, cfg.rpn.preNmsTopNTrain, cfg.rpn.postNmsTopNTrain);
    });
    roiT = input.targets.map((t, b) => roiTargets(proposals[b]!.boxes, t.boxes, t.labels, { rng }, roiOptions));
  }
  lap('targets');

  // [K, 5] RoIs (batch index, box) pooled from P2..P5.
  const k = roiT.reduce((s, r) => s + r.labels.length, 0);
  const rois = new Float32Array(k * 5);
  let row = 0;
  roiT.forEach((r, b) => {
    for (let j = 0; j < r.labels.length; j++, row++) {
      rois[row * 5] = b;
      rois.set(r.proposals.subarray(j * 4, j * 4 + 4), row * 5 + 1);
    }
  });
  const featureLevels = SEGMENT1_OUTPUTS.features.slice(0, POOLED_LEVELS).map((name) => {
    const t = f32(s1, name);
    return { data: t.data as Float32Array, shape: t.dims as unknown as FeatureShape };
  });
  const poolOptions = { outputSize: cfg.box.poolSize, samplingRatio: cfg.box.samplingRatio };
  const pooled = await multiScaleRoiAlign(featureLevels, rois, input.imageSizes, poolOptions);
  lap('roiAlign');

  const p = cfg.box.poolSize;
  const boxFeatures = new ort.Tensor('float32', pooled.output, [k, cfg.arch.fpnChannels, p, p]);
  const s2Feeds: Record<string, ort.Tensor> = { [SEGMENT2_IO.input]: boxFeatures };
  paramFeeds(model.seg2Params, s2Feeds);
  const s2 = await runForward(model.segment2, s2Feeds, options.backward);
  const roi = roiLoss(f32(s2, SEGMENT2_IO.classLogits).data as Float32Array, f32(s2, SEGMENT2_IO.boxRegression).data as Float32Array, roiT);
  lap('segment2');

  const sample: StepSample = {
    rpn: rpnT.map((t) => ({ positiveIndices: t.positiveIndices, negativeIndices: t.negativeIndices })),
    roi: roiT.map((r) => ({ proposals: r.proposals, labels: r.labels, regressionTargets: r.regressionTargets })),
  };
  const losses = detectionLossComponents(rpn, roi);
  if (!options.backward) return { losses, sample, timings };

  // Backward: segment 2, RoIAlign, segment 1, each seeded by what follows it.
  const grads = new Map<string, Float32Array>();
  for (const [name, g] of Object.entries(roiGradFeeds(roi))) s2Feeds[name] = new ort.Tensor('float32', g, f32(s2, name.slice('grad.'.length)).dims);
  const s2t = await runBackward(model.segment2, s2Feeds, s2);
  for (const name of model.seg2Params.keys()) grads.set(name, f32(s2t, `grad.${name}`).data as Float32Array);
  const gradFeatures = await multiScaleRoiAlignBackward(
    f32(s2t, `grad.${SEGMENT2_IO.input}`).data as Float32Array, rois, featureLevels.map((l) => l.shape), pooled.levels, pooled.scales, poolOptions);
  gradFeatures.forEach((g, l) => { s1Feeds[`grad.${SEGMENT1_OUTPUTS.features[l]}`] = new ort.Tensor('float32', g, [...featureLevels[l]!.shape]); });
  for (const [name, g] of Object.entries(rpnGradFeeds(rpn))) s1Feeds[name] = new ort.Tensor('float32', g, f32(s1, name.slice('grad.'.length)).dims);
  const s1t = await runBackward(seg1, s1Feeds, s1);
  for (const name of model.seg1Params.keys()) grads.set(name, f32(s1t, `grad.${name}`).data as Float32Array);
  lap('backward');
  return { losses, sample, grads, timings };
}
