/**
 * Serialization of a GraphBuilder to an ONNX ModelProto.
 *
 * Pinned opset: ai.onnx 17 (IR version 8). Why 17: it is the newest opset Debian's torch 1.13
 * exports (our reference implementation and source of imported weights), onnxruntime 1.30 runs
 * it on every execution provider, and it predates opset 18's move of Reduce* axes from
 * attributes to inputs and the GroupNormalization op whose meaning changed in opset 21. GroupNorm
 * is built from basic ops (src/graph/blocks.ts), so its meaning does not depend on the opset.
 * Opset-17 conventions the builder follows: ReduceSum/Squeeze/Unsqueeze/Split take axes or sizes
 * as inputs; ReduceMean/ReduceMax take an `axes` attribute.
 */
import type { Attr } from './attributes.js';
import type { GraphBuilder, Node } from './builder.js';
import { onnxTypeCode } from './dtype.js';
import { modelProtoType } from './proto/onnx.js';
import type { Tensor, Value } from './values.js';

/** The ai.onnx opset every graph is written at. */
export const OPSET = 17;
/** ONNX IR version matching OPSET. */
export const IR_VERSION = 8;

/** Options for serialization. */
export interface SerializeOptions {
  /** Also write value_info for intermediate values with known types (helps debugging in Netron). */
  valueInfo?: boolean;
  /** Model metadata (metadata_props). */
  metadata?: Record<string, string>;
  /** doc_string of the model. */
  docString?: string;
}

/** Raw little-endian bytes of a tensor (as ONNX raw_data expects). */
export function tensorBytes(t: Tensor): Uint8Array {
  const a = t.data;
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** TensorProto object for protobufjs. */
export function tensorProto(name: string, t: Tensor): Record<string, unknown> {
  return { name, dims: t.dims, data_type: onnxTypeCode(t.dtype), raw_data: tensorBytes(t) };
}

function attrProto(name: string, a: Attr): Record<string, unknown> {
  switch (a.type) {
    case 'int':
      return { name, type: 2, i: a.value };
    case 'float':
      return { name, type: 1, f: a.value };
    case 'string':
      return { name, type: 3, s: new TextEncoder().encode(a.value) };
    case 'ints':
      return { name, type: 7, ints: a.value };
    case 'floats':
      return { name, type: 6, floats: a.value };
    case 'strings':
      return { name, type: 8, strings: a.value.map((s) => new TextEncoder().encode(s)) };
    case 'tensor':
      return { name, type: 4, t: tensorProto('', a.value) };
  }
}

function nodeProto(n: Node): Record<string, unknown> {
  return {
    name: n.name,
    op_type: n.opType,
    domain: n.domain,
    input: n.inputs,
    output: n.outputs,
    attribute: Object.entries(n.attrs).map(([k, a]) => attrProto(k, a)),
  };
}

function valueInfo(v: Value): Record<string, unknown> {
  const tensorType: Record<string, unknown> = { elem_type: onnxTypeCode(v.dtype) };
  if (v.shape) {
    tensorType['shape'] = {
      dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : typeof d === 'string' ? { dim_param: d } : {})),
    };
  }
  return { name: v.name, type: { tensor_type: tensorType } };
}

/** The ModelProto as a plain object (before encoding). */
export function toModelObject(g: GraphBuilder, opts: SerializeOptions = {}): Record<string, unknown> {
  const inputs = g.inputs.map((n) => valueInfo(g.value(n)));
  const outputs = g.outputs.map((n) => valueInfo(g.value(n)));
  const initializer = [...g.initializers].map(([name, init]) => tensorProto(name, init.tensor));
  const graph: Record<string, unknown> = { name: g.name, node: g.nodes.map(nodeProto), initializer, input: inputs, output: outputs };
  if (opts.valueInfo) {
    const skip = new Set([...g.inputs, ...g.outputs, ...g.initializers.keys()]);
    graph['value_info'] = g.nodes.flatMap((n) => n.outputs).filter((n) => !skip.has(n)).map((n) => valueInfo(g.value(n)));
  }
  return {
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: OPSET }],
    producer_name: 'hpa-detect',
    producer_version: '0.1.0',
    doc_string: opts.docString ?? '',
    graph,
    metadata_props: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
}

/** Serialize the graph to ONNX ModelProto bytes (for InferenceSession.create or a .onnx file). */
export function serializeModel(g: GraphBuilder, opts: SerializeOptions = {}): Uint8Array {
  const T = modelProtoType();
  const obj = toModelObject(g, opts);
  return T.encode(T.fromObject(obj)).finish();
}
