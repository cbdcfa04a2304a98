/**
 * Class names → label ids for detection training, as torchvision numbers them: 0 is the
 * background, the K object classes are 1..K in a stable order (an explicit list, or the names
 * seen in the data sorted), so the same data gives the same ids in every format and every run.
 */

/** A box whose class has no label id; the message names the class and the annotation file. */
export class ClassMapError extends Error {
  override name = 'ClassMapError';
  constructor(
    readonly className: string,
    readonly file: string,
    known: readonly string[],
  ) {
    super(`${file}: unknown class '${className}' (classes: ${known.join(', ')})`);
  }
}

/** The label id of each class name: background 0, classes 1..K. */
export class ClassMap {
  private readonly ids: ReadonlyMap<string, number>;

  /** `names` in label order (id = index + 1); throws a RangeError naming an empty or repeated name. */
  constructor(readonly names: readonly string[]) {
    const ids = new Map<string, number>();
    names.forEach((name, i) => {
      if (typeof name !== 'string' || name === '') throw new RangeError(`classes[${i}] must be a non-empty class name`);
      if (ids.has(name)) throw new RangeError(`classes[${i}]: class '${name}' is listed twice`);
      ids.set(name, i + 1);
    });
    this.ids = ids;
  }

  /** The names seen in `annotations`, sorted (code-point order, locale independent). */
  static fromAnnotations(annotations: Iterable<{ objects: readonly { name: string }[] }>): ClassMap {
    const seen = new Set<string>();
    for (const a of annotations) for (const o of a.objects) seen.add(o.name);
    return new ClassMap([...seen].sort());
  }

  /** K, the number of object classes (the model has K + 1 outputs with the background). */
  get size(): number {
    return this.names.length;
  }

  /** Label id of `name` (1..K); throws ClassMapError naming the class and `file` when unknown. */
  labelOf(name: string, file: string): number {
    const id = this.ids.get(name);
    if (id === undefined) throw new ClassMapError(name, file, this.names);
    return id;
  }

  /** Class name of label id 1..K ('__background__' for 0, torchvision's name). */
  nameOf(label: number): string {
    if (label === 0) return '__background__';
    const name = this.names[label - 1];
    if (name === undefined) throw new RangeError(`label ${label} is outside 0..${this.size}`);
    return name;
  }

  /** Whether `name` has a label id. */
  has(name: string): boolean {
    return this.ids.has(name);
  }
}
