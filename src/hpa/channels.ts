/**
 * HPA channel sets on disk: `{id}_{red,green,blue,yellow}.{png,jpg,jpeg,tif,tiff}` (extension
 * case-insensitive). Discovery groups a folder's files by id and reports sets that cannot be
 * merged (a missing channel, one channel under two extensions) instead of dropping them silently.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { TEMP_PREFIX } from '../util/atomic.js';

/** The four HPA channels in merge order: microtubules, protein, nucleus, ER. */
export const CHANNEL_NAMES = ['red', 'green', 'blue', 'yellow'] as const;
export type ChannelName = (typeof CHANNEL_NAMES)[number];

/** Extensions a channel file may have (compared lower-case). */
export const CHANNEL_EXTENSIONS = ['png', 'jpg', 'jpeg', 'tif', 'tiff'] as const;

/** One complete set: the path of each channel file. */
export interface ChannelSet {
  id: string;
  files: Record<ChannelName, string>;
}

/** A set that cannot be merged, with the reason in words and the files that were found. */
export interface IncompleteSet {
  id: string;
  kind: 'missing-channel' | 'ambiguous-channel';
  reason: string;
  /** Missing channel names (kind `missing-channel`). */
  missing: ChannelName[];
  /** Files found for this id, by channel (every candidate, for `ambiguous-channel`). */
  found: Partial<Record<ChannelName, string[]>>;
}

/** Result of {@link discoverChannelSets}; both lists are sorted by id. */
export interface ChannelSetScan {
  sets: ChannelSet[];
  incomplete: IncompleteSet[];
}

const CHANNEL_FILE = new RegExp(
  `^(.+)_(${CHANNEL_NAMES.join('|')})\\.(${CHANNEL_EXTENSIONS.join('|')})$`,
  'i',
);

/**
 * Parses a channel file name into its id and channel, or undefined when the name does not follow
 * the pattern. The channel word must be lower case (as HPA writes it); the extension may be any case.
 */
export function parseChannelFileName(name: string): { id: string; channel: ChannelName } | undefined {
  const m = CHANNEL_FILE.exec(name);
  if (!m) return undefined;
  const channel = m[2]!;
  if (!(CHANNEL_NAMES as readonly string[]).includes(channel)) return undefined;
  return { id: m[1]!, channel: channel as ChannelName };
}

/**
 * Groups the channel files of `dir` (not recursive) into sets. Other files are ignored, as are
 * temp files of an interrupted atomic write. Throws (with the folder's path) only when the folder
 * cannot be listed.
 */
export async function discoverChannelSets(dir: string): Promise<ChannelSetScan> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new Error(`cannot list channel folder ${dir}: ${(err as Error).message}`);
  }
  const byId = new Map<string, Partial<Record<ChannelName, string[]>>>();
  for (const entry of entries) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    if (entry.name.startsWith(TEMP_PREFIX)) continue;
    const parsed = parseChannelFileName(entry.name);
    if (!parsed) continue;
    const found = byId.get(parsed.id) ?? {};
    (found[parsed.channel] ??= []).push(path.join(dir, entry.name));
    byId.set(parsed.id, found);
  }
  return groupSets(byId);
}

function groupSets(byId: Map<string, Partial<Record<ChannelName, string[]>>>): ChannelSetScan {
  const sets: ChannelSet[] = [];
  const incomplete: IncompleteSet[] = [];
  for (const id of [...byId.keys()].sort()) {
    const found = byId.get(id)!;
    for (const list of Object.values(found)) list!.sort();
    const missing = CHANNEL_NAMES.filter((c) => !found[c]?.length);
    const ambiguous = CHANNEL_NAMES.filter((c) => (found[c]?.length ?? 0) > 1);
    if (missing.length > 0) {
      incomplete.push({
        id,
        kind: 'missing-channel',
        reason: `set ${id}: missing ${missing.join(', ')} channel file${missing.length > 1 ? 's' : ''}`,
        missing,
        found,
      });
    } else if (ambiguous.length > 0) {
      const names = ambiguous.flatMap((c) => found[c]!.map((f) => path.basename(f)));
      incomplete.push({
        id,
        kind: 'ambiguous-channel',
        reason: `set ${id}: more than one file for the same channel: ${names.join(', ')}`,
        missing: [],
        found,
      });
    } else {
      const files = Object.fromEntries(CHANNEL_NAMES.map((c) => [c, found[c]![0]!])) as Record<
        ChannelName,
        string
      >;
      sets.push({ id, files });
    }
  }
  return { sets, incomplete };
}
