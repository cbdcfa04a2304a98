/**
 * Loading ONNX files: initializers by name (weights from torchvision exports) and whole graphs
 * into a GraphBuilder (for inspection, re-export, or appending a gradient).
 */
import type protobuf from 'protobufjs';
import { type AttrInput, type Attr } from './attributes.js';
import { GraphBuilder } from './builder.js';
import { type DType, allocArray, bytesPerElement, dtypeFromOnnx, isFloat } from './dtype.js';
import { modelProtoType } from './proto/onnx.js';
import { OPSET } from './serialize.js';
import { type Dim, type Tensor, numel } from './values.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protobuf messages are untyped */
type Msg = any;

/** Decoded messages hold present fields as own properties; defaults live on the prototype. */
function has(m: Msg, field: string): boolean {
  return Object.prototype.hasOwnProperty.call(m, field);
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number((v as { toString(): string }).toString());
}

/** Decode one TensorProto into a Tensor (raw_data or the typed repeated fields). */
export function decodeTensor(t: Msg): Tensor {
  const dtype = dtypeFromOnnx(t.data_type);
  const dims: number[] = (t.dims ?? []).map(num);
  const n = numel(dims);
  if (t.data_location === 1) throw new Error(`tensor '${t.name}': external data is not supported; re-export with the weights inside the file`);
  const data = allocArray(dtype, n);
  const raw: Uint8Array | undefined = t.raw_data && t.raw_data.length > 0 ? t.raw_data : undefined;
  if (raw) {
    if (raw.length !== n * bytesPerElement(dtype)) throw new RangeError(`tensor '${t.name}': raw_data has ${raw.length} bytes, dims [${dims}] of ${dtype} need ${n * bytesPerElement(dtype)}`);
    new Uint8Array(data.buffer).set(raw);
    return { dtype, dims, data };
  }
  const src: unknown[] =
    dtype === 'float32' ? t.float_data : dtype === 'float64' ? t.double_data : dtype === 'int64' ? t.int64_data : t.int32_data;
  if ((src?.length ?? 0) !== n) throw new RangeError(`tensor '${t.name}': has ${src?.length ?? 0} values, dims [${dims}] need ${n}`);
  for (let i = 0; i < n; i++) {
    if (data instanceof BigInt64Array) data[i] = BigInt((src[i] as { toString(): string }).toString());
    else data[i] = num(src[i]);
  }
  return { dtype, dims, data };
}

function decodeModel(bytes: Uint8Array): Msg {
  const T: protobuf.Type = modelProtoType();
  return T.decode(bytes);
}

/** All initializers of an ONNX file by name. */
export function readInitializers(bytes: Uint8Array): Map<string, Tensor> {
  const m = decodeModel(bytes);
  const out = new Map<string, Tensor>();
  for (const t of m.graph?.initializer ?? []) out.set(t.name, decodeTensor(t));
  return out;
}

function decodeAttr(a: Msg): AttrInput {
  const td = new TextDecoder();
  const typed = (x: Attr): Attr => x;
  switch (a.type) {
    case 1:
      return typed({ type: 'float', value: a.f });
    case 2:
      return typed({ type: 'int', value: num(a.i) });
    case 3:
      return typed({ type: 'string', value: td.decode(a.s) });
    case 4:
      return typed({ type: 'tensor', value: decodeTensor(a.t) });
    case 6:
      return typed({ type: 'floats', value: [...a.floats] });
    case 7:
      return typed({ type: 'ints', value: a.ints.map(num) });
    case 8:
      return typed({ type: 'strings', value: a.strings.map((s: Uint8Array) => td.decode(s)) });
    default:
      throw new Error(`attribute ${a.name}: type ${a.type} is not supported`);
  }
}

function decodeShape(vi: Msg): { dtype: DType; shape: Dim[] | undefined } {
  const tt = vi.type?.tensor_type;
  if (!tt) throw new Error(`value '${vi.name}' is not a tensor`);
  const shape = tt.shape ? tt.shape.dim.map((d: Msg): Dim => (has(d, 'dim_value') ? num(d.dim_value) : has(d, 'dim_param') ? d.dim_param : null)) : undefined;
  return { dtype: dtypeFromOnnx(tt.elem_type), shape };
}

/**
 * Graphs are re-emitted at opset 17, so the loaded file must mean the same thing there: opsets
 * 13–17 agree on the ops we use (axes/split as inputs for ReduceSum, Squeeze, Unsqueeze, Split);
 * 12 and older pass them as attributes, 18+ moves the other Reduce* axes to inputs.
 */
function checkOpset(m: Msg): void {
  const onnx = (m.opset_import ?? []).find((o: Msg) => !o.domain || o.domain === 'ai.onnx');
  const v = onnx ? num(onnx.version) : undefined;
  if (v === undefined || v < 13 || v > OPSET) {
    throw new Error(`loadModel: the file uses ai.onnx opset ${v ?? '(none)'}; only 13–${OPSET} load as graphs (re-export with opset_version=${OPSET}; readInitializers() reads weights from any opset)`);
  }
}

/** Options for loadModel. */
export interface LoadOptions {
  /** Which float initializers count as parameters (default: all float ones); others are constants. */
  isParam?: (name: string) => boolean;
}

/**
 * Load an ONNX model into a GraphBuilder: inputs, initializers (float ones as parameters),
 * nodes (types re-inferred; unknown where inference cannot tell) and outputs. The opset of the
 * file is not converted: load files written at opset 17 (what torch 1.13 and this builder write).
 */
export function loadModel(bytes: Uint8Array, opts: LoadOptions = {}): GraphBuilder {
  const m = decodeModel(bytes);
  const gp = m.graph;
  if (!gp) throw new Error('ONNX model has no graph');
  checkOpset(m);
  const g = new GraphBuilder(gp.name || 'graph');
  const initNames = new Set<string>();
  for (const t of gp.initializer ?? []) {
    const tensor = decodeTensor(t);
    initNames.add(t.name);
    if (isFloat(tensor.dtype) && (opts.isParam?.(t.name) ?? true)) g.param(t.name, tensor);
    else g.constant(tensor, t.name);
  }
  for (const vi of gp.input ?? []) {
    if (initNames.has(vi.name)) continue; // old exporters list initializers among the inputs
    const { dtype, shape } = decodeShape(vi);
    g.input(vi.name, dtype, shape);
  }
  for (const n of gp.node ?? []) {
    if (n.domain && n.domain !== '' && n.domain !== 'ai.onnx') throw new Error(`node ${n.name} (${n.op_type}): domain '${n.domain}' is not supported`);
    const attrs: Record<string, AttrInput> = {};
    for (const a of n.attribute ?? []) attrs[a.name] = decodeAttr(a);
    g.ops(n.op_type, n.input.map((i: string) => i), attrs, { outputs: [...n.output], name: n.name || n.op_type, lenient: true });
  }
  for (const vi of gp.output ?? []) g.output(vi.name);
  return g;
}
