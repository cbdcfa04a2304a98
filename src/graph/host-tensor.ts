/**
 * The bridge between the graph builder's Tensor (onnxruntime's dtype names, `dims`) and the file
 * layer's HostTensor (safetensors dtype names, `shape`), so that graph parameters go through the one
 * safetensors/checkpoint implementation (src/io/safetensors.ts, src/train/checkpoint.ts). The data
 * array is shared, never copied.
 */
import type { DType, TensorArray } from './dtype.js';
import type { Tensor } from './values.js';
import type { HostTensor, SafetensorsDType, TensorData } from '../io/tensor.js';

const TO_FILE: Record<DType, SafetensorsDType> = {
  float32: 'F32',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  uint8: 'U8',
  int8: 'I8',
  bool: 'BOOL',
};
const FROM_FILE: Partial<Record<SafetensorsDType, DType>> = Object.fromEntries(Object.entries(TO_FILE).map(([g, f]) => [f, g]));

/** A graph Tensor as a HostTensor (same data array). */
export function toHostTensor(t: Tensor): HostTensor {
  return { dtype: TO_FILE[t.dtype], shape: [...t.dims], data: t.data as TensorData } as HostTensor;
}

/**
 * A HostTensor as a graph Tensor (same data array). `name` (the tensor's name in its file) goes
 * into the error for dtypes the graph builder has no type for (F16, BF16, unsigned 16/32/64-bit).
 */
export function fromHostTensor(t: HostTensor, name = '<tensor>'): Tensor {
  const dtype = FROM_FILE[t.dtype];
  if (dtype === undefined) throw new TypeError(`tensor "${name}": dtype ${t.dtype} has no graph dtype (convert it to F32 first)`);
  return { dtype, dims: [...t.shape], data: t.data as TensorArray };
}

/** Every tensor of a map as a HostTensor (e.g. graph parameters for saveCheckpoint). */
export function toHostTensors(tensors: ReadonlyMap<string, Tensor>): Map<string, HostTensor> {
  return new Map([...tensors].map(([name, t]) => [name, toHostTensor(t)]));
}

/** Every tensor of a map as a graph Tensor (e.g. checkpoint parameters for an ORT feed). */
export function fromHostTensors(tensors: ReadonlyMap<string, HostTensor>): Map<string, Tensor> {
  return new Map([...tensors].map(([name, t]) => [name, fromHostTensor(t, name)]));
}
