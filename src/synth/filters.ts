/**
 * Reference (plain JS) versions of the imaging effects that native/synth_finish.cc applies to a
 * whole channel: gain, optical blur and 8-bit quantization (the native pass also adds the camera
 * noise). The generator uses the native pass (src/synth/finish.ts); tests check it against these. Channels are row-major Float32Array.
 */
/** Normalised 1-D Gaussian kernel of standard deviation σ (radius ⌈3σ⌉). */
function gaussianKernel(sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp((-i * i) / (2 * sigma * sigma));
    k[i + radius] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] = k[i]! / sum;
  return k;
}

/** Separable Gaussian blur in place (edges clamped); σ ≤ 0 leaves the channel unchanged. */
export function gaussianBlur(channel: Float32Array, width: number, height: number, sigma: number): void {
  if (sigma <= 0) return;
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  const tmp = new Float32Array(channel.length);
  const line = new Float32Array(Math.max(width, height) + 2 * r);
  // Rows: copy each row into a clamped, padded line so the inner loop has no bounds checks.
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let i = 0; i < width + 2 * r; i++) line[i] = channel[row + Math.min(width - 1, Math.max(0, i - r))]!;
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let j = 0; j < k.length; j++) s += k[j]! * line[x + j]!;
      tmp[row + x] = s;
    }
  }
  // Columns: accumulate whole rows at a time (cache-friendly).
  channel.fill(0);
  for (let y = 0; y < height; y++) {
    const out = y * width;
    for (let j = 0; j < k.length; j++) {
      const src = Math.min(height - 1, Math.max(0, y + j - r)) * width;
      const w = k[j]!;
      for (let x = 0; x < width; x++) channel[out + x] += w * tmp[src + x]!;
    }
  }
}

/** Scale a channel in place. */
export function scale(channel: Float32Array, gain: number): void {
  for (let i = 0; i < channel.length; i++) channel[i] = channel[i]! * gain;
}

/** Round to the nearest gray level and clamp to [0, 255]. */
export function quantize(channel: Float32Array): Uint8Array {
  const out = new Uint8Array(channel.length);
  for (let i = 0; i < channel.length; i++) {
    const v = Math.round(channel[i]!);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}
