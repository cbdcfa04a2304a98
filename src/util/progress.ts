/**
 * Progress reporting for long jobs. On a TTY: one self-overwriting line with rate and ETA.
 * Otherwise (logs, CI, pipes): a plain line every `logEvery` items and at the end.
 */
export interface ProgressOptions {
  /** What is counted, e.g. "sets" or "images". */
  unit: string;
  /** Label printed before the counts, e.g. "merge". */
  label: string;
  stream?: NodeJS.WriteStream;
  /** Non-TTY: log a line every this many items (default: about every 10%). */
  logEvery?: number;
  /** Silence all output (library use, --json). */
  quiet?: boolean;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export class Progress {
  private done = 0;
  private failed = 0;
  private readonly start = performance.now();
  private lastDraw = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly logEvery: number;

  constructor(
    private readonly total: number,
    private readonly options: ProgressOptions,
  ) {
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.logEvery = options.logEvery ?? Math.max(1, Math.ceil(total / 10));
  }

  /** Count one finished item (ok or failed). */
  tick(ok = true): void {
    this.done++;
    if (!ok) this.failed++;
    if (this.options.quiet) return;
    const now = performance.now();
    if (this.tty) {
      if (now - this.lastDraw > 100 || this.done === this.total) {
        this.lastDraw = now;
        this.stream.write(`\r\x1b[2K${this.line()}`);
      }
    } else if (this.done % this.logEvery === 0 || this.done === this.total) {
      this.stream.write(`${this.line()}\n`);
    }
  }

  /** Finish the TTY line (call once at the end). */
  finish(): void {
    if (!this.options.quiet && this.tty) this.stream.write('\n');
  }

  get elapsedSeconds(): number {
    return (performance.now() - this.start) / 1000;
  }

  private line(): string {
    const elapsed = this.elapsedSeconds;
    const rate = this.done / Math.max(elapsed, 1e-9);
    const eta = rate > 0 ? (this.total - this.done) / rate : Number.NaN;
    const pct = this.total > 0 ? ((100 * this.done) / this.total).toFixed(0) : '100';
    const failed = this.failed > 0 ? `, ${this.failed} failed` : '';
    return (
      `${this.options.label}: ${this.done}/${this.total} ${this.options.unit} (${pct}%${failed}) ` +
      `${rate.toFixed(1)} ${this.options.unit}/s, elapsed ${formatDuration(elapsed)}, ETA ${formatDuration(eta)}`
    );
  }
}
