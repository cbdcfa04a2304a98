/** Reading an id list (one image id per line, as VOC's ImageSets/Main/*.txt) named by a CLI flag. */
import { readFile } from 'node:fs/promises';
import { CliError } from './errors.js';

/** The non-empty, trimmed lines of `file`; an unreadable file is a CliError naming `flag`. */
export async function readIdList(file: string, flag: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  } catch (err) {
    throw new CliError(`cannot read ${flag} ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}
