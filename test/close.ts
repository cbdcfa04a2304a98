/** Numeric helpers shared by the tests that compare float arrays with torch/torchvision fixtures. */
import assert from 'node:assert/strict';

/** A Float32Array from the base64 of its little-endian bytes (how the fixture scripts store tensors). */
export function f32FromBase64(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** Elementwise |a − b| ≤ atol + rtol·|b|; fails on the first element that is not, naming it. */
export function assertClose(a: Float32Array, b: Float32Array, what: string, atol = 1e-5, rtol = 1e-5): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= atol + rtol * Math.abs(b[i]!))) assert.fail(`${what}: [${i}] ${a[i]} vs ${b[i]} (|d| = ${d})`);
  }
}
