/**
 * Faster R-CNN inference with torchvision's semantics: transform → ORT segment 1 (backbone,
 * FPN, RPN head) → native proposals → native multi-scale RoIAlign → ORT segment 2 (box head)
 * → native postprocessing → boxes in original image coordinates.
 *
 * ```ts
 * const det = await Detector.load('weights.safetensors', 'resnet50-fpn', { provider: 'auto' });
 * const { boxes, scores, labels } = await det.detect(await loadImage('cells.png'));
 * console.log(det.provider); // 'cpu' or 'cuda': what actually ran
 * ```
 */
import type * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { multiScaleRoiAlign } from '../detection/multiscale-roi-align.js';
import type { GraphBuilder } from '../graph/builder.js';
import { fromOrtTensor, toOrtTensor } from '../graph/ort.js';
import { serializeModel } from '../graph/serialize.js';
import { readSafetensors } from '../io/safetensors.js';
import type { HostTensor } from '../io/tensor.js';
import { SEGMENT1_OUTPUTS, SEGMENT2_IO, buildSegment1, buildSegment2 } from '../models/faster-rcnn.js';
import { type ConfigOverrides, type FasterRcnnConfig, fasterRcnnConfig } from '../models/presets.js';
import { FileWeights, type WeightSource } from '../models/weights.js';
import { assertProviderInstalled, type ProviderName, type SessionOptions, createSessions } from './providers.js';
import { type Detections, postprocessDetections } from './roi-postprocess.js';
import { type Proposals, rpnProposals } from './rpn-proposals.js';
import { type ImageTensor, type RgbImage, resizeBoxesInPlace, rgbToTensor, transformBatch } from './transform.js';

/** Options of {@link Detector.load}. */
export interface DetectorOptions extends SessionOptions {
  /** Overrides on top of the preset (thresholds, sizes, numClasses …). */
  config?: ConfigOverrides;
}

/** Detections of one image plus, on request, the intermediate results (for debugging and tests). */
export interface DetectionResult extends Detections {
  /** RPN proposals in resized-image coordinates (only with `{ debug: true }`). */
  proposals?: Proposals;
  /** The transformed batch shape and resized size (only with `{ debug: true }`). */
  inputShape?: [number, number, number, number];
  imageSize?: [number, number];
  /** Milliseconds per stage for the whole batch (only with `{ debug: true }`). */
  timings?: Record<'transform' | 'segment1' | 'proposals' | 'roiAlign' | 'segment2' | 'postprocess', number>;
}

/** An image as `detect` takes it: 8-bit RGB(A) interleaved, or a float CHW tensor in [0, 1]. */
export type DetectorInput = RgbImage | ImageTensor;

/** Decode an image file to 8-bit RGB with sharp (alpha dropped, 16-bit reduced). */
export async function loadImage(file: string): Promise<RgbImage> {
  const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), height: info.height, width: info.width, channels: info.channels as 3 };
}

/** Map a safetensors file's tensors to parameters: torchvision state_dicts as is, our checkpoints under `param/`. */
function weightSource(tensors: Map<string, HostTensor>, file: string): WeightSource & { unused(): string[] } {
  const isCheckpoint = [...tensors.keys()].some((k) => k.startsWith('param/'));
  return new FileWeights(tensors, file, isCheckpoint ? 'param/' : '');
}

/** numClasses from the predictor's weight, so a torchvision export needs no extra flag. */
function classesInFile(tensors: Map<string, HostTensor>): number | undefined {
  const t = tensors.get('roi_heads.box_predictor.cls_score.weight') ?? tensors.get('param/roi_heads.box_predictor.cls_score.weight');
  return t?.shape[0];
}

/** A loaded Faster R-CNN ready to run (keep it: session creation is the expensive part). */
export class Detector {
  private constructor(
    readonly config: FasterRcnnConfig,
    /** The execution provider that runs the graphs. */
    readonly provider: ProviderName,
    private readonly segment1: ort.InferenceSession,
    private readonly segment2: ort.InferenceSession,
  ) {}

  /**
   * Load weights (a torchvision state_dict exported by scripts/export_torchvision.py, or one of
   * our checkpoints) for `preset` and create the ORT sessions. numClasses defaults to what the
   * weights hold.
   */
  static async load(weightsFile: string, preset: string, options: DetectorOptions = {}): Promise<Detector> {
    // Say at once when CUDA was asked for and cannot run, before minutes of loading.
    assertProviderInstalled(options.provider);
    const { tensors } = await readSafetensors(weightsFile);
    const numClasses = options.config?.arch?.numClasses ?? classesInFile(tensors);
    const config = fasterRcnnConfig(preset, { ...options.config, arch: { ...options.config?.arch, ...(numClasses ? { numClasses } : {}) } });
    const source = weightSource(tensors, weightsFile);
    return Detector.fromGraphs(config, buildSegment1(config, source), buildSegment2(config, source), options);
  }

  /** A detector over weights from any source (e.g. random weights, or a trainer's current ones). */
  static async fromWeights(config: FasterRcnnConfig, weights: WeightSource, options: SessionOptions = {}): Promise<Detector> {
    return Detector.fromGraphs(config, buildSegment1(config, weights), buildSegment2(config, weights), options);
  }

  private static async fromGraphs(config: FasterRcnnConfig, s1: GraphBuilder, s2: GraphBuilder, options: SessionOptions): Promise<Detector> {
    const { sessions, provider } = await createSessions([serializeModel(s1), serializeModel(s2)], options);
    return new Detector(config, provider, sessions[0]!, sessions[1]!);
  }

  /** Release the ONNX Runtime sessions. */
  async release(): Promise<void> {
    await this.segment1.release();
    await this.segment2.release();
  }

  /** Detect objects in one image; boxes in the input image's pixel coordinates. */
  async detect(image: DetectorInput, options: { debug?: boolean } = {}): Promise<DetectionResult> {
    return (await this.detectBatch([image], options))[0]!;
  }

  /** Detect objects in several images run as one padded batch (torchvision's batching). */
  async detectBatch(images: readonly DetectorInput[], options: { debug?: boolean } = {}): Promise<DetectionResult[]> {
    const timings = { transform: 0, segment1: 0, proposals: 0, roiAlign: 0, segment2: 0, postprocess: 0 };
    let t0 = performance.now();
    const lap = (stage: keyof typeof timings) => {
      const now = performance.now();
      timings[stage] += now - t0;
      t0 = now;
    };
    const tensors = images.map((img) => ('channels' in img ? rgbToTensor(img) : img));
    const batch = transformBatch(tensors, this.config.transform);
    const [n, , H, W] = batch.shape;
    lap('transform');
    const s1 = await this.segment1.run({ images: toOrtTensor({ dtype: 'float32', dims: batch.shape, data: batch.tensor }) });
    lap('segment1');
    const features = SEGMENT1_OUTPUTS.features.map((name) => fromOrtTensor(s1[name]!));
    const objectness = SEGMENT1_OUTPUTS.objectness.map((name) => fromOrtTensor(s1[name]!));
    const deltas = SEGMENT1_OUTPUTS.deltas.map((name) => fromOrtTensor(s1[name]!));

    const results: DetectionResult[] = [];
    for (let b = 0; b < n; b++) {
      const row = (t: { dims: number[]; data: unknown }) => {
        const per = (t.data as Float32Array).length / n;
        return (t.data as Float32Array).subarray(b * per, (b + 1) * per);
      };
      const levels = objectness.map((o, l) => ({ objectness: row(o), deltas: row(deltas[l]!), height: o.dims[2]!, width: o.dims[3]! }));
      const imageSize = batch.imageSizes[b]!;
      const proposals = rpnProposals(levels, this.config.anchors, this.config.rpn, [H, W], imageSize);
      lap('proposals');
      const dets = await this.boxHead(features, b, proposals.boxes, imageSize, batch.imageSizes, lap);
      resizeBoxesInPlace(dets.boxes, imageSize, batch.originalSizes[b]!);
      lap('postprocess');
      results.push(options.debug ? { ...dets, proposals, inputShape: batch.shape, imageSize } : dets);
    }
    if (options.debug) for (const r of results) r.timings = timings;
    return results;
  }

  /** Pool each proposal from its FPN level (P2..P5), run segment 2, postprocess. */
  private async boxHead(
    features: { dims: number[]; data: unknown }[], b: number, proposals: Float32Array, imageSize: [number, number], allSizes: [number, number][],
    lap: (stage: 'roiAlign' | 'segment2') => void,
  ): Promise<Detections> {
    const k = proposals.length / 4;
    const numClasses = this.config.arch.numClasses;
    if (k === 0) return { boxes: new Float32Array(0), scores: new Float32Array(0), labels: new Int32Array(0) };
    const rois = new Float32Array(k * 5);
    for (let i = 0; i < k; i++) {
      rois[i * 5] = 0;
      rois.set(proposals.subarray(i * 4, i * 4 + 4), i * 5 + 1);
    }
    // The pooler sees this image's rows of P2..P5 ('pool' is not pooled from, as in torchvision);
    // scales are inferred from the whole batch's image sizes, as MultiScaleRoIAlign does.
    const levels = features.slice(0, 4).map((t) => {
      const [n, c, h, w] = t.dims as [number, number, number, number];
      const per = c * h * w;
      return { data: (t.data as Float32Array).subarray(b * per, (b + 1) * per), shape: [1, c, h, w] as [number, number, number, number], n };
    });
    const pooled = await multiScaleRoiAlign(levels.map(({ data, shape }) => ({ data, shape })), rois, allSizes, {
      outputSize: this.config.box.poolSize, samplingRatio: this.config.box.samplingRatio,
    });
    lap('roiAlign');
    const p = this.config.box.poolSize;
    const s2 = await this.segment2.run({
      [SEGMENT2_IO.input]: toOrtTensor({ dtype: 'float32', dims: [k, this.config.arch.fpnChannels, p, p], data: pooled.output }),
    });
    const logits = s2[SEGMENT2_IO.classLogits]!.data as Float32Array;
    const regression = s2[SEGMENT2_IO.boxRegression]!.data as Float32Array;
    lap('segment2');
    return postprocessDetections(logits, regression, proposals, numClasses, imageSize, this.config.box);
  }
}
