/**
 * Values (typed, shaped graph edges) and tensors (constant data for initializers).
 */
import { type DType, type TensorArray, allocArray, dtypeOfArray } from './dtype.js';

/** One dimension: a known size, a symbolic name shared between values (e.g. 'N'), or unknown. */
export type Dim = number | string | null;

/** A shape; `undefined` where even the rank is unknown. */
export type Shape = Dim[];

/** A named edge of the graph with its element type and (possibly partial) shape. */
export interface Value {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape | undefined;
}

/** Constant tensor data: dims plus a typed array in row-major order. */
export interface Tensor {
  dtype: DType;
  dims: number[];
  data: TensorArray;
}

/** Number of elements of fully known dims. */
export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Build a tensor, checking that the data length matches the dims. */
export function tensor(data: TensorArray, dims: number[], dtype: DType = dtypeOfArray(data)): Tensor {
  if (data.length !== numel(dims)) {
    throw new RangeError(`tensor data has ${data.length} elements but dims [${dims}] need ${numel(dims)}`);
  }
  return { dtype, dims: [...dims], data };
}

/** A tensor filled with `value`. */
export function filled(dtype: DType, dims: number[], value: number): Tensor {
  const data = allocArray(dtype, numel(dims));
  if (data instanceof BigInt64Array) data.fill(BigInt(value));
  else data.fill(value);
  return { dtype, dims: [...dims], data };
}

/** A 1-D int64 tensor (shapes, axes, indices as ONNX wants them). */
export function int64s(values: readonly number[]): Tensor {
  return { dtype: 'int64', dims: [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) };
}

/** A scalar (rank-0) tensor. */
export function scalar(dtype: DType, value: number): Tensor {
  return filled(dtype, [], value);
}

/** Tensor values as plain numbers (int64 converted; precision beyond 2^53 is lost). */
export function toNumbers(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/** True when every dim is a known number. */
export function isStatic(shape: Shape | undefined): shape is number[] {
  return shape !== undefined && shape.every((d) => typeof d === 'number');
}

/** Shape as text for error messages: [N,3,224,?]. */
export function formatShape(shape: Shape | undefined): string {
  if (shape === undefined) return '[?rank]';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}
