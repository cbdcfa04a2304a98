/**
 * A typed ONNX graph builder. Values carry dtype and (partial) shape, inferred as nodes are
 * added; parameters and constants are initializers; scopes give torchvision-style dotted names
 * (`backbone.body.layer1.0.conv1.weight`).
 *
 * ```ts
 * const g = new GraphBuilder('net');
 * const x = g.input('x', 'float32', ['N', 3, 32, 32]);
 * const conv1 = g.scope('conv1');
 * const w = conv1.param('weight', tensor(new Float32Array(8 * 3 * 9), [8, 3, 3, 3]));
 * const y = g.op('Relu', [g.op('Conv', [x, w], { pads: [1, 1, 1, 1] })]);
 * g.output(y, 'features');
 * ```
 */
import { type Attr, type AttrInput, toAttr } from './attributes.js';
import { type DType, allocArray } from './dtype.js';
import { inferNode } from './shape-inference.js';
import { type Shape, type Tensor, type Value, formatShape, scalar } from './values.js';

/** One operator application. `inputs` may contain '' for an omitted optional input. */
export interface Node {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

/** An initializer: a trainable/loadable parameter or a fixed constant. */
export interface Initializer {
  tensor: Tensor;
  kind: 'param' | 'constant';
}

/** The shared storage behind a GraphBuilder and all its scopes. */
class GraphStore {
  nodes: Node[] = [];
  values = new Map<string, Value>();
  inputs: string[] = [];
  outputs: string[] = [];
  initializers = new Map<string, Initializer>();
  /** Values whose content is known while building (e.g. Shape of a static value). */
  known = new Map<string, Tensor>();
  /** Outputs of Shape(x) → x's (possibly symbolic) shape, so Reshape/Expand keep symbolic dims. */
  shapeContent = new Map<string, Shape>();
  /** Every name handed out (values and nodes) and the next suffix per base name. */
  used = new Set<string>();
  counters = new Map<string, number>();
  /** Node names are a namespace of their own (ONNX allows a node and a value to share a name). */
  nodeNames = new Set<string>();
  constructor(public name: string) {}

  /** A fresh unique node name starting with `base`. */
  uniqueNode(base: string): string {
    let name = base;
    for (let n = 1; this.nodeNames.has(name); n++) name = `${base}_${n}`;
    this.nodeNames.add(name);
    return name;
  }

  /** A fresh unique value name starting with `base`. */
  unique(base: string): string {
    let n = this.counters.get(base) ?? 0;
    let name = n === 0 && !this.used.has(base) ? base : `${base}_${n}`;
    while (this.used.has(name)) name = `${base}_${++n}`;
    this.counters.set(base, n + 1);
    this.used.add(name);
    return name;
  }

  claim(name: string): void {
    if (this.used.has(name)) throw new Error(`graph ${this.name}: name '${name}' is already used`);
    this.used.add(name);
  }
}

/**
 * Content of a node's output when it is known while building: Constant, Shape of a static
 * value, Concat of known 1-D vectors (how torch exports Resize scales). Shape inference and
 * gradient rules read axes, shapes and scales through it.
 */
function foldConstant(node: Node, inVals: (Value | undefined)[], known: (name: string) => Tensor | undefined): Tensor | undefined {
  const a = node.attrs['value'];
  if (node.opType === 'Constant' && a?.type === 'tensor') return a.value;
  const x = inVals[0];
  if (node.opType === 'Shape' && x?.shape?.every((d) => typeof d === 'number') && Object.keys(node.attrs).length === 0) {
    const dims = x.shape as number[];
    return { dtype: 'int64', dims: [dims.length], data: BigInt64Array.from(dims.map(BigInt)) };
  }
  if (node.opType === 'Concat' && inVals.length > 0) {
    const parts = node.inputs.map((n) => known(n));
    if (parts.some((p) => !p || p.dims.length !== 1 || p.dtype !== parts[0]!.dtype)) return undefined;
    const ts = parts as Tensor[];
    const n = ts.reduce((s, t) => s + t.data.length, 0);
    const data = allocArray(ts[0]!.dtype, n);
    let off = 0;
    for (const t of ts) {
      (data as Float32Array).set(t.data as Float32Array, off);
      off += t.data.length;
    }
    return { dtype: ts[0]!.dtype, dims: [n], data };
  }
  return undefined;
}

/** Options for op(): output count or explicit names, a node name, dtype/shape overrides. */
export interface OpOptions {
  /** Number of outputs (default 1) or their names. */
  outputs?: number | string[];
  /** Node name (scoped); default `<scope><OpType>`, made unique. */
  name?: string;
  /** Domain for custom ops; default '' (ai.onnx). */
  domain?: string;
  /** Output types for ops the shape inference does not know. */
  outputTypes?: { dtype: DType; shape?: Shape }[];
  /** When shape inference fails, record unknown shapes instead of throwing (used when loading). */
  lenient?: boolean;
}

/** Anything that names a value. */
export type ValueRef = Value | string;

/** Name of a value reference. */
export function refName(v: ValueRef): string {
  return typeof v === 'string' ? v : v.name;
}

/**
 * The graph builder. `scope(name)` returns a view that shares the graph and prefixes the names of
 * parameters and nodes it creates with `name.`.
 */
export class GraphBuilder {
  protected readonly store: GraphStore;
  /** Dotted prefix including the trailing '.', or '' at the root. */
  readonly prefix: string;

  constructor(name = 'graph', store?: GraphStore, prefix = '') {
    this.store = store ?? new GraphStore(name);
    this.prefix = prefix;
  }

  /** Graph name. */
  get name(): string {
    return this.store.name;
  }
  /** Nodes in insertion (= topological) order. */
  get nodes(): readonly Node[] {
    return this.store.nodes;
  }
  /** Graph input names in order. */
  get inputs(): readonly string[] {
    return this.store.inputs;
  }
  /** Graph output names in order. */
  get outputs(): readonly string[] {
    return this.store.outputs;
  }
  /** Initializers by name. */
  get initializers(): ReadonlyMap<string, Initializer> {
    return this.store.initializers;
  }
  /** Names of all trainable-kind initializers (parameters), in creation order. */
  get paramNames(): string[] {
    return [...this.store.initializers].filter(([, i]) => i.kind === 'param').map(([n]) => n);
  }

  /** A view whose parameter and node names start with `<prefix><name>.`. */
  scope(name: string | number): GraphBuilder {
    return new GraphBuilder(this.store.name, this.store, `${this.prefix}${name}.`);
  }

  /** Look up a value by name; throws naming it when absent. */
  value(ref: ValueRef): Value {
    const name = refName(ref);
    const v = this.store.values.get(name);
    if (!v) throw new Error(`graph ${this.store.name}: no value named '${name}'`);
    return v;
  }

  /** True when a value of that name exists. */
  has(name: string): boolean {
    return this.store.values.has(name);
  }

  /** Known content of a value while building: initializers and statically folded shapes. */
  constantValue(ref: ValueRef): Tensor | undefined {
    const name = refName(ref);
    return this.store.known.get(name) ?? this.store.initializers.get(name)?.tensor;
  }

  /** Add a graph input (not scoped: inputs are named by the caller). */
  input(name: string, dtype: DType, shape: Shape | undefined): Value {
    this.store.claim(name);
    const v: Value = { name, dtype, shape: shape && [...shape] };
    this.store.values.set(name, v);
    this.store.inputs.push(name);
    return v;
  }

  /** Add a parameter initializer named `<prefix><name>` (a weight that can be trained or loaded). */
  param(name: string, t: Tensor): Value {
    return this.addInitializer(this.prefix + name, t, 'param');
  }

  /** Add a constant initializer (uniquely named after `hint`). */
  constant(t: Tensor, hint = 'const'): Value {
    const name = this.store.unique(`${this.prefix}${hint}`);
    return this.addInitializer(name, t, 'constant', true);
  }

  /** A scalar constant of the given dtype. */
  scalar(value: number, dtype: DType = 'float32'): Value {
    return this.constant(scalar(dtype, value), 'scalar');
  }

  /** Replace an initializer's data (same dtype and dims), e.g. when loading weights. */
  setInitializer(name: string, t: Tensor): void {
    const init = this.store.initializers.get(name);
    if (!init) throw new Error(`graph ${this.store.name}: no initializer named '${name}'`);
    if (init.tensor.dtype !== t.dtype || init.tensor.dims.join() !== t.dims.join()) {
      throw new RangeError(
        `initializer '${name}': expected ${init.tensor.dtype}${formatShape(init.tensor.dims)}, got ${t.dtype}${formatShape(t.dims)}`,
      );
    }
    init.tensor = t;
  }

  /** Mark values as graph outputs, optionally renaming through an Identity. */
  output(v: ValueRef, as?: string): Value {
    let val = this.value(v);
    if (as !== undefined && as !== val.name) val = this.op('Identity', [val], {}, { outputs: [as] });
    if (this.store.outputs.includes(val.name)) throw new Error(`graph ${this.store.name}: '${val.name}' is already an output`);
    this.store.outputs.push(val.name);
    return val;
  }

  /**
   * Give an intermediate value a new name in place (its producer's output and every consumer's
   * input), for a graph output that would otherwise need an Identity: onnxruntime cannot drop an
   * Identity that produces a graph output, so it copies the tensor on every run. The old name
   * stops resolving, so a stale reference fails loudly.
   */
  renameValue(ref: ValueRef, to: string): Value {
    const from = refName(ref);
    const v = this.value(from);
    const st = this.store;
    const producer = st.nodes.find((n) => n.outputs.includes(from));
    if (!producer || st.outputs.includes(from)) throw new Error(`graph ${st.name}: can only rename an intermediate value, not '${from}'`);
    st.claim(to);
    producer.outputs = producer.outputs.map((o) => (o === from ? to : o));
    for (const n of st.nodes) if (n.inputs.includes(from)) n.inputs = n.inputs.map((i) => (i === from ? to : i));
    const renamed: Value = { ...v, name: to };
    st.values.delete(from);
    st.values.set(to, renamed);
    for (const m of [st.known, st.shapeContent] as Map<string, unknown>[]) {
      if (m.has(from)) {
        m.set(to, m.get(from));
        m.delete(from);
      }
    }
    return renamed;
  }

  /** Append a node with a single output and return that output. */
  op(opType: string, inputs: (ValueRef | '')[], attrs: Record<string, AttrInput> = {}, opts: OpOptions = {}): Value {
    const outs = this.ops(opType, inputs, attrs, opts);
    return outs[0]!;
  }

  /** Append a node and return all of its outputs. */
  ops(opType: string, inputs: (ValueRef | '')[], attrs: Record<string, AttrInput> = {}, opts: OpOptions = {}): Value[] {
    const nodeName = this.store.uniqueNode(this.prefix + (opts.name ?? opType));
    const inNames = inputs.map((i) => (i === '' ? '' : refName(i)));
    const inVals = inNames.map((n) => (n === '' ? undefined : this.value(n)));
    const outCount = typeof opts.outputs === 'number' ? opts.outputs : (opts.outputs?.length ?? 1);
    const outNames =
      Array.isArray(opts.outputs)
        ? // '' marks an omitted optional output in ONNX files; give it a private name.
          opts.outputs.map((n, i) => (n === '' ? this.store.unique(`${nodeName}:${i}`) : (this.store.claim(n), n)))
        : Array.from({ length: outCount }, (_, i) => this.store.unique(outCount === 1 ? nodeName : `${nodeName}:${i}`));
    const typedAttrs: Record<string, Attr> = {};
    for (const [k, v] of Object.entries(attrs)) typedAttrs[k] = toAttr(k, v);
    const node: Node = { name: nodeName, opType, domain: opts.domain ?? '', inputs: inNames, outputs: outNames, attrs: typedAttrs };
    const inferred = opts.outputTypes ?? this.infer(node, inVals, opts.lenient === true);
    const outs: Value[] = outNames.map((name, i) => {
      const t = inferred[i] ?? inferred[0];
      if (!t) throw new Error(`node ${nodeName} (${opType}): no type for output ${i}; pass opts.outputTypes`);
      const v: Value = { name, dtype: t.dtype, shape: t.shape && [...t.shape] };
      this.store.values.set(name, v);
      return v;
    });
    this.store.nodes.push(node);
    const folded = foldConstant(node, inVals, (n) => this.constantValue(n));
    if (folded) this.store.known.set(outNames[0]!, folded);
    if (opType === 'Shape' && inVals[0]?.shape && Object.keys(typedAttrs).length === 0) this.store.shapeContent.set(outNames[0]!, inVals[0].shape);
    return outs;
  }

  /** Add a second output to an existing node (e.g. MaxPool's Indices for its gradient). */
  addNodeOutput(node: Node, dtype: DType, shape: Shape | undefined, hint: string): Value {
    const name = this.store.unique(hint);
    node.outputs.push(name);
    const v: Value = { name, dtype, shape: shape && [...shape] };
    this.store.values.set(name, v);
    return v;
  }

  /** Remove outputs from the output list (e.g. to rebuild an artifact's output set). */
  clearOutputs(): void {
    this.store.outputs.length = 0;
  }

  /** Turn an initializer into a graph input of the same name (parameters fed at run time). */
  initializerToInput(name: string): Value {
    const init = this.store.initializers.get(name);
    if (!init) throw new Error(`graph ${this.store.name}: no initializer named '${name}'`);
    this.store.initializers.delete(name);
    this.store.inputs.push(name);
    return this.value(name);
  }

  /** A deep-enough copy: nodes, values, initializers (tensor data shared). */
  clone(): GraphBuilder {
    const s = new GraphStore(this.store.name);
    const src = this.store;
    s.nodes = src.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } }));
    s.values = new Map(src.values);
    s.inputs = [...src.inputs];
    s.outputs = [...src.outputs];
    s.initializers = new Map([...src.initializers].map(([k, v]) => [k, { ...v }]));
    s.known = new Map(src.known);
    s.shapeContent = new Map(src.shapeContent);
    s.used = new Set(src.used);
    s.counters = new Map(src.counters);
    s.nodeNames = new Set(src.nodeNames);
    return new GraphBuilder(s.name, s, '');
  }

  /**
   * A copy holding only what `outputs` need: their producing nodes, the inputs and initializers
   * those read. Outputs keep their names (e.g. an inference model cut from a training graph).
   */
  pruned(outputs: readonly string[]): GraphBuilder {
    const src = this.store;
    const need = new Set(outputs);
    const keep = new Set<Node>();
    for (let k = src.nodes.length - 1; k >= 0; k--) {
      const n = src.nodes[k]!;
      if (!n.outputs.some((o) => need.has(o))) continue;
      keep.add(n);
      for (const i of n.inputs) if (i !== '') need.add(i);
    }
    const copy = this.clone();
    const s = copy.store;
    s.nodes = s.nodes.filter((_, k) => keep.has(src.nodes[k]!));
    s.inputs = s.inputs.filter((i) => need.has(i));
    for (const name of [...s.initializers.keys()]) if (!need.has(name)) s.initializers.delete(name);
    s.outputs = outputs.map((o) => (this.value(o), o));
    return copy;
  }

  private infer(node: Node, inVals: (Value | undefined)[], lenient: boolean): { dtype: DType; shape?: Shape }[] {
    try {
      return inferNode(node, inVals, (n) => this.constantValue(n), (n) => this.store.shapeContent.get(n));
    } catch (err) {
      if (!lenient) throw err;
      return node.outputs.map(() => ({ dtype: inVals.find((v) => v)?.dtype ?? 'float32', shape: undefined }));
    }
  }

  private addInitializer(name: string, t: Tensor, kind: Initializer['kind'], claimed = false): Value {
    if (!claimed) this.store.claim(name);
    const v: Value = { name, dtype: t.dtype, shape: [...t.dims] };
    this.store.values.set(name, v);
    this.store.initializers.set(name, { tensor: t, kind });
    return v;
  }
}
