/**
 * Running a built graph in onnxruntime-node: conversion between our Tensor and ort.Tensor and a
 * one-call session helper (for tests, tools and small jobs; long-running code keeps its session).
 */
import * as ort from 'onnxruntime-node';
import type { GraphBuilder } from './builder.js';
import type { DType, TensorArray } from './dtype.js';
import { serializeModel } from './serialize.js';
import type { Tensor } from './values.js';

/** Our Tensor as an ort.Tensor (data shared, not copied). */
export function toOrtTensor(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.dtype as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.dims);
}

/** An ort.Tensor as our Tensor (data shared). */
export function fromOrtTensor(t: ort.Tensor): Tensor {
  return { dtype: t.type as DType, dims: [...t.dims], data: t.data as TensorArray };
}

/** Create a session for a graph (CPU; pass options for other providers or thread counts). */
export async function createSession(g: GraphBuilder, options: ort.InferenceSession.SessionOptions = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(serializeModel(g), options);
}

/** Run `g` once with `feeds` and return every graph output by name. */
export async function runGraph(
  g: GraphBuilder,
  feeds: Record<string, Tensor>,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<Record<string, Tensor>> {
  const session = await createSession(g, options);
  try {
    return await runSession(session, feeds);
  } finally {
    await session.release();
  }
}

/** Run an existing session with our Tensors. */
export async function runSession(session: ort.InferenceSession, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrtTensor(v);
  const res = await session.run(ortFeeds);
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(res)) out[k] = fromOrtTensor(v);
  return out;
}
