/**
 * 16-bit floats as safetensors stores them (F16: IEEE binary16, BF16: bfloat16), kept as raw
 * Uint16Array words, converted to and from float32. Encoding rounds to nearest, ties to even, as
 * torch's `.half()` / `.bfloat16()` do; NaN stays NaN.
 */
import type { HostTensor } from './tensor.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Decode IEEE binary16 words to float32 (exact: every binary16 value is a float32). */
export function float16ToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24; // zero and subnormals
    else if (exp === 0x1f) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1024 + frac) * 2 ** (exp - 25);
  }
  return out;
}

/** Encode float32 values as IEEE binary16 words (round to nearest even; overflow → ±Infinity). */
export function float32ToFloat16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    f32[0] = src[i]!;
    const x = u32[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0); // Inf, or a quiet NaN
      continue;
    }
    const e = exp - 127 + 15; // binary16 biased exponent
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    // Shift the 24-bit significand so that its binary16 ulp becomes the integer 1, then round.
    const sig = exp === 0 ? mant : mant | 0x800000;
    const shift = e >= 1 ? 13 : 14 - e; // subnormal results lose more bits
    if (shift > 24) {
      out[i] = sign; // below half the smallest subnormal
      continue;
    }
    let q = Math.floor(sig / 2 ** shift);
    const rem = sig - q * 2 ** shift;
    const half = 2 ** (shift - 1);
    if (rem > half || (rem === half && q & 1)) q += 1;
    // q holds the significand with its hidden bit; carries into the exponent field are correct.
    out[i] = sign | (e >= 1 ? ((e << 10) + (q - 1024)) : q);
  }
  return out;
}

/** Decode bfloat16 words to float32 (exact: bfloat16 is the top half of a float32). */
export function bfloat16ToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return out;
}

/** Encode float32 values as bfloat16 words (round to nearest even; every NaN → 0x7fc0, as torch). */
export function float32ToBfloat16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    f32[0] = src[i]!;
    const x = u32[0]!;
    if (Number.isNaN(src[i]!)) {
      out[i] = 0x7fc0; // torch (c10::BFloat16) maps every NaN to this one
      continue;
    }
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/**
 * The elements of a floating-point tensor as float32: F32 as is (no copy), F16/BF16 decoded,
 * F64 rounded. Throws a TypeError naming `what` for other dtypes.
 */
export function toFloat32(t: HostTensor, what = 'tensor'): Float32Array {
  switch (t.dtype) {
    case 'F32':
      return t.data as Float32Array;
    case 'F16':
      return float16ToFloat32(t.data as Uint16Array);
    case 'BF16':
      return bfloat16ToFloat32(t.data as Uint16Array);
    case 'F64':
      return Float32Array.from(t.data as Float64Array);
    default:
      throw new TypeError(`${what} has dtype ${t.dtype}, not a floating-point type`);
  }
}
