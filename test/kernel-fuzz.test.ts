/**
 * Fuzz: thousands of random, mostly malformed calls to the NMS and box-op kernels (raw native
 * entry points and the typed wrappers). Every call must return or throw a TypeError/RangeError
 * (reject, for the async ones); the process must stay alive and keep giving right answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../src/native.js';
import { Rng } from '../src/util/rng.js';
import { nmsSync } from '../src/detection/nms.js';

const syncNames = ['nmsSync', 'batchedNmsSync', 'boxIouSync', 'encodeBoxesSync', 'decodeBoxesSync'];
const asyncNames = ['nms', 'batchedNms', 'boxIou', 'encodeBoxes', 'decodeBoxes'];
type AnyFn = (...a: unknown[]) => unknown;
const fns = native as unknown as Record<string, AnyFn>;

function randomValue(rng: Rng): unknown {
  const k = rng.int(0, 22);
  const len = rng.int(0, 3) === 0 ? rng.int(0, 40) : 4 * rng.int(0, 8);
  const floats = () => {
    const a = new Float32Array(len);
    for (let i = 0; i < len; i++) {
      const r = rng.next();
      a[i] = r < 0.03 ? NaN : r < 0.06 ? Infinity : r < 0.08 ? -Infinity : rng.uniform(-50, 150);
    }
    return a;
  };
  switch (k) {
    case 0: return undefined;
    case 1: return null;
    case 2: return NaN;
    case 3: return Infinity;
    case 4: return rng.uniform(-2, 2);
    case 5: return rng.int(-5, 5000);
    case 6: return '0.5';
    case 7: return {};
    case 8: return [1, 1, 1, 1];
    case 9: return new Float64Array(len);
    case 10: return Int32Array.from({ length: rng.int(0, 12) }, () => rng.int(-3, 3));
    case 11: return new Uint8Array(len);
    case 12: return 10n;
    case 13: return Symbol('x');
    case 14: return () => 1;
    case 15: return true;
    case 16: return 1e300;
    case 17: return -0;
    case 18: return { topK: 1 };
    case 19: {
      const buf = new ArrayBuffer(4 * len);
      structuredClone(buf, { transfer: [buf] }); // detached
      return new Float32Array(0);
    }
    case 20: return new Float32Array(new ArrayBuffer(64), 4, len > 12 ? 12 : len);
    default: return floats();
  }
}

function checkError(e: unknown, where: string): void {
  assert.ok(e instanceof TypeError || e instanceof RangeError, `${where}: ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
}

test('5000 random malformed calls: only TypeError/RangeError, the process stays alive', async () => {
  const rng = new Rng(2024);
  let threw = 0, returned = 0;
  const pending: Promise<void>[] = [];
  for (let iter = 0; iter < 5000; iter++) {
    const isAsync = rng.int(0, 4) === 0;
    const name = (isAsync ? asyncNames : syncNames)[rng.int(0, 4)]!;
    const args = Array.from({ length: rng.int(0, 7) }, () => randomValue(rng));
    // half the time make the first arguments plausible so that later checks are reached
    if (rng.next() < 0.5) {
      const n = rng.int(0, 6);
      const boxes = Float32Array.from({ length: 4 * n }, () => rng.uniform(0, 100));
      args[0] = boxes;
      if (rng.next() < 0.7) args[1] = name.startsWith('nms') || name.startsWith('batched') ? new Float32Array(n) : boxes;
      if (name.startsWith('batched') && rng.next() < 0.7) args[2] = new Int32Array(n);
    }
    const where = `${name}(${args.map((a) => (ArrayBuffer.isView(a) ? `${a.constructor.name}[${(a as Float32Array).length}]` : typeof a)).join(', ')})`;
    try {
      const r = fns[name]!(...args);
      returned++;
      if (r instanceof Promise) pending.push(r.then(() => undefined, (e) => checkError(e, where)));
    } catch (e) {
      threw++;
      checkError(e, where);
    }
  }
  await Promise.all(pending);
  assert.ok(threw > 2000, `most calls are malformed (threw ${threw})`);
  assert.ok(returned > 100, `some calls are valid (returned ${returned})`);
  // still alive and still right
  assert.deepEqual(Array.from(nmsSync(new Float32Array([0, 0, 10, 10, 1, 1, 10, 10]), new Float32Array([0.5, 0.6]), 0.5)), [1]);
});
