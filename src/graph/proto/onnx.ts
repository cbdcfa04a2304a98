/**
 * protobufjs types for the ONNX messages in onnx-schema.ts, parsed once on first use.
 * Why protobufjs over the `onnx-proto` npm package: that package pins protobufjs 6 (a second,
 * older copy beside the protobufjs 8 we already depend on) and ships a generated schema of an
 * unstated ONNX version; the schema here is the upstream text, trimmed, and reviewable.
 */
import protobuf from 'protobufjs';
import { ONNX_PROTO_SCHEMA } from './onnx-schema.js';

let root: protobuf.Root | undefined;

/** The ModelProto message type. */
export function modelProtoType(): protobuf.Type {
  root ??= protobuf.parse(ONNX_PROTO_SCHEMA, { keepCase: true }).root;
  return root.lookupType('onnx.ModelProto');
}
