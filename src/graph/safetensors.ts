/**
 * The safetensors file format (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON header ({ name: { dtype, shape, data_offsets },
 * "__metadata__": { string: string } }), then the raw little-endian tensor bytes. We write tensors
 * sorted by name, contiguous, and pad the header with spaces to a multiple of 8 bytes.
 */
import { type DType, allocArray, bytesPerElement } from './dtype.js';
import { type Tensor, numel } from './values.js';
import { tensorBytes } from './serialize.js';

const TO_ST: Record<DType, string> = { float32: 'F32', float64: 'F64', int64: 'I64', int32: 'I32', uint8: 'U8', int8: 'I8', bool: 'BOOL' };
const FROM_ST: Record<string, DType> = Object.fromEntries(Object.entries(TO_ST).map(([k, v]) => [v, k as DType]));

/** Decoded safetensors content. */
export interface Safetensors {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** Encode tensors (and string metadata) as a safetensors file. */
export function encodeSafetensors(tensors: ReadonlyMap<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new RangeError('a tensor may not be named __metadata__');
    const t = tensors.get(name)!;
    const n = t.data.byteLength;
    header[name] = { dtype: TO_ST[t.dtype], shape: t.dims, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hb = enc.encode(json);
  if (hb.length % 8 !== 0) {
    json += ' '.repeat(8 - (hb.length % 8));
    hb = enc.encode(json);
  }
  const out = new Uint8Array(8 + hb.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let pos = 8 + hb.length;
  for (const name of names) {
    const b = tensorBytes(tensors.get(name)!);
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}

/** Decode a safetensors file; tensors are copied into aligned typed arrays. */
export function decodeSafetensors(bytes: Uint8Array): Safetensors {
  if (bytes.length < 8) throw new RangeError(`safetensors: file of ${bytes.length} bytes has no header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (8 + n > bytes.length) throw new RangeError(`safetensors: header length ${n} exceeds the file (${bytes.length} bytes)`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const dataStart = 8 + n;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const dtype = FROM_ST[e.dtype];
    if (!dtype) throw new TypeError(`safetensors: tensor '${name}' has unsupported dtype ${e.dtype}`);
    const [b, end] = e.data_offsets;
    const count = numel(e.shape);
    if (end - b !== count * bytesPerElement(dtype) || dataStart + end > bytes.length) {
      throw new RangeError(`safetensors: tensor '${name}' ${e.dtype}[${e.shape}] has data_offsets [${b}, ${end}] that do not fit`);
    }
    const data = allocArray(dtype, count);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + b, dataStart + end));
    tensors.set(name, { dtype, dims: [...e.shape], data });
  }
  return { tensors, metadata };
}
