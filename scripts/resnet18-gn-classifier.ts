/**
 * torchvision's resnet18(num_classes, norm_layer=lambda c: GroupNorm(32, c)) as a graph, with
 * torchvision's state_dict names (conv1.weight, layer2.0.downsample.1.bias, fc.weight, …) and
 * seeded random weights, plus the list of its convolutions for an analytic FLOP count.
 * Used by scripts/bench-train-core.ts; scripts/bench_train_core.py builds the same net in torch.
 */
import { GraphBuilder, type ValueRef } from '../src/graph/builder.js';
import { conv2d, groupNorm, linear } from '../src/graph/blocks.js';
import { softmaxCrossEntropy } from '../src/graph/losses.js';
import { type Tensor, type Value, tensor } from '../src/graph/index.js';
import { Rng } from '../src/util/rng.js';

/** One convolution's geometry (output size included) for FLOP counting. */
export interface ConvSpec {
  name: string;
  cin: number;
  cout: number;
  k: number;
  hout: number;
  wout: number;
}

/** The built classifier: graph with params as initializers, loss name, conv list. */
export interface Resnet18Gn {
  graph: GraphBuilder;
  loss: string;
  convs: ConvSpec[];
  numClasses: number;
}

/** Build the classifier for [1, 3, size, size] images and int64 labels [1]. */
export function resnet18GnClassifier(size: number, numClasses: number, seed = 1): Resnet18Gn {
  const rng = new Rng(seed);
  const g = new GraphBuilder('resnet18_gn');
  const convs: ConvSpec[] = [];
  const images = g.input('images', 'float32', [1, 3, size, size]);
  const labels = g.input('labels', 'int64', [1]);
  let hw = size;

  // kaiming_normal_(mode='fan_out', nonlinearity='relu'), as torchvision's ResNet initialises convs.
  const convW = (cout: number, cin: number, k: number): Tensor =>
    tensor(Float32Array.from({ length: cout * cin * k * k }, () => rng.normal(0, Math.sqrt(2 / (cout * k * k)))), [cout, cin, k, k]);
  const conv = (s: GraphBuilder, x: ValueRef, cin: number, cout: number, k: number, stride: number, padding: number): Value => {
    hw = Math.floor((hw + 2 * padding - k) / stride) + 1;
    convs.push({ name: s.prefix + 'weight', cin, cout, k, hout: hw, wout: hw });
    return conv2d(s, x, { weight: convW(cout, cin, k), stride, padding });
  };
  const gn = (s: GraphBuilder, x: ValueRef, c: number): Value =>
    groupNorm(s, x, 32, tensor(new Float32Array(c).fill(1), [c]), tensor(new Float32Array(c), [c]));
  const relu = (x: ValueRef): Value => g.op('Relu', [x]);

  let x = relu(gn(g.scope('bn1'), conv(g.scope('conv1'), images, 3, 64, 7, 2, 3), 64));
  x = g.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  hw = Math.floor((hw + 2 - 3) / 2) + 1;
  let cin = 64;
  for (let stage = 0; stage < 4; stage++) {
    const planes = 64 * 2 ** stage;
    for (let b = 0; b < 2; b++) {
      const s = g.scope(`layer${stage + 1}`).scope(b);
      const stride = b === 0 && stage > 0 ? 2 : 1;
      const inHw = hw;
      let y = relu(gn(s.scope('bn1'), conv(s.scope('conv1'), x, cin, planes, 3, stride, 1), planes));
      const outHw = hw;
      y = gn(s.scope('bn2'), conv(s.scope('conv2'), y, planes, planes, 3, 1, 1), planes);
      let identity: Value = g.value(x);
      if (stride !== 1 || cin !== planes) {
        const d = s.scope('downsample');
        hw = inHw;
        identity = gn(d.scope(1), conv(d.scope(0), x, cin, planes, 1, stride, 0), planes);
        hw = outHw;
      }
      x = relu(g.op('Add', [y, identity]));
      cin = planes;
    }
  }
  const pooled = g.op('Flatten', [g.op('GlobalAveragePool', [x])], { axis: 1 });
  const bound = 1 / Math.sqrt(512);
  const fcW = tensor(Float32Array.from({ length: numClasses * 512 }, () => rng.uniform(-bound, bound)), [numClasses, 512]);
  const fcB = tensor(Float32Array.from({ length: numClasses }, () => rng.uniform(-bound, bound)), [numClasses]);
  const logits = linear(g.scope('fc'), pooled, fcW, fcB);
  g.output(logits, 'logits');
  return { graph: g, loss: softmaxCrossEntropy(g, logits, labels).name, convs, numClasses };
}

/**
 * Analytic FLOPs of one training step (multiply and add counted as 2): forward convs + fc;
 * backward = weight gradient (same as forward) + input gradient (same as forward) for every layer
 * except conv1, whose input (the image) needs no gradient. Normalisation, ReLU, pooling and the
 * optimizer step are element-wise (under 1% here) and not counted.
 */
export function trainingFlops(net: Resnet18Gn): { forward: number; backward: number } {
  let forward = 2 * 512 * net.numClasses;
  let backward = 2 * forward;
  for (const c of net.convs) {
    const f = 2 * c.cout * c.cin * c.k * c.k * c.hout * c.wout;
    forward += f;
    backward += c.name === 'conv1.weight' ? f : 2 * f;
  }
  return { forward, backward };
}
