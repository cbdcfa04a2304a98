/**
 * Structure of the gradient graph: pruning of paths that reach no trainable parameter,
 * accumulation for shared values, seeds for chained segments, and error messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../src/graph/builder.js';
import { groupNorm } from '../src/graph/blocks.js';
import { gradTuning } from '../src/graph/grad/tuning.js';
import { buildGradient } from '../src/graph/autodiff.js';
import { gradCheck } from '../src/graph/gradcheck.js';
import { runGraph } from '../src/graph/ort.js';
import { type Tensor, tensor } from '../src/graph/values.js';
import { Rng } from '../src/util/rng.js';

function rand(dims: number[], seed: number): Tensor {
  const rng = new Rng(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  return tensor(Float64Array.from({ length: n }, () => rng.normal()), dims);
}

function twoBranchGraph(): { g: GraphBuilder; loss: ReturnType<GraphBuilder['op']> } {
  const g = new GraphBuilder('branches');
  const x = g.input('x', 'float64', [2, 3]);
  const frozen = g.param('frozen.weight', rand([3], 1));
  const trained = g.param('trained.weight', rand([3], 2));
  // Erf has no gradient rule: differentiating through it must fail, pruning it must not.
  const a = g.op('Erf', [g.op('Mul', [x, frozen])], {}, { name: 'frozen_branch' });
  const b = g.op('Tanh', [g.op('Mul', [x, trained])]);
  const loss = g.op('ReduceSum', [g.op('Add', [a, b])], { keepdims: 0 });
  return { g, loss };
}

test('paths that reach no trainable parameter are pruned', () => {
  const { g, loss } = twoBranchGraph();
  const before = g.nodes.length;
  const grads = buildGradient(g, { loss, params: ['trained.weight'] });
  const added = g.nodes.slice(before);
  assert.ok(grads.get('trained.weight'));
  assert.ok(!added.some((n) => n.inputs.includes('frozen.weight')), 'no gradient node reads the frozen parameter');
  assert.ok(!added.some((n) => n.opType === 'Erf'), 'no gradient work for the frozen branch');
  // Gradient of the loss w.r.t. the x input is not requested either: only Tanh, Mul, Add, ReduceSum paths.
  assert.ok(added.length <= 12, `gradient graph has ${added.length} nodes`);
});

test('differentiating through an op without a rule names the node and op', () => {
  const { g, loss } = twoBranchGraph();
  assert.throws(() => buildGradient(g, { loss, params: ['frozen.weight'] }), /node frozen_branch \(Erf\): no gradient rule for op Erf/);
});

test('a non-scalar loss and unknown parameter names are rejected with their names', () => {
  const { g } = twoBranchGraph();
  const x = g.value('x');
  assert.throws(() => buildGradient(g, { loss: x, params: ['trained.weight'] }), /loss x must be a scalar, got shape \[2,3\]/);
  const { g: g2, loss } = twoBranchGraph();
  assert.throws(() => buildGradient(g2, { loss, params: ['nope'] }), /no value named 'nope'/);
});

test('a parameter used twice accumulates both gradients (shared weights)', async () => {
  const res = await gradCheck({
    seed: 5,
    build: (g) => {
      const w = g.param('shared.weight', rand([3, 3], 3));
      const x1 = g.constant(rand([2, 3], 4));
      const h = g.op('Tanh', [g.op('MatMul', [x1, w])]);
      return g.op('MatMul', [h, w]); // w used by two MatMuls
    },
  });
  assert.ok(res.maxRelErr < 1e-6, JSON.stringify(res.entries));
  const g = new GraphBuilder();
  const w = g.param('w', rand([3, 3], 3));
  const y = g.op('MatMul', [g.op('MatMul', [g.constant(rand([2, 3], 4)), w]), w]);
  const loss = g.op('ReduceSum', [y], { keepdims: 0 });
  const before = g.nodes.length;
  buildGradient(g, { loss, params: ['w'] });
  // Two contributions accumulate with one Add (three or more with one Sum).
  assert.equal(g.nodes.slice(before).filter((n) => n.name.includes('Accumulate_grad')).length, 1, 'one accumulation node');
});

/** mean/var normalization over `axes` from basic ops, as groupNorm() emits it; `extra` uses std a second time. */
function normalize(g: GraphBuilder, x: ReturnType<GraphBuilder['op']>, axes: number[], extra: boolean): ReturnType<GraphBuilder['op']> {
  const mean = g.op('ReduceMean', [x], { axes, keepdims: 1 });
  const c = g.op('Sub', [x, mean]);
  const std = g.op('Sqrt', [g.op('Add', [g.op('ReduceMean', [g.op('Mul', [c, c])], { axes, keepdims: 1 }), g.scalar(1e-5, 'float64')])]);
  const n = g.op('Div', [c, std]);
  return extra ? g.op('Add', [n, g.op('Mul', [std, g.scalar(0.3, 'float64')])]) : n;
}

test('normalizations built from basic ops get the closed-form gradient (five full-size nodes), matching finite differences', async () => {
  const cases: [string, (g: GraphBuilder) => ReturnType<GraphBuilder['op']>, boolean][] = [
    ['GroupNorm', (g) => g.op('Tanh', [groupNorm(g.scope('gn'), g.param('x', rand([2, 4, 3, 3], 11)), 2, rand([4], 12), rand([4], 13))]), true],
    ['LayerNorm over the last axis', (g) => g.op('Tanh', [normalize(g, g.op('Mul', [g.param('x', rand([3, 5], 14)), g.param('s', rand([5], 15))]), [-1], false)]), true],
    ['std also used elsewhere (not fused)', (g) => g.op('Tanh', [normalize(g, g.op('Mul', [g.param('x', rand([3, 5], 16)), g.param('s', rand([5], 17))]), [1], true)]), false],
  ];
  for (const [name, build, fused] of cases) {
    const res = await gradCheck({ seed: 21, build });
    assert.ok(res.maxRelErr < 1e-6, `${name}: ${JSON.stringify(res.entries)}`);
    const g = new GraphBuilder();
    const loss = g.op('ReduceSum', [build(g)], { keepdims: 0 });
    const before = g.nodes.length;
    buildGradient(g, { loss, params: g.paramNames });
    const added = g.nodes.slice(before);
    assert.equal(added.some((n) => n.opType === 'Neg'), !fused, `${name}: ${added.map((n) => n.opType).join(' ')}`);
  }
  // The switch restores the node-by-node chain rule (same gradient).
  gradTuning.fuseNormalizations = false;
  try {
    const res = await gradCheck({ seed: 21, build: cases[0]![1] });
    assert.ok(res.maxRelErr < 1e-6);
  } finally {
    gradTuning.fuseNormalizations = true;
  }
});

test('seeded segments chain: grad of segment 1 fed with grad.<output> from segment 2 equals the whole-graph gradient', async () => {
  const p0 = rand([4], 7);
  const xT = rand([3, 4], 8);
  // Whole graph: loss = Σ o² with o = tanh(x·p).
  const whole = new GraphBuilder('whole');
  const x = whole.input('x', 'float64', [3, 4]);
  const p = whole.param('p', p0);
  const o = whole.op('Tanh', [whole.op('Mul', [x, p])]);
  const loss = whole.op('ReduceSum', [whole.op('Mul', [o, o])], { keepdims: 0 });
  const gw = buildGradient(whole, { loss, params: ['p'] });
  whole.output(gw.get('p')!, 'grad.p');
  const ref = (await runGraph(whole, { x: xT }))['grad.p']!;

  // Segment 2: loss of o (o as an input needing a gradient).
  const s2 = new GraphBuilder('seg2');
  const o2 = s2.input('o', 'float64', [3, 4]);
  const l2 = s2.op('ReduceSum', [s2.op('Mul', [o2, o2])], { keepdims: 0 });
  const g2 = buildGradient(s2, { loss: l2, params: [], inputs: ['o'] });
  s2.output(g2.get('o')!, 'grad.o');
  // Segment 1: forward o, takes grad.o as a seed.
  const s1 = new GraphBuilder('seg1');
  const x1 = s1.input('x', 'float64', [3, 4]);
  const o1 = s1.op('Tanh', [s1.op('Mul', [x1, s1.param('p', p0)])], {}, { outputs: ['o'] });
  const seed = s1.input('grad.o', 'float64', [3, 4]);
  const g1 = buildGradient(s1, { params: ['p'], seeds: { [o1.name]: seed } });
  s1.output(o1);
  s1.output(g1.get('p')!, 'grad.p');

  const oVal = (await runGraph(s1, { x: xT, 'grad.o': tensor(new Float64Array(12), [3, 4]) }))['o']!;
  const gradO = (await runGraph(s2, { o: oVal }))['grad.o']!;
  const chained = (await runGraph(s1, { x: xT, 'grad.o': gradO }))['grad.p']!;
  for (let i = 0; i < 4; i++) assert.ok(Math.abs((chained.data[i] as number) - (ref.data[i] as number)) < 1e-12, `grad.p[${i}]`);
});

test('a parameter the loss does not use gets a zero gradient', async () => {
  const g = new GraphBuilder();
  const used = g.param('used', rand([2], 1));
  g.param('unused', rand([3], 2));
  const loss = g.op('ReduceSum', [g.op('Mul', [used, used])], { keepdims: 0 });
  const grads = buildGradient(g, { loss, params: ['used', 'unused'] });
  g.output(grads.get('unused')!, 'grad.unused');
  const out = await runGraph(g, {});
  assert.deepEqual(Array.from(out['grad.unused']!.data as Float64Array), [0, 0, 0]);
});

test('a segment with both its own loss and a seed on an output differentiates loss + ⟨seed, output⟩', async () => {
  const p0 = rand([3], 11);
  const xT = rand([2, 3], 12);
  const seedT = rand([2, 3], 13);
  const build = (): { g: GraphBuilder; o: ReturnType<GraphBuilder['op']>; own: ReturnType<GraphBuilder['op']> } => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float64', [2, 3]);
    const o = g.op('Sigmoid', [g.op('Mul', [x, g.param('p', p0)])]);
    const own = g.op('ReduceMean', [g.op('Exp', [o])], { keepdims: 0 });
    return { g, o, own };
  };
  const a = build();
  const seed = a.g.input('grad.o', 'float64', [2, 3]);
  a.g.output(buildGradient(a.g, { loss: a.own, params: ['p'], seeds: { [a.o.name]: seed } }).get('p')!, 'grad.p');
  const b = build();
  const total = b.g.op('Add', [b.own, b.g.op('ReduceSum', [b.g.op('Mul', [b.o, b.g.constant(seedT)])], { keepdims: 0 })]);
  b.g.output(buildGradient(b.g, { loss: total, params: ['p'] }).get('p')!, 'grad.p');
  const ga = (await runGraph(a.g, { x: xT, 'grad.o': seedT }))['grad.p']!;
  const gb = (await runGraph(b.g, { x: xT }))['grad.p']!;
  for (let i = 0; i < 3; i++) assert.ok(Math.abs((ga.data[i] as number) - (gb.data[i] as number)) < 1e-12, `grad.p[${i}]`);
});
