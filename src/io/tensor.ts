/**
 * Host tensors as stored in files: a dtype named as safetensors names it, a row-major shape, and a
 * little-endian typed array holding the elements.
 */

/** Element types of the safetensors format that this project reads and writes. */
export const SAFETENSORS_DTYPES = ['F64', 'F32', 'F16', 'BF16', 'I64', 'U64', 'I32', 'U32', 'I16', 'U16', 'I8', 'U8', 'BOOL'] as const;

/** A safetensors element type. F16 and BF16 are kept as raw 16-bit words (Uint16Array). */
export type SafetensorsDType = (typeof SAFETENSORS_DTYPES)[number];

/** Typed array that holds the elements of each dtype (BOOL: one byte per element, 0 or 1). */
export type TensorDataFor<D extends SafetensorsDType> = D extends 'F64'
  ? Float64Array
  : D extends 'F32'
    ? Float32Array
    : D extends 'F16' | 'BF16' | 'U16'
      ? Uint16Array
      : D extends 'I64'
        ? BigInt64Array
        : D extends 'U64'
          ? BigUint64Array
          : D extends 'I32'
            ? Int32Array
            : D extends 'U32'
              ? Uint32Array
              : D extends 'I16'
                ? Int16Array
                : D extends 'I8'
                  ? Int8Array
                  : Uint8Array;

/** Any typed array a stored tensor may hold. */
export type TensorData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** A tensor held in memory: `data.length` equals the product of `shape` (1 for a scalar, shape []). */
export interface HostTensor<D extends SafetensorsDType = SafetensorsDType> {
  dtype: D;
  shape: number[];
  data: TensorDataFor<D>;
}

type ArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
  new (length: number): TensorData;
  readonly BYTES_PER_ELEMENT: number;
};

const ARRAY_CLASS: Record<SafetensorsDType, ArrayCtor> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
  I32: Int32Array,
  U32: Uint32Array,
  I16: Int16Array,
  U16: Uint16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
} as Record<SafetensorsDType, ArrayCtor>;

/** True for the dtype names of the safetensors format that this project handles. */
export function isSafetensorsDType(s: unknown): s is SafetensorsDType {
  return typeof s === 'string' && (SAFETENSORS_DTYPES as readonly string[]).includes(s);
}

/** Bytes per element of a dtype. */
export function dtypeSize(dtype: SafetensorsDType): number {
  return ARRAY_CLASS[dtype].BYTES_PER_ELEMENT;
}

/** The typed-array class that holds `dtype`. */
export function arrayClassOf(dtype: SafetensorsDType): ArrayCtor {
  return ARRAY_CLASS[dtype];
}

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * A typed-array view of `length` elements of `dtype` at `bytes[start..]`: a view when the address is
 * aligned for the element type, otherwise an aligned copy (typed arrays cannot be misaligned).
 */
export function typedView(dtype: SafetensorsDType, bytes: Uint8Array, start: number, length: number): TensorData {
  const Ctor = ARRAY_CLASS[dtype];
  const offset = bytes.byteOffset + start;
  if (offset % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(bytes.buffer, offset, length);
  // Not bytes.slice(): on a Node Buffer that is a view, not a copy.
  const copy = new Uint8Array(length * Ctor.BYTES_PER_ELEMENT);
  copy.set(bytes.subarray(start, start + copy.length));
  return new Ctor(copy.buffer, 0, length);
}

/** The bytes of a typed array, as a view (no copy). */
export function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Convenience: an F32 tensor of `shape` over `data` (a zero-filled one when `data` is left out). */
export function f32Tensor(shape: number[], data?: Float32Array | number[]): HostTensor<'F32'> {
  const n = elementCount(shape);
  const arr = data instanceof Float32Array ? data : data ? Float32Array.from(data) : new Float32Array(n);
  if (arr.length !== n) throw new RangeError(`f32Tensor: data has ${arr.length} elements, shape [${shape}] needs ${n}`);
  return { dtype: 'F32', shape: [...shape], data: arr };
}
