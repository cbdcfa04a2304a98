/**
 * Atomic file writes: write to a temp file in the same folder, then rename over the target.
 * A kill at any moment leaves either the old file or the new one, never a half-written file.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Prefix of temp files; a folder scan (e.g. resumable merge) ignores names that start with it. */
export const TEMP_PREFIX = '.hpa-tmp-';

export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}-${path.basename(target)}`);
}

/** Write `data` to `target` atomically (temp file + fsync-free rename). */
export async function writeFileAtomic(target: string, data: string | Uint8Array | Iterable<string>): Promise<void> {
  const tmp = tempPathFor(target);
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Run `produce(tmpPath)` (which must create the file, e.g. sharp's toFile) and rename the result
 * over `target` only when it succeeded.
 */
export async function withAtomicOutput(
  target: string,
  produce: (tmpPath: string) => Promise<unknown>,
): Promise<void> {
  const tmp = tempPathFor(target);
  try {
    await produce(tmp);
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}
