/**
 * Training models per input size (segment 1's: autodiff needs static shapes, so every padded
 * batch size has its own), the few most recently used kept, and onnxruntime's memory arena given
 * to one size at a time.
 *
 * Why one arena: an arena keeps its session's peak working set reserved between runs, which makes
 * the steps faster (no fresh pages every run) but adds that working set again for every size: on
 * BCCD (resnet18-fpn-gn, 480×640, batch 2) the second size's arena was 1.5 GB of peak RSS
 * (docs/benchmarks.md, "Quarter turns grouped by batch, one arena at a time"). The quarter turns
 * of a non-square data set give two sizes, a data set of several image sizes more. So one size
 * holds the arena and the others run without it, as `lowMemory` runs them all (10–24% more time
 * per step).
 *
 * Which size: the first built gets it, and a size without it takes it over once it has been
 * used {@link TAKEOVER_RATIO} times as often as the holder plus {@link TAKEOVER_MARGIN} (the
 * holder's models are released, this size's built or rebuilt with the arena). So the arena ends
 * up with the size most steps use when it is used at least 1.5 times as often as any other (two
 * sizes used about equally leave it where it is), without moving back and forth: use counts are
 * never reset, so each takeover needs more uses than the last. When the holder leaves the cache,
 * the next size built gets it.
 *
 * Not re-entrant: the trainer asks for one size at a time and uses its models before asking again
 * (a takeover releases another size's models, which no step may be using then).
 */

/** Models of one size: whatever the builder returns, marked with whether it has the arena. */
export interface SizedModels {
  arena: boolean;
}

export interface SizedModelCacheOptions<M extends SizedModels> {
  /** Sizes kept (least recently used released first). */
  capacity: number;
  /** Whether any size may have the arena (false: low-memory mode). */
  arena: boolean;
  /** Build the models of an input shape, with or without the arena. */
  build(dims: readonly number[], arena: boolean): Promise<M>;
  release(models: M): Promise<void>;
  /** Told after each build: the shape, whether it got the arena, and how long it took. */
  onBuild?(built: { dims: readonly number[]; arena: boolean; seconds: number }): void;
}

/** A size takes the arena over at TAKEOVER_RATIO × the holder's uses + TAKEOVER_MARGIN uses. */
export const TAKEOVER_RATIO = 1.5;
export const TAKEOVER_MARGIN = 4;

/** See the file comment. */
export class SizedModelCache<M extends SizedModels> {
  /** Cached models by size key, least recently used first. */
  private readonly models = new Map<string, M>();
  /** Uses of every size seen (cached or not). */
  private readonly uses = new Map<string, number>();

  constructor(private readonly options: SizedModelCacheOptions<M>) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${options.capacity}`);
  }

  /** The models of input shape `dims`, built (or rebuilt to take the arena over) when needed. */
  async get(dims: readonly number[]): Promise<M> {
    const key = dims.join('x');
    const used = (this.uses.get(key) ?? 0) + 1;
    this.uses.set(key, used);
    let models = this.models.get(key);
    this.models.delete(key);
    if (!models?.arena && this.options.arena) {
      // A size without the arena (cached, or evicted earlier and back) takes it over from the holder.
      const holder = this.holder();
      if (holder !== undefined && used >= TAKEOVER_RATIO * this.uses.get(holder)! + TAKEOVER_MARGIN) await this.drop(holder);
      // A cached size without it is rebuilt once no size holds it (and it is used at all often).
      if (models && this.holder() === undefined && used >= TAKEOVER_MARGIN) {
        await this.options.release(models);
        models = undefined;
      }
    }
    if (!models) {
      if (this.models.size >= this.options.capacity) await this.drop(this.models.keys().next().value as string);
      const t0 = performance.now();
      models = await this.options.build(dims, this.options.arena && this.holder() === undefined);
      this.options.onBuild?.({ dims: [...dims], arena: models.arena, seconds: (performance.now() - t0) / 1000 });
    }
    this.models.set(key, models);
    return models;
  }

  /** Sizes cached, least recently used first, and whether each has the arena. */
  get sizes(): { key: string; arena: boolean }[] {
    return [...this.models].map(([key, m]) => ({ key, arena: m.arena }));
  }

  /** Release every cached size's models. */
  async clear(): Promise<void> {
    const all = [...this.models.values()];
    this.models.clear();
    await Promise.all(all.map((m) => this.options.release(m)));
  }

  private holder(): string | undefined {
    for (const [key, m] of this.models) if (m.arena) return key;
    return undefined;
  }

  private async drop(key: string): Promise<void> {
    const m = this.models.get(key)!;
    this.models.delete(key);
    await this.options.release(m);
  }
}
