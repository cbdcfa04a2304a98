/**
 * The imaging pass of one channel, done natively (native/synth_finish.cc): clamp negatives, gain,
 * Gaussian blur, background + Gaussian noise, round to 8 bits. The JS versions in filters.ts
 * describe the same steps but were 5–10× slower; the native pass draws its noise from the caller's
 * Rng state (same xoshiro128** sequence) and advances it, so images stay a pure function of the seed.
 */
import { native } from '../native.js';
import { Rng } from '../util/rng.js';

type FinishFn = (
  channel: Float32Array,
  width: number,
  height: number,
  gain: number,
  blurSigma: number,
  background: number,
  noiseSigma: number,
  rngState: Uint32Array,
) => Uint8Array;

/** Imaging settings of one channel. */
export interface FinishOptions {
  gain: number;
  blurSigma: number;
  background: number;
  noiseSigma: number;
}

/**
 * Finish `channel` (width×height gray levels; used as scratch and left blurred) into 8 bits.
 * Returns the 8-bit channel and the generator to continue with (its state advanced past the noise).
 */
export function finishChannel(
  channel: Float32Array,
  width: number,
  height: number,
  o: FinishOptions,
  rng: Rng,
): { pixels: Uint8Array; rng: Rng } {
  const state = rng.state;
  const pixels = (native.synthFinishChannel as FinishFn)(
    channel,
    width,
    height,
    o.gain,
    o.blurSigma,
    o.background,
    o.noiseSigma,
    state,
  );
  return { pixels, rng: new Rng(state) };
}
