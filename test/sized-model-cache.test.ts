/**
 * SizedModelCache with stand-in models: which size holds the memory arena, least-recently-used
 * eviction, the takeover by a size used more often, and that every model built is released once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SizedModelCache, TAKEOVER_MARGIN, TAKEOVER_RATIO } from '../src/train/sized-model-cache.js';

interface Fake {
  key: string;
  arena: boolean;
  released: boolean;
}

function fakeCache(capacity: number, arena = true) {
  const built: Fake[] = [];
  const failing = new Set<string>();
  const cache = new SizedModelCache<Fake>({
    capacity,
    arena,
    build: async (dims, withArena) => {
      if (failing.has(dims.join('x'))) throw new Error(`cannot build ${dims.join('x')}`);
      const m = { key: dims.join('x'), arena: withArena, released: false };
      built.push(m);
      return m;
    },
    release: async (m) => {
      assert.equal(m.released, false, `${m.key} released twice`);
      m.released = true;
    },
  });
  /** Get each [h, w] at batch 1; returns `key:A` (arena) or `key:-` per call. */
  const use = async (...sizes: [number, number][]) => {
    const out: string[] = [];
    for (const [h, w] of sizes) {
      const m = await cache.get([1, h, w]);
      assert.equal(m.released, false);
      out.push(`${h}x${w}:${m.arena ? 'A' : '-'}`);
    }
    return out;
  };
  return { cache, built, failing, use };
}

const L: [number, number] = [480, 640], P: [number, number] = [640, 480], S: [number, number] = [512, 512];

test('the first size built holds the arena; others run without; cached models are reused', async () => {
  const { cache, built, use } = fakeCache(3);
  assert.deepEqual(await use(L, P, L, P, S), ['480x640:A', '640x480:-', '480x640:A', '640x480:-', '512x512:-']);
  assert.equal(built.length, 3);
  assert.deepEqual(cache.sizes, [{ key: '1x480x640', arena: true }, { key: '1x640x480', arena: false }, { key: '1x512x512', arena: false }]);
  await cache.clear();
  assert.ok(built.every((m) => m.released));
});

test('least recently used size is released at capacity; the next size built after the holder leaves gets the arena', async () => {
  const { built, use } = fakeCache(2);
  assert.deepEqual(await use(L, P, S), ['480x640:A', '640x480:-', '512x512:A']);
  assert.deepEqual(built.map((m) => m.released), [true, false, false]);
  // L comes back: built again, without the arena (S holds it), and P (least recent) goes.
  assert.deepEqual(await use(L), ['480x640:-']);
  assert.deepEqual(built.map((m) => m.released), [true, true, false, false]);
});

test('a size used often enough takes the arena over, once, and it does not move back and forth', async () => {
  const { built, use } = fakeCache(3);
  // P first, then L every time: L takes over at its use number ceil(1.5·1 + 4) = 6.
  const threshold = Math.ceil(TAKEOVER_RATIO * 1 + TAKEOVER_MARGIN);
  const got = await use(P, ...Array.from({ length: threshold }, () => L));
  assert.deepEqual(got, ['640x480:A', ...Array.from({ length: threshold - 1 }, () => '480x640:-'), '480x640:A']);
  // The old holder was released with L's arena-less models; P is rebuilt without the arena.
  assert.deepEqual(built.map((m) => [m.key, m.arena, m.released]), [['1x640x480', true, true], ['1x480x640', false, true], ['1x480x640', true, false]]);
  assert.deepEqual(await use(P), ['640x480:-']);
  // Two P for each L afterwards does not win it back soon: P needs 1.5 × L's uses + 4.
  const mixed = await use(P, L, P, P, L, P);
  assert.ok(mixed.every((m) => m.endsWith(m.startsWith('480x640') ? ':A' : ':-')), mixed.join(' '));
  assert.equal(built.length, 4);
});

test('a size evicted after the holder changed takes the arena over when it comes back', async () => {
  const { built, use } = fakeCache(3);
  const S1: [number, number] = [256, 256], S2: [number, number] = [384, 384], S3: [number, number] = [448, 448];
  // S2 gets the arena when it evicts P; S3 evicts L; L comes back with 6 uses against S2's 1.
  const got = await use(P, L, L, L, L, L, S1, S2, S3, L);
  assert.deepEqual(got, ['640x480:A', ...Array.from({ length: 5 }, () => '480x640:-'), '256x256:-', '384x384:A', '448x448:-', '480x640:A']);
  assert.equal(built.length, 6, 'L built once more, with the arena, not twice');
  assert.deepEqual(built.filter((m) => m.released).map((m) => m.key), ['1x640x480', '1x480x640', '1x384x384']);
});

test('capacity 1: every size built gets the arena', async () => {
  const { built, use } = fakeCache(1);
  assert.deepEqual(await use(P, L, P), ['640x480:A', '480x640:A', '640x480:A']);
  assert.deepEqual(built.map((m) => m.released), [true, true, false]);
});

test('a build that fails leaves nothing half cached; the next size built gets the arena', async () => {
  const { cache, built, failing, use } = fakeCache(3);
  await use(P, L, L, L, L, L);
  failing.add('1x480x640');
  // L's 6th use takes the arena over: P and L's arena-less models are released, then the build fails.
  await assert.rejects(use(L), /cannot build 1x480x640/);
  assert.deepEqual(cache.sizes, []);
  assert.ok(built.every((m) => m.released));
  failing.clear();
  assert.deepEqual(await use(S), ['512x512:A']);
});

test('onBuild reports every build with its shape and arena, the takeover rebuild included', async () => {
  const reported: string[] = [];
  const cache = new SizedModelCache<Fake>({
    capacity: 3,
    arena: true,
    build: async (dims, arena) => ({ key: dims.join('x'), arena, released: false }),
    release: async (m) => void (m.released = true),
    onBuild: ({ dims, arena, seconds }) => {
      assert.ok(seconds >= 0);
      reported.push(`${dims.join('x')}:${arena ? 'A' : '-'}`);
    },
  });
  for (const dims of [P, ...Array.from({ length: 6 }, () => L)]) await cache.get([1, ...dims]);
  assert.deepEqual(reported, ['1x640x480:A', '1x480x640:-', '1x480x640:A']);
});

test('lowMemory: no size ever gets the arena, however often used', async () => {
  const { built, use } = fakeCache(3, false);
  const got = await use(...Array.from({ length: 12 }, () => L), P);
  assert.ok(got.every((m) => m.endsWith(':-')));
  assert.equal(built.length, 2);
  assert.throws(() => new SizedModelCache<Fake>({ capacity: 0, arena: true, build: async () => built[0]!, release: async () => {} }), /capacity must be a positive integer/);
});
