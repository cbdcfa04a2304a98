/**
 * Why a channel set could not be merged. Every failure of the merge path (discovery, decode,
 * merge, write) is a {@link ChannelSetError} with a machine-readable `kind`, so a folder run can
 * report each bad set with its reason while all other sets finish.
 */

/**
 * - `missing-channel`: fewer than 4 channel files for an id.
 * - `ambiguous-channel`: one channel present under two extensions (e.g. `_red.png` and `_red.tif`).
 * - `empty-file`: a channel file of 0 bytes.
 * - `corrupt-file`: a file the decoder cannot read (truncated, not an image, bad header).
 * - `size-mismatch`: the 4 channels differ in width/height.
 * - `pixel-limit`: an image has more pixels than the allowed limit.
 * - `unsupported-format`: a readable image whose layout the merge does not handle (e.g. 32-bit float).
 * - `write-failed`: the output could not be written.
 */
export type ChannelSetErrorKind =
  | 'missing-channel'
  | 'ambiguous-channel'
  | 'empty-file'
  | 'corrupt-file'
  | 'size-mismatch'
  | 'pixel-limit'
  | 'unsupported-format'
  | 'write-failed';

/** A failure tied to one set (and, where known, the file(s) at fault, named in the message). */
export class ChannelSetError extends Error {
  constructor(
    readonly kind: ChannelSetErrorKind,
    message: string,
    /** The files the error is about (absolute or as given). */
    readonly files: string[] = [],
  ) {
    super(message);
    this.name = 'ChannelSetError';
  }
}
