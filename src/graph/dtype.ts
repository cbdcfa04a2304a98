/**
 * Element types the graph builder handles, their ONNX TensorProto codes and typed-array classes.
 */

/** Element type of a graph value (the names onnxruntime-node's Tensor uses). */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'int8' | 'bool';

/** Typed array holding the elements of a tensor of each dtype (bool as one byte per element). */
export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int64'
      ? BigInt64Array
      : D extends 'int32'
        ? Int32Array
        : D extends 'int8'
          ? Int8Array
          : Uint8Array;

/** Any typed array an initializer may hold. */
export type TensorArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

const ONNX_CODE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float64: 11,
};

/** Whether `name` (an onnxruntime-node tensor type, say) is one of the builder's dtypes. */
export function isDType(name: string): name is DType {
  return Object.hasOwn(ONNX_CODE, name);
}

/** ONNX TensorProto.DataType code of a dtype. */
export function onnxTypeCode(dtype: DType): number {
  return ONNX_CODE[dtype];
}

/** dtype of an ONNX TensorProto.DataType code; throws for types the builder does not handle. */
export function dtypeFromOnnx(code: number): DType {
  for (const [k, v] of Object.entries(ONNX_CODE)) if (v === code) return k as DType;
  throw new TypeError(`unsupported ONNX element type code ${code}`);
}

/** Bytes per element. */
export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case 'float64':
    case 'int64':
      return 8;
    case 'float32':
    case 'int32':
      return 4;
    default:
      return 1;
  }
}

/** A zero-filled typed array of `n` elements of `dtype`. */
export function allocArray(dtype: DType, n: number): TensorArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'int8':
      return new Int8Array(n);
    default:
      return new Uint8Array(n);
  }
}

/** dtype of a typed array (Uint8Array maps to 'uint8'; say 'bool' explicitly where meant). */
export function dtypeOfArray(a: TensorArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Int8Array) return 'int8';
  return 'uint8';
}

/** True for the floating-point dtypes (the only ones gradients flow through). */
export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}
