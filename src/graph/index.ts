/**
 * ONNX graph builder, shape inference, serialization, loading and reverse-mode autodiff.
 * See docs/graph.md.
 */
export * from './attributes.js';
export * from './dtype.js';
export * from './values.js';
export { GraphBuilder, refName, type Node, type Initializer, type OpOptions, type ValueRef } from './builder.js';
export { inferNode, sliceRange, type InferredType } from './shape-inference.js';
export { serializeModel, toModelObject, OPSET, IR_VERSION, type SerializeOptions } from './serialize.js';
export { loadModel, readInitializers, decodeTensor, type LoadOptions } from './load.js';
export { runGraph, runSession, createSession, toOrtTensor, fromOrtTensor } from './ort.js';
export * from './blocks.js';
export { buildGradient, gradName, type GradientOptions, type Gradients } from './autodiff.js';
export { GRAD_RULES } from './grad/index.js';
export { GradContext, type GradRule } from './grad/context.js';
export { gradCheck, type GradCheckOptions, type GradCheckResult, type GradCheckEntry } from './gradcheck.js';
export * from './losses.js';
export { buildTrainingArtifacts, writeTrainingArtifacts, ARTIFACT_FILES, type TrainingSegment, type TrainingArtifactGraphs, type InitialCheckpoint, type WriteArtifactsOptions } from './artifacts.js';
export { buildSplitTrainingGraphs, type SplitTrainingGraphs } from './split-training.js';
// Files (safetensors, checkpoints) live in src/io and src/train; this converts graph tensors for them.
export { toHostTensor, fromHostTensor, toHostTensors, fromHostTensors } from './host-tensor.js';
