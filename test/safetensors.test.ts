// safetensors: byte-exact writer (reference implementation's own test vectors), strict reader,
// and interop both ways with an independent Python reader/writer (scripts/make_safetensors_fixture.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors, SafetensorsError } from '../src/io/safetensors.js';
import { bytesOf, type HostTensor } from '../src/io/tensor.js';
import { fixturesDir, hasPythonModules, need, repoRoot, scratchDir, systemPython } from './helpers.js';

const fixtures = path.join(fixturesDir, 'train');
const script = path.join(repoRoot, 'scripts', 'make_safetensors_fixture.py');

interface Expected {
  dtype: string;
  shape: number[];
  hex?: string;
  values: (number | string | boolean)[];
}

/** Our typed-array elements as the Python side writes them (non-finite and 64-bit ints as strings). */
function jsonValues(t: HostTensor): (number | string | boolean)[] {
  if (t.dtype === 'F16' || t.dtype === 'BF16') throw new Error('raw 16-bit floats are compared by bytes');
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => {
    if (typeof v === 'bigint') return v.toString();
    if (t.dtype === 'BOOL') return v === 1;
    if (Number.isNaN(v)) return 'nan';
    if (v === Infinity) return 'inf';
    if (v === -Infinity) return '-inf';
    return v;
  });
}

function hex(t: HostTensor): string {
  return Buffer.from(bytesOf(t.data)).toString('hex');
}

function fileBytes(header: string, data: number[] = [], declaredLength?: number): Uint8Array {
  const h = Buffer.from(header, 'utf8');
  const out = Buffer.alloc(8 + h.length + data.length);
  out.writeBigUInt64LE(BigInt(declaredLength ?? h.length), 0);
  h.copy(out, 8);
  Buffer.from(data).copy(out, 8 + h.length);
  return out;
}

test('writer reproduces the reference implementation test vectors byte for byte', () => {
  const six = { dtype: 'F32', data: Float32Array.from([0, 1, 2, 3, 4, 5]) } as const;
  const out = serializeSafetensors({ 'attn.0': { ...six, shape: [1, 2, 3] } });
  const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
  assert.equal(header.length, 64); // no padding needed
  assert.deepEqual(Buffer.from(out), Buffer.concat([fileBytes(header), Buffer.from(bytesOf(six.data))]));

  const padded = serializeSafetensors({ attn0: { ...six, shape: [1, 1, 2, 3] } });
  assert.equal(new DataView(padded.buffer).getUint32(0, true), 72);
  assert.equal(Buffer.from(padded.subarray(8, 80)).toString(), '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ');

  assert.deepEqual([...serializeSafetensors({})], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
  const withMeta = serializeSafetensors({}, { framework: 'pt' });
  assert.equal(Buffer.from(withMeta.subarray(8)).toString(), '{"__metadata__":{"framework":"pt"}}     ');
  assert.equal(withMeta[0], 40);
});

test('reads the Python-written files (reference layout and unaligned) with exact values', async () => {
  const expected = JSON.parse(readFileSync(path.join(fixtures, 'python-expected.json'), 'utf8')) as {
    metadata: Record<string, string>;
    tensors: Record<string, Expected>;
  };
  for (const file of ['python-aligned.safetensors', 'python-unaligned.safetensors']) {
    const { tensors, metadata } = await readSafetensors(path.join(fixtures, file));
    assert.deepEqual(metadata, expected.metadata, file);
    assert.deepEqual([...tensors.keys()].sort(), Object.keys(expected.tensors).sort(), file);
    for (const [name, e] of Object.entries(expected.tensors)) {
      const t = tensors.get(name)!;
      assert.equal(t.dtype, e.dtype, `${file} ${name}`);
      assert.deepEqual(t.shape, e.shape, `${file} ${name}`);
      assert.equal(hex(t), e.hex, `${file} ${name} bytes`);
      if (e.dtype !== 'F16' && e.dtype !== 'BF16') assert.deepEqual(jsonValues(t), e.values, `${file} ${name}`);
    }
    assert.ok(tensors.get('conv.weight')!.data instanceof Float32Array);
    assert.equal(tensors.get('scalar')!.data[0], 2.5);
  }
});

test('rewriting the Python reference-layout file gives the identical bytes', async () => {
  const file = path.join(fixtures, 'python-aligned.safetensors');
  const { tensors, metadata } = await readSafetensors(file);
  const ours = serializeSafetensors(tensors, metadata);
  assert.deepEqual(Buffer.from(ours), readFileSync(file));
});

test('views are zero-copy where aligned and copies where not', () => {
  const aligned = readFileSync(path.join(fixtures, 'python-aligned.safetensors'));
  const t = parseSafetensors(aligned).tensors.get('conv.weight')!;
  assert.equal(t.data.buffer, aligned.buffer);
  const unaligned = readFileSync(path.join(fixtures, 'python-unaligned.safetensors'));
  const u = parseSafetensors(unaligned).tensors.get('double')!;
  assert.ok(u.data instanceof Float64Array);
  assert.equal(u.data[0], Math.PI);
});

function jsTensors(): Record<string, HostTensor> {
  return {
    'backbone.body.conv1.weight': { dtype: 'F32', shape: [2, 2, 1, 1], data: Float32Array.from([0.1, -2.5, NaN, -Infinity]) },
    'param/x': { dtype: 'F64', shape: [3], data: Float64Array.from([1 / 3, -0, 1e308]) },
    half: { dtype: 'F16', shape: [2], data: Uint16Array.from([0x3c00, 0xc000]) }, // 1, -2
    bf: { dtype: 'BF16', shape: [2], data: Uint16Array.from([0x3f80, 0x4049]) }, // 1, 3.140625
    big: { dtype: 'I64', shape: [2], data: BigInt64Array.from([-(2n ** 63n), 2n ** 62n + 1n]) },
    i32: { dtype: 'I32', shape: [1, 2], data: Int32Array.from([-7, 2 ** 31 - 1]) },
    i16: { dtype: 'I16', shape: [1], data: Int16Array.from([-300]) },
    i8: { dtype: 'I8', shape: [2], data: Int8Array.from([-1, 5]) },
    u8: { dtype: 'U8', shape: [3], data: Uint8Array.from([9, 0, 200]) },
    flags: { dtype: 'BOOL', shape: [3], data: Uint8Array.from([1, 0, 1]) },
    s: { dtype: 'F32', shape: [], data: Float32Array.from([4]) },
    none: { dtype: 'I32', shape: [2, 0], data: new Int32Array(0) },
    '10': { dtype: 'U8', shape: [1], data: Uint8Array.of(10) }, // integer-like names keep their place
    '9': { dtype: 'U8', shape: [1], data: Uint8Array.of(9) },
  };
}

test('Python (torch) reads our file with the same values, in the reference order', async (t) => {
  if (!need(t, hasPythonModules(['torch']), `${systemPython} with torch`)) return;
  const dir = scratchDir('st-');
  const file = path.join(dir, 'ours.safetensors');
  const tensors = jsTensors();
  await writeSafetensors(file, tensors, { framework: 'hpa-detect', 'ü': 'ß"\n', '7': 'x' });
  const r = spawnSync(systemPython, [script, 'check', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const seen = JSON.parse(r.stdout) as { metadata: Record<string, string>; order: string[]; tensors: Record<string, Expected> };
  assert.deepEqual(seen.metadata, { framework: 'hpa-detect', 'ü': 'ß"\n', '7': 'x' });
  assert.deepEqual(seen.order, ['big', 'param/x', 'backbone.body.conv1.weight', 's', 'i32', 'none', 'bf', 'half', 'i16', 'i8', '10', '9', 'u8', 'flags']);
  for (const [name, ours] of Object.entries(tensors)) {
    const theirs = seen.tensors[name]!;
    assert.equal(theirs.dtype, ours.dtype, name);
    assert.deepEqual(theirs.shape, ours.shape, name);
    if (ours.dtype === 'F16' || ours.dtype === 'BF16') assert.deepEqual(theirs.values, ours.dtype === 'F16' ? [1, -2] : [1, 3.140625], name);
    else assert.deepEqual(theirs.values, jsonValues(ours), name);
  }
});

test('round trip through a file keeps dtype, shape, bytes and metadata; no temp file left', async () => {
  const dir = scratchDir('st-');
  const file = path.join(dir, 'x.safetensors');
  await writeSafetensors(file, jsTensors(), { a: '1' });
  const back = await readSafetensors(file);
  assert.deepEqual(back.metadata, { a: '1' });
  for (const [name, t] of Object.entries(jsTensors())) {
    const b = back.tensors.get(name)!;
    assert.equal(b.dtype, t.dtype);
    assert.deepEqual(b.shape, t.shape);
    assert.equal(hex(b), hex(t), name);
  }
  assert.deepEqual(readdirSync(dir), ['x.safetensors']);
});

test('writer rejects bad tensors naming them', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }, /tensor "w": data has 2 elements, shape \[3\] needs 3/],
    [{ w: { dtype: 'F32', shape: [2], data: new Float64Array(2) } }, /tensor "w": data for dtype F32 must be a Float32Array, got Float64Array/],
    [{ w: { dtype: 'F8', shape: [2], data: new Uint8Array(2) } }, /tensor "w": dtype "F8"/],
    [{ w: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } }, /tensor "w": shape must be/],
    [{ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }, /reserved/],
  ];
  for (const [tensors, re] of bad) assert.throws(() => serializeSafetensors(tensors as Record<string, HostTensor>), re);
  assert.throws(() => serializeSafetensors({}, { k: 3 as unknown as string }), /__metadata__\["k"\] must be a string/);
});

test('reader rejects malformed files with errors naming the tensor and field', () => {
  const f32 = (offsets: string, shape = '[2]') => `{"w":{"dtype":"F32","shape":${shape},"data_offsets":${offsets}}}`;
  const eight = [0, 0, 128, 63, 0, 0, 0, 64];
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(5), /5 bytes, shorter than the 8-byte header length/],
    [fileBytes('{}', [], 200_000_000), /exceeds the 100000000-byte limit/],
    [fileBytes('{}', [], 40), /header length 40 runs past the end/],
    [fileBytes('[1,2]'), /must start with "\{"/],
    [fileBytes('{"w":'), /not valid JSON/],
    [fileBytes(Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1')).map((b, i) => (i === 9 ? 0xff : b)), /not valid UTF-8/],
    [fileBytes('{"__metadata__":{"a":1}}'), /__metadata__\["a"\] must be a string/],
    [fileBytes(f32('[0,8]', '[3]'), eight), /tensor "w": data_offsets \[0, 8\] hold 8 bytes but shape \[3\] × F32 \(4 bytes\) needs 12/],
    [fileBytes(f32('[0,16]', '[4]'), eight), /tensor "w": data_offsets \[0, 16\] run past the end of the 8-byte data section \(truncated file\?\)/],
    [fileBytes(f32('[4,12]'), [...eight, 0, 0, 0, 0]), /tensor "w": data_offsets \[4, 12\] leave a hole after the start/],
    [fileBytes(f32('[0,8]'), [...eight, 1]), /1 bytes after the last tensor/],
    [fileBytes('{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', [0]), /tensor "w": unsupported dtype "F8_E4M3"/],
    [fileBytes('{"w":{"dtype":"F32","shape":[1]}}'), /tensor "w": header field "data_offsets"/],
    [fileBytes('{"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}', [0, 0, 0, 0]), /tensor "w": header field "shape"/],
    [fileBytes('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', [1, 2, 3]), /tensor "b": data_offsets \[1, 3\] overlap the end of tensor "a" at 2/],
  ];
  for (const [bytes, re] of cases) {
    assert.throws(() => parseSafetensors(bytes, 'f.safetensors'), (err: unknown) => err instanceof SafetensorsError && /^f\.safetensors: /.test(err.message) && re.test(err.message), String(re));
  }
});

test('a truncated copy of a real file fails with a clear message', () => {
  const bytes = readFileSync(path.join(fixtures, 'python-aligned.safetensors'));
  assert.throws(() => parseSafetensors(bytes.subarray(0, bytes.length - 3), 'cut'), /cut: tensor "mask": data_offsets \[\d+, \d+\] run past the end .*truncated/);
  assert.throws(() => parseSafetensors(bytes.subarray(0, 100), 'cut'), /cut: header length 960 runs past the end of the 100-byte file/);
});
