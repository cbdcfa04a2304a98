/**
 * What `hpa-detect predict` runs on: plain images (RGB, gray …) and raw HPA channel sets
 * (`{id}_{red,green,blue,yellow}.{png,jpg,tif}`, merged on the fly). Files and folders may be
 * mixed; a channel file given on its own brings its set's other three files from the same folder.
 * The order is deterministic: arguments in the order given, each folder's entries sorted by name
 * (set id or file name), duplicates dropped. Sets that cannot be merged (a channel missing, one
 * channel under two extensions) are returned as problems naming the files, not dropped silently.
 */
import { readdirSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { CHANNEL_NAMES, type ChannelSet, discoverChannelSets, parseChannelFileName } from '../hpa/channels.js';
import { TEMP_PREFIX } from '../util/atomic.js';

/** Image extensions picked up from folders (channel files are recognised by their name first). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.webp'];

/** One unit of prediction. `name` is the output stem: the file name without extension, or the set id. */
export type PredictInput =
  | { kind: 'image'; name: string; file: string }
  | { kind: 'channels'; name: string; set: ChannelSet };

/** An input that cannot be predicted (reported, the others run). */
export interface InputProblem {
  name: string;
  /** Reported like a prediction's `image`: `{folder}/{id}` for a set. */
  image: string;
  reason: string;
  files: string[];
}

/** The path a prediction is reported under: the image file, or `{folder}/{id}` for a set. */
export function inputPath(input: PredictInput): string {
  return input.kind === 'image' ? input.file : path.join(path.dirname(input.set.files.red), input.set.id);
}

/** The files an input reads (for messages). */
export function inputFiles(input: PredictInput): string[] {
  return input.kind === 'image' ? [input.file] : CHANNEL_NAMES.map((c) => input.set.files[c]);
}

/**
 * What tells one input's content from another's when a run resumes: each file's absolute path,
 * size and modification time. Output names are only stems, so a later run over another folder
 * (or over an image merged again in place) must not reuse a stored prediction. Undefined when a
 * file cannot be stat'ed (loading it reports why).
 */
export async function inputFingerprint(input: PredictInput): Promise<string | undefined> {
  try {
    const files = await Promise.all(inputFiles(input).map(async (f) => {
      const s = await stat(f);
      return [path.resolve(f), s.size, s.mtimeMs];
    }));
    return JSON.stringify(files);
  } catch {
    return undefined;
  }
}

/**
 * Resolve files and folders to inputs (see the module comment).
 * @throws RangeError naming the argument that does not exist or cannot be listed
 */
export async function listPredictInputs(args: readonly string[]): Promise<{ inputs: PredictInput[]; problems: InputProblem[] }> {
  const inputs: PredictInput[] = [];
  const problems: InputProblem[] = [];
  const seen = new Set<string>();
  const add = (i: PredictInput) => {
    const key = `${i.kind}:${path.resolve(inputPath(i))}`;
    if (!seen.has(key)) {
      seen.add(key);
      inputs.push(i);
    }
  };
  const scans = new Map<string, Awaited<ReturnType<typeof discoverChannelSets>>>();
  const scan = async (dir: string) => {
    const key = path.resolve(dir);
    if (!scans.has(key)) scans.set(key, await discoverChannelSets(dir));
    return scans.get(key)!;
  };
  const reported = new Set<string>();
  const problem = (p: InputProblem) => {
    if (!reported.has(p.reason)) {
      reported.add(p.reason);
      problems.push(p);
    }
  };
  for (const arg of args) {
    const st = statSync(arg, { throwIfNoEntry: false });
    if (!st) throw new RangeError(`input not found: ${arg}`);
    if (st.isDirectory()) {
      const { sets, incomplete } = await scan(arg).catch((err: Error) => {
        throw new RangeError(err.message);
      });
      const entries: PredictInput[] = sets.map((set) => ({ kind: 'channels', name: set.id, set }));
      for (const f of readdirSync(arg)) {
        if (f.startsWith(TEMP_PREFIX) || parseChannelFileName(f) || !IMAGE_EXTENSIONS.includes(path.extname(f).toLowerCase())) continue;
        if (!statSync(path.join(arg, f)).isFile()) continue;
        entries.push({ kind: 'image', name: path.parse(f).name, file: path.join(arg, f) });
      }
      // One sorted order for sets and plain images together (by output stem, then kind).
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
      entries.forEach(add);
      for (const s of incomplete) problem({ name: s.id, image: path.join(arg, s.id), reason: s.reason, files: Object.values(s.found).flat() as string[] });
      continue;
    }
    const parsed = parseChannelFileName(path.basename(arg));
    if (!parsed) {
      add({ kind: 'image', name: path.parse(arg).name, file: arg });
      continue;
    }
    const dir = path.dirname(arg);
    const { sets, incomplete } = await scan(dir);
    const set = sets.find((s) => s.id === parsed.id);
    if (set) add({ kind: 'channels', name: set.id, set });
    else {
      const bad = incomplete.find((s) => s.id === parsed.id);
      problem({ name: parsed.id, image: path.join(dir, parsed.id), reason: bad?.reason ?? `set ${parsed.id}: channel files not found beside ${arg}`, files: bad ? (Object.values(bad.found).flat() as string[]) : [arg] });
    }
  }
  return { inputs, problems };
}
