import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fixturesDir } from './helpers.js';
import {
  adamwStep,
  adamwStepSync,
  clipGradNorm,
  clipGradNormSync,
  createAdamWState,
  createSgdState,
  sgdStep,
  sgdStepSync,
  sgdStepMany,
  sgdStepManySync,
  type AdamWOptions,
  type SgdOptions,
} from '../src/train/optim.js';
import { Rng } from '../src/util/rng.js';
import { assertClose, f32FromBase64 as f32 } from './close.js';

const load = (name: string) => JSON.parse(readFileSync(path.join(fixturesDir, 'kernels', name), 'utf8'));

interface Trajectory {
  options: Record<string, unknown>;
  param: string;
  grads: string[];
  params: string[];
  finalState: Record<string, string>;
}

test('sgdStepSync follows torch.optim.SGD trajectories (momentum, dampening, nesterov, weight decay, maximize)', () => {
  const fx = load('optim_sgd.json') as { cases: Trajectory[] };
  assert.ok(fx.cases.length >= 7);
  for (const c of fx.cases) {
    const o = c.options;
    const opts: SgdOptions = {
      lr: o.lr as number, momentum: o.momentum as number | undefined, dampening: o.dampening as number | undefined,
      nesterov: o.nesterov as boolean | undefined, weightDecay: o.weight_decay as number | undefined, maximize: o.maximize as boolean | undefined,
    };
    const p = f32(c.param);
    const state = createSgdState();
    c.grads.forEach((g, i) => {
      sgdStepSync(p, f32(g), state, opts);
      assertClose(p, f32(c.params[i]), `SGD ${JSON.stringify(o)} step ${i + 1}`);
    });
    if (c.finalState.momentum_buffer) assertClose(state.momentumBuffer!, f32(c.finalState.momentum_buffer), 'momentum buffer');
    else assert.equal(state.momentumBuffer, null);
  }
});

test('adamwStepSync follows torch.optim.AdamW trajectories (bias correction, decoupled decay, amsgrad, maximize)', () => {
  const fx = load('optim_adamw.json') as { cases: Trajectory[] };
  for (const c of fx.cases) {
    const o = c.options;
    const opts: AdamWOptions = {
      lr: o.lr as number, betas: o.betas as [number, number] | undefined, eps: o.eps as number | undefined,
      weightDecay: o.weight_decay as number | undefined, amsgrad: o.amsgrad as boolean | undefined, maximize: o.maximize as boolean | undefined,
    };
    const p = f32(c.param);
    const state = createAdamWState(p.length, { amsgrad: opts.amsgrad });
    c.grads.forEach((g, i) => {
      adamwStepSync(p, f32(g), state, opts);
      assertClose(p, f32(c.params[i]), `AdamW ${JSON.stringify(o)} step ${i + 1}`);
    });
    assert.equal(state.step, c.grads.length);
    assertClose(state.expAvg, f32(c.finalState.exp_avg), 'exp_avg');
    assertClose(state.expAvgSq, f32(c.finalState.exp_avg_sq), 'exp_avg_sq', 1e-7);
    if (opts.amsgrad) assertClose(state.maxExpAvgSq!, f32(c.finalState.max_exp_avg_sq), 'max_exp_avg_sq', 1e-7);
  }
});

test('clipGradNormSync matches torch.nn.utils.clip_grad_norm_', async () => {
  const fx = load('optim_clip.json') as { cases: { maxNorm: number; grads: string[]; clipped: string[]; totalNorm: number }[] };
  for (const c of fx.cases) {
    const grads = c.grads.map(f32);
    const total = clipGradNormSync(grads, c.maxNorm);
    assert.ok(Math.abs(total - c.totalNorm) <= 1e-5 * c.totalNorm, `total ${total} vs ${c.totalNorm}`);
    grads.forEach((g, i) => assertClose(g, f32(c.clipped[i]), `clipped ${i}`));
    const again = c.grads.map(f32);
    assert.equal(await clipGradNorm(again, c.maxNorm), total);
    assert.deepEqual(again, grads);
  }
  // Infinity norm and errorIfNonfinite.
  const g = [new Float32Array([3, -4]), new Float32Array([1])];
  assert.equal(clipGradNormSync(g, 2, { normType: Infinity }), 4);
  assert.ok(Math.abs(g[0][1] + 4 * (2 / (4 + 1e-6))) < 1e-6);
  const bad = [new Float32Array([1, NaN])];
  assert.throws(() => clipGradNormSync(bad, 1, { errorIfNonfinite: true }), RangeError);
  assert.ok(Number.isNaN(bad[0][1]) && bad[0][0] === 1, 'unchanged after the error');
});

test('results do not depend on the thread count; async equals sync', async () => {
  const rng = new Rng(1);
  const n = 300_001;
  const p0 = new Float32Array(n).map(() => rng.normal());
  const g0 = new Float32Array(n).map(() => rng.normal());
  const run = (threads: number) => {
    const p = p0.slice();
    const st = createAdamWState(n, { amsgrad: true });
    adamwStepSync(p, g0, st, { lr: 1e-2, amsgrad: true, threads });
    adamwStepSync(p, g0, st, { lr: 1e-2, amsgrad: true, threads });
    const q = p0.slice();
    const s2 = createSgdState();
    sgdStepSync(q, g0, s2, { lr: 0.1, momentum: 0.9, nesterov: true, threads });
    const grads = [g0.slice(), g0.slice(0, 12345)];
    const total = clipGradNormSync(grads, 1, { threads });
    return { p, q, total, grads };
  };
  const ref = run(1);
  for (const t of [2, 3, 8]) assert.deepEqual(run(t), ref, `threads ${t}`);
  const p = p0.slice();
  const st = createAdamWState(n, { amsgrad: true });
  await adamwStep(p, g0, st, { lr: 1e-2, amsgrad: true });
  await adamwStep(p, g0, st, { lr: 1e-2, amsgrad: true });
  assert.deepEqual(p, ref.p);
  const q = p0.slice();
  await sgdStep(q, g0, createSgdState(), { lr: 0.1, momentum: 0.9, nesterov: true });
  assert.deepEqual(q, ref.q);
});

test('sgdStepMany: one call over many buffers equals sgdStepSync per buffer, bit for bit, any thread count', async () => {
  const rng = new Rng(9);
  const sizes = [1, 7, 64, 40_000, 100_003, 3];
  const p0 = sizes.map((n) => new Float32Array(n).map(() => rng.normal()));
  const gs = [0, 1, 2].map(() => sizes.map((n) => new Float32Array(n).map(() => rng.normal())));
  const configs: SgdOptions[] = [
    { lr: 0.1 },
    { lr: 0.05, momentum: 0.9 },
    { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4 },
    { lr: 0.05, momentum: 0.5, dampening: 0.3, maximize: true },
  ];
  for (const o of configs) {
    const ref = p0.map((p) => p.slice());
    const refState = sizes.map(() => createSgdState());
    for (const g of gs) ref.forEach((p, i) => sgdStepSync(p, g[i]!, refState[i]!, o));
    for (const threads of [1, 2, 5]) {
      const ps = p0.map((p) => p.slice());
      const st = sizes.map(() => createSgdState());
      for (const [k, g] of gs.entries()) {
        const entries = ps.map((param, i) => ({ param, grad: g[i]!, state: st[i]! }));
        if (k === 1) await sgdStepMany(entries, { ...o, threads });
        else sgdStepManySync(entries, { ...o, threads });
      }
      assert.deepEqual(ps, ref, `${JSON.stringify(o)} threads ${threads}`);
      assert.deepEqual(st, refState);
    }
  }
  // A state restored for some parameters only (mixed first/later momentum steps).
  const ps = p0.map((p) => p.slice());
  const st = sizes.map((n, i) => (i % 2 ? { momentumBuffer: new Float32Array(n).fill(0.5) } : createSgdState()));
  const refP = p0.map((p) => p.slice());
  const refS = st.map((s) => ({ momentumBuffer: s.momentumBuffer && s.momentumBuffer.slice() }));
  refP.forEach((p, i) => sgdStepSync(p, gs[0]![i]!, refS[i]!, { lr: 0.1, momentum: 0.9 }));
  sgdStepManySync(ps.map((param, i) => ({ param, grad: gs[0]![i]!, state: st[i]! })), { lr: 0.1, momentum: 0.9 });
  assert.deepEqual(ps, refP);
  assert.deepEqual(st, refS);
  sgdStepManySync([], { lr: 0.1 });
  const p = new Float32Array(4);
  assert.throws(() => sgdStepManySync([{ param: p, grad: new Float32Array(3), state: createSgdState() }], { lr: 0.1 }), RangeError);
  assert.throws(() => sgdStepManySync([{ param: p, grad: new Float32Array(4), state: createSgdState() }, { param: p, grad: new Float32Array(4), state: createSgdState() }], { lr: 0.1 }), /share memory/);
  assert.throws(() => sgdStepManySync([{ param: p, grad: new Float32Array(4), state: createSgdState() }], { lr: -1 }), /lr/);
  await assert.rejects(async () => sgdStepMany([{ param: [1] as unknown as Float32Array, grad: p, state: createSgdState() }], { lr: 0.1 }), TypeError);
});

test('validation: TypeError / RangeError naming the argument', async () => {
  const p = new Float32Array(4);
  const g = new Float32Array(4);
  const cases: [() => unknown, ErrorConstructor, RegExp][] = [
    [() => sgdStepSync([1, 2] as unknown as Float32Array, g, createSgdState(), { lr: 0.1 }), TypeError, /param/],
    [() => sgdStepSync(p, new Float32Array(3), createSgdState(), { lr: 0.1 }), RangeError, /grad length/],
    [() => sgdStepSync(p, g, createSgdState(), { lr: -1 }), RangeError, /lr/],
    [() => sgdStepSync(p, g, createSgdState(), { lr: NaN }), RangeError, /lr/],
    [() => sgdStepSync(p, g, createSgdState(), {} as SgdOptions), TypeError, /lr/],
    [() => sgdStepSync(p, g, createSgdState(), { lr: 0.1, nesterov: true }), RangeError, /nesterov/],
    [() => sgdStepSync(p, g, createSgdState(), { lr: 0.1, momentum: Infinity }), RangeError, /momentum/],
    [() => sgdStepSync(p, g, { momentumBuffer: new Float32Array(2) }, { lr: 0.1, momentum: 0.9 }), RangeError, /momentumBuffer length/],
    [() => sgdStepSync(p, p, createSgdState(), { lr: 0.1 }), RangeError, /share memory/],
    [() => sgdStepSync(p, g, createSgdState(), { lr: 0.1, threads: -2 }), RangeError, /threads/],
    [() => adamwStepSync(p, g, createAdamWState(3), {}), RangeError, /expAvg length/],
    [() => adamwStepSync(p, g, createAdamWState(4), { betas: [1, 0.999] }), RangeError, /beta1/],
    [() => adamwStepSync(p, g, createAdamWState(4), { betas: [0.9, -0.1] }), RangeError, /beta2/],
    [() => adamwStepSync(p, g, createAdamWState(4), { eps: -1 }), RangeError, /eps/],
    [() => adamwStepSync(p, g, createAdamWState(4), { weightDecay: NaN }), RangeError, /weightDecay/],
    [() => adamwStepSync(p, g, createAdamWState(4), { amsgrad: true }), TypeError, /maxExpAvgSq/],
    [() => adamwStepSync(p, g, createAdamWState(4), { lr: '1' as unknown as number }), TypeError, /lr/],
    [() => adamwStepSync(p, g, { ...createAdamWState(4), step: 1.5 }, {}), RangeError, /step/],
    [() => adamwStepSync(p, g, { ...createAdamWState(4), expAvg: p }, {}), RangeError, /share memory/],
    [() => adamwStepSync(p, new Float32Array(p.buffer, 4, 4 - 1) as Float32Array, createAdamWState(4), {}), RangeError, /grad length/],
    [() => clipGradNormSync(p as unknown as Float32Array[], 1), TypeError, /grads/],
    [() => clipGradNormSync([p, new Float64Array(2) as unknown as Float32Array], 1), TypeError, /grads\[1\]/],
    [() => clipGradNormSync([p], -1), RangeError, /maxNorm/],
    [() => clipGradNormSync([p], 1, { normType: 1 }), RangeError, /normType/],
    [() => clipGradNormSync([p, p], 1), RangeError, /share memory/],
  ];
  for (const [fn, type, re] of cases) assert.throws(fn, (e: Error) => e instanceof type && re.test(e.message), String(fn));
  await assert.rejects(adamwStep(p, g, createAdamWState(3)), /expAvg length/);
  await assert.rejects(clipGradNorm([p], 1, { normType: 3 }), RangeError);
});

test('fuzz: 5000 malformed optimizer calls throw TypeError/RangeError and the process stays alive', () => {
  const rng = new Rng(5);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rng.next() * xs.length)];
  const junk = () => pick<unknown>([undefined, null, 0, -1, 0.5, 1, NaN, Infinity, 'x', {}, [], true,
    new Float32Array(3), new Float32Array(4), new Float64Array(4), new Int32Array(4), [new Float32Array(2)]]);
  let threw = 0;
  for (let i = 0; i < 5000; i++) {
    const p = new Float32Array(4);
    const which = Math.floor(rng.next() * 3);
    try {
      if (which === 0) {
        sgdStepSync(rng.next() < 0.7 ? p : (junk() as Float32Array), rng.next() < 0.7 ? new Float32Array(4) : (junk() as Float32Array),
          rng.next() < 0.7 ? createSgdState() : ({ momentumBuffer: junk() } as never),
          { lr: rng.next() < 0.5 ? 0.1 : (junk() as number), momentum: junk() as number, nesterov: junk() as boolean, weightDecay: junk() as number });
      } else if (which === 1) {
        const st = createAdamWState(4);
        if (rng.next() < 0.5) (st as unknown as Record<string, unknown>)[pick(['expAvg', 'expAvgSq', 'step', 'maxExpAvgSq'])] = junk();
        adamwStepSync(p, rng.next() < 0.7 ? new Float32Array(4) : (junk() as Float32Array), st,
          { lr: junk() as number, betas: pick([[0.9, 0.999], junk(), [junk(), junk()]]) as [number, number], eps: junk() as number, amsgrad: junk() as boolean });
      } else {
        clipGradNormSync(pick([[p], junk(), [junk(), p]]) as Float32Array[], junk() as number, { normType: junk() as number, errorIfNonfinite: junk() as boolean });
      }
    } catch (e) {
      assert.ok(e instanceof TypeError || e instanceof RangeError, `unexpected ${e}`);
      threw++;
    }
  }
  assert.ok(threw > 3500, `threw ${threw}`);
});
