/**
 * The training loss log: one line per optimizer step with the loss components (e.g. rpn_cls,
 * rpn_reg, cls, reg, total), the learning rate, and running means per epoch.
 *
 * Two line formats, chosen by the file extension (or `format`):
 *   .csv    header `step,epoch,lr,<components…>`, then one row per step (pandas.read_csv reads it)
 *   .jsonl  one flat object per line {"step":1,"epoch":0,"lr":0.02,"rpn_cls":0.69,…}
 *           (non-finite values are written as null, JSON has no NaN, and read back as NaN)
 *
 * Lines are appended with one write each to a file opened in append mode, so an interruption can
 * only cut the last line short. `step` is the number of optimizer steps completed after the logged
 * step (the first step logs 1), the same count a checkpoint stores: resuming from a checkpoint at
 * step S keeps the lines with step ≤ S, drops the rest and any cut-off last line (the file is
 * rewritten atomically), and continues the running means of the current epoch.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic.js';

/** One logged step. */
export interface LossRecord {
  /** Optimizer steps completed after this one (1 for the first step). */
  step: number;
  /** 0-based epoch of the step. */
  epoch: number;
  /** Learning rate used for the step. */
  lr?: number;
  /** Loss components by name, e.g. { rpn_cls, rpn_reg, cls, reg, total }. */
  losses: Record<string, number>;
}

/** Line format of a loss log. */
export type LossLogFormat = 'csv' | 'jsonl';

/** Options of LossLog.open. */
export interface LossLogOptions {
  /** Component names, in column order; every record must have exactly these. */
  components: readonly string[];
  /** Default: from the extension (.csv, or .jsonl / .ndjson). */
  format?: LossLogFormat;
  /**
   * Resume after a checkpoint at this step: keep the existing lines with step ≤ resumeFromStep.
   * Left out, the log starts empty (an existing file is replaced).
   */
  resumeFromStep?: number;
}

/** Running means of one epoch. */
export interface EpochMeans {
  epoch: number;
  /** Steps logged in the epoch. */
  count: number;
  /** Mean of each component over those steps. */
  means: Record<string, number>;
}

/** A malformed log line or record; names the file and line. */
export class LossLogError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'LossLogError';
  }
}

const FIXED_COLUMNS = ['step', 'epoch', 'lr'];
const COMPONENT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** The format a file name implies, or undefined. */
export function lossLogFormatOf(file: string): LossLogFormat | undefined {
  if (/\.csv$/i.test(file)) return 'csv';
  if (/\.(jsonl|ndjson)$/i.test(file)) return 'jsonl';
  return undefined;
}

function formatLine(format: LossLogFormat, components: readonly string[], r: LossRecord): string {
  if (format === 'csv') {
    return [r.step, r.epoch, r.lr ?? '', ...components.map((c) => r.losses[c]!)].map(String).join(',') + '\n';
  }
  const obj: Record<string, number | null> = { step: r.step, epoch: r.epoch };
  if (r.lr !== undefined) obj.lr = Number.isFinite(r.lr) ? r.lr : null;
  for (const c of components) obj[c] = Number.isFinite(r.losses[c]) ? r.losses[c]! : null;
  return JSON.stringify(obj) + '\n';
}

function parseNumber(v: unknown): number | undefined {
  if (v === null) return NaN;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isNaN(n) && v !== 'NaN' ? undefined : n;
  }
  return undefined;
}

/** Parse one complete line; throws a message (without location) on malformed input. */
function parseLine(format: LossLogFormat, components: readonly string[], line: string): LossRecord {
  let get: (key: string) => unknown;
  if (format === 'csv') {
    const cells = line.split(',');
    const columns = [...FIXED_COLUMNS, ...components];
    if (cells.length !== columns.length) throw new Error(`has ${cells.length} cells, the header has ${columns.length}`);
    get = (key) => cells[columns.indexOf(key)];
  } else {
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new Error(`is not valid JSON (${(err as Error).message})`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error('is not a JSON object');
    get = (key) => (obj as Record<string, unknown>)[key];
  }
  const step = parseNumber(get('step'));
  const epoch = parseNumber(get('epoch'));
  if (!Number.isSafeInteger(step) || step! < 1) throw new Error(`step ${JSON.stringify(get('step'))} is not a positive integer`);
  if (!Number.isSafeInteger(epoch) || epoch! < 0) throw new Error(`epoch ${JSON.stringify(get('epoch'))} is not a non-negative integer`);
  const rawLr = get('lr');
  const lr = rawLr === undefined || rawLr === '' ? undefined : parseNumber(rawLr);
  if (rawLr !== undefined && rawLr !== '' && lr === undefined) throw new Error(`lr ${JSON.stringify(rawLr)} is not a number`);
  const losses: Record<string, number> = {};
  for (const c of components) {
    const v = parseNumber(get(c));
    if (v === undefined) throw new Error(`${c} ${JSON.stringify(get(c))} is not a number`);
    losses[c] = v;
  }
  return { step: step!, epoch: epoch!, ...(lr === undefined ? {} : { lr }), losses };
}

/** Contents of a loss log as read back. */
export interface LossLogContents {
  format: LossLogFormat;
  components: string[];
  records: LossRecord[];
  /** True when the last line was cut short (an interrupted write) and was left out. */
  droppedPartialLine: boolean;
}

/**
 * Read a loss log. A last line without its newline (an interrupted append) is left out; any other
 * malformed line, or steps that do not increase, throw a LossLogError naming the line.
 * JSONL components are those of the first line (or `components` when given).
 */
export async function readLossLog(file: string, options: { format?: LossLogFormat; components?: readonly string[] } = {}): Promise<LossLogContents> {
  const format = options.format ?? lossLogFormatOf(file);
  if (!format) throw new LossLogError(file, 'unknown loss log format: name it .csv or .jsonl, or pass format');
  const text = await fs.readFile(file, 'utf8');
  const lines = text.split('\n');
  const partial = lines.pop()!; // '' when the file ends with a newline
  let components = options.components ? [...options.components] : undefined;
  let first = 0;
  if (format === 'csv') {
    const header = lines[0]?.split(',');
    if (!header) throw new LossLogError(file, 'has no header line');
    if (header.slice(0, 3).join(',') !== FIXED_COLUMNS.join(',')) throw new LossLogError(file, `line 1: header must start with ${FIXED_COLUMNS.join(',')}, got ${lines[0]}`);
    const fromFile = header.slice(3);
    if (components && fromFile.join(',') !== components.join(',')) {
      throw new LossLogError(file, `line 1: components ${fromFile.join(',')} differ from the expected ${components.join(',')}`);
    }
    components = fromFile;
    first = 1;
  } else if (!components) {
    let sample: unknown = {};
    try {
      if (lines[0]) sample = JSON.parse(lines[0]);
    } catch (err) {
      throw new LossLogError(file, `line 1 is not valid JSON (${(err as Error).message})`);
    }
    components = Object.keys(sample as object).filter((k) => !FIXED_COLUMNS.includes(k));
  }
  const records: LossRecord[] = [];
  for (let i = first; i < lines.length; i++) {
    let r: LossRecord;
    try {
      r = parseLine(format, components, lines[i]!);
    } catch (err) {
      throw new LossLogError(file, `line ${i + 1} ${(err as Error).message}`);
    }
    const prev = records[records.length - 1];
    if (prev && (r.step <= prev.step || r.epoch < prev.epoch)) {
      throw new LossLogError(file, `line ${i + 1}: step ${r.step} epoch ${r.epoch} does not follow step ${prev.step} epoch ${prev.epoch}`);
    }
    records.push(r);
  }
  return { format, components, records, droppedPartialLine: partial !== '' };
}

/** An open loss log that appends one line per step and keeps running means per epoch. */
export class LossLog {
  private readonly sums = new Map<number, { count: number; sums: number[] }>();
  private last: LossRecord | undefined;
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    readonly file: string,
    readonly format: LossLogFormat,
    readonly components: readonly string[],
    private readonly handle: FileHandle,
  ) {}

  /**
   * Start a new log at `file` (replacing one that exists), or with `resumeFromStep` continue one:
   * lines past that step and a cut-off last line are dropped (atomic rewrite) and the running
   * means are rebuilt from the lines kept.
   */
  static async open(file: string, options: LossLogOptions): Promise<LossLog> {
    const format = options.format ?? lossLogFormatOf(file);
    if (!format) throw new LossLogError(file, 'unknown loss log format: name it .csv or .jsonl, or pass format');
    const components = [...options.components];
    if (components.length === 0) throw new LossLogError(file, 'components must name at least one loss');
    for (const c of components) {
      if (!COMPONENT_NAME.test(c) || FIXED_COLUMNS.includes(c)) throw new LossLogError(file, `component name ${JSON.stringify(c)} must match ${COMPONENT_NAME} and not be step, epoch or lr`);
    }
    if (new Set(components).size !== components.length) throw new LossLogError(file, 'component names repeat');
    const header = format === 'csv' ? [...FIXED_COLUMNS, ...components].join(',') + '\n' : '';
    let kept: LossRecord[] = [];
    const resume = options.resumeFromStep;
    if (resume !== undefined) {
      if (!Number.isSafeInteger(resume) || resume < 0) throw new LossLogError(file, `resumeFromStep must be a non-negative integer, got ${resume}`);
      const exists = await fs.stat(file).then(() => true, () => false);
      if (exists) {
        const read = await readLossLog(file, { format, components });
        kept = read.records.filter((r) => r.step <= resume);
        if (kept.length !== read.records.length || read.droppedPartialLine) {
          await writeFileAtomic(file, header + kept.map((r) => formatLine(format, components, r)).join(''));
        }
      } else {
        await writeFileAtomic(file, header);
      }
    } else {
      await writeFileAtomic(file, header);
    }
    const log = new LossLog(file, format, components, await fs.open(file, 'a'));
    for (const r of kept) log.account(r);
    return log;
  }

  /** The last record logged (or kept on resume). */
  get lastRecord(): LossRecord | undefined {
    return this.last;
  }

  private account(r: LossRecord): void {
    const e = this.sums.get(r.epoch) ?? { count: 0, sums: this.components.map(() => 0) };
    e.count += 1;
    this.components.forEach((c, i) => (e.sums[i]! += r.losses[c]!));
    this.sums.set(r.epoch, e);
    this.last = r;
  }

  /**
   * Append one step. Validates before writing: step increases, epoch does not go back, and the
   * losses are exactly the log's components (numbers; NaN is logged, not rejected). Appends are
   * written in call order even when not awaited one by one.
   */
  append(record: LossRecord): Promise<void> {
    let copy: LossRecord;
    try {
      copy = this.validated(record);
    } catch (err) {
      return Promise.reject(err);
    }
    this.account(copy);
    const line = formatLine(this.format, this.components, copy);
    this.queue = this.queue.then(async () => {
      await this.handle.write(line);
    });
    return this.queue;
  }

  private validated(r: LossRecord): LossRecord {
    const prev = this.last;
    if (!Number.isSafeInteger(r.step) || r.step < 1) throw new LossLogError(this.file, `step must be a positive integer, got ${r.step}`);
    if (!Number.isSafeInteger(r.epoch) || r.epoch < 0) throw new LossLogError(this.file, `epoch must be a non-negative integer, got ${r.epoch}`);
    if (prev && (r.step <= prev.step || r.epoch < prev.epoch)) {
      throw new LossLogError(this.file, `step ${r.step} epoch ${r.epoch} does not follow the last logged step ${prev.step} epoch ${prev.epoch}`);
    }
    if (r.lr !== undefined && typeof r.lr !== 'number') throw new LossLogError(this.file, `step ${r.step}: lr must be a number`);
    const names = Object.keys(r.losses ?? {});
    const missing = this.components.filter((c) => !names.includes(c));
    const extra = names.filter((c) => !this.components.includes(c));
    if (missing.length || extra.length) {
      throw new LossLogError(this.file, `step ${r.step}: losses ${missing.length ? `lack ${missing.join(', ')}` : ''}${missing.length && extra.length ? ' and ' : ''}${extra.length ? `have unknown ${extra.join(', ')}` : ''} (components: ${this.components.join(', ')})`);
    }
    for (const c of names) if (typeof r.losses[c] !== 'number') throw new LossLogError(this.file, `step ${r.step}: loss ${c} must be a number`);
    return { step: r.step, epoch: r.epoch, ...(r.lr === undefined ? {} : { lr: r.lr }), losses: { ...r.losses } };
  }

  /** Running means of `epoch` (default: the epoch of the last record), or undefined before any step of it. */
  runningMeans(epoch = this.last?.epoch): EpochMeans | undefined {
    const e = epoch === undefined ? undefined : this.sums.get(epoch);
    if (!e) return undefined;
    return { epoch: epoch!, count: e.count, means: Object.fromEntries(this.components.map((c, i) => [c, e.sums[i]! / e.count])) };
  }

  /** Means of every epoch logged so far, in epoch order. */
  epochMeans(): EpochMeans[] {
    return [...this.sums.keys()].sort((a, b) => a - b).map((e) => this.runningMeans(e)!);
  }

  /** Wait for pending appends, flush to disk and close the file. */
  async close(): Promise<void> {
    await this.queue;
    await this.handle.sync();
    await this.handle.close();
  }
}
