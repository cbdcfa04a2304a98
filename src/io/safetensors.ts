/**
 * The safetensors file format (https://github.com/huggingface/safetensors), read and written exactly
 * as its specification and reference implementation do:
 *
 *   [8 bytes: header length N, unsigned little-endian 64-bit]
 *   [N bytes: UTF-8 JSON {"__metadata__": {string: string}?, "<name>": {"dtype", "shape", "data_offsets": [begin, end]}, ...},
 *             padded with spaces to a multiple of 8 bytes]
 *   [data section: every tensor's little-endian row-major bytes, contiguous, no holes; offsets relative to it]
 *
 * Writing orders tensors as the reference implementation does (by descending dtype alignment, then by
 * name, byte-wise), so every tensor starts at an offset aligned for its element type and readers can
 * view it without a copy. Reading accepts any order and validates the whole header first.
 */
import { promises as fs } from 'node:fs';
import { endianness } from 'node:os';
import { withAtomicOutput } from '../util/atomic.js';
import {
  arrayClassOf,
  bytesOf,
  dtypeSize,
  elementCount,
  isSafetensorsDType,
  typedView,
  SAFETENSORS_DTYPES,
  type HostTensor,
  type SafetensorsDType,
} from './tensor.js';

/** Largest header accepted on read, as in the reference implementation (100 MB). */
export const MAX_HEADER_SIZE = 100_000_000;

/** The reserved header key of the free-form string→string metadata map. */
export const METADATA_KEY = '__metadata__';

/** Tensors by name; a Map keeps its order, a plain object is taken in key order. */
export type TensorMap = ReadonlyMap<string, HostTensor> | Readonly<Record<string, HostTensor>>;

/** Contents of a safetensors file: tensors in data-section order, and the optional metadata map. */
export interface SafetensorsContents {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string> | undefined;
}

/** A malformed or unreadable safetensors file, or tensors that cannot be written; names file and tensor. */
export class SafetensorsError extends Error {
  constructor(
    readonly source: string,
    readonly tensor: string | undefined,
    detail: string,
  ) {
    super(`${source}: ${tensor === undefined ? '' : `tensor "${tensor}": `}${detail}`);
    this.name = 'SafetensorsError';
  }
}

// Rank of each dtype in the reference implementation's Dtype enum (declared in increasing alignment);
// writing sorts by descending rank, then by name.
const DTYPE_RANK: Record<SafetensorsDType, number> = {
  BOOL: 0, U8: 1, I8: 2, I16: 5, U16: 6, F16: 7, BF16: 8, I32: 9, U32: 10, F32: 11, F64: 12, I64: 13, U64: 14,
};

function assertLittleEndianHost(): void {
  // Typed arrays use the host byte order; the format is little-endian.
  if (endianness() !== 'LE') throw new Error('safetensors: big-endian hosts are not supported');
}

function entriesOf(tensors: TensorMap): [string, HostTensor][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors as Record<string, HostTensor>);
}

function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')); // byte-wise, as Rust orders strings
}

function checkTensorForWrite(source: string, name: string, t: HostTensor): void {
  if (name.length === 0) throw new SafetensorsError(source, name, 'empty tensor name');
  if (name === METADATA_KEY) throw new SafetensorsError(source, name, `"${METADATA_KEY}" is reserved for the metadata map`);
  if (!isSafetensorsDType(t.dtype)) throw new SafetensorsError(source, name, `dtype ${JSON.stringify(t.dtype)} is not one of ${SAFETENSORS_DTYPES.join(', ')}`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(source, name, `shape must be an array of non-negative integers, got ${JSON.stringify(t.shape)}`);
  }
  const Ctor = arrayClassOf(t.dtype);
  if (!(t.data instanceof Ctor)) {
    throw new SafetensorsError(source, name, `data for dtype ${t.dtype} must be a ${Ctor.name}, got ${(t.data as object)?.constructor?.name ?? typeof t.data}`);
  }
  const n = elementCount(t.shape);
  if (t.data.length !== n) throw new SafetensorsError(source, name, `data has ${t.data.length} elements, shape [${t.shape.join(', ')}] needs ${n}`);
}

/**
 * Validate tensors for writing and return them in the order the writer lays out the data section
 * (descending dtype alignment, then name byte-wise), e.g. to hash the data section before writing.
 */
export function safetensorsWriteOrder(tensors: TensorMap, source = '<safetensors>'): [string, HostTensor][] {
  const ordered = entriesOf(tensors);
  const seen = new Set<string>();
  for (const [name, t] of ordered) {
    if (seen.has(name)) throw new SafetensorsError(source, name, 'duplicate tensor name');
    seen.add(name);
    checkTensorForWrite(source, name, t);
  }
  return ordered.sort(([an, a], [bn, b]) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || compareNames(an, bn));
}

/** The header (length word + padded JSON) and the tensors in data-section order. */
export interface PreparedSafetensors {
  header: Uint8Array;
  ordered: [string, HostTensor][];
  dataBytes: number;
}

/**
 * Validate tensors and metadata and build the header bytes exactly as the reference writer does.
 * `source` names the target in error messages.
 */
export function prepareSafetensors(tensors: TensorMap, metadata?: Readonly<Record<string, string>>, source = '<safetensors>'): PreparedSafetensors {
  const ordered = safetensorsWriteOrder(tensors, source);
  // Entries are joined by hand: a JS object would move integer-like names ("0", "12") to the front.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const meta: string[] = [];
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(source, undefined, `${METADATA_KEY}["${k}"] must be a string, got ${typeof v}`);
      meta.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${meta.join(',')}}`);
  }
  let offset = 0;
  for (const [name, t] of ordered) {
    const n = t.data.byteLength;
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + n] })}`);
    offset += n;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Math.ceil(json.length / 8) * 8; // the reference pads with spaces so data starts 8-aligned
  const bytes = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(padded), true);
  bytes.set(json, 8);
  return { header: bytes, ordered, dataBytes: offset };
}

/** The whole file in memory (for small files and tests; writeSafetensors streams instead). */
export function serializeSafetensors(tensors: TensorMap, metadata?: Readonly<Record<string, string>>): Uint8Array {
  assertLittleEndianHost();
  const { header, ordered, dataBytes } = prepareSafetensors(tensors, metadata);
  const out = new Uint8Array(header.length + dataBytes);
  out.set(header, 0);
  let at = header.length;
  for (const [, t] of ordered) {
    out.set(bytesOf(t.data), at);
    at += t.data.byteLength;
  }
  return out;
}

/** Options of writeSafetensors. */
export interface WriteSafetensorsOptions {
  /** Flush the temp file to disk before the rename (default true: a crash leaves old or new, never empty). */
  fsync?: boolean;
}

const WRITE_CHUNK = 1 << 30; // one write() call moves at most 2 GB

/**
 * Write a safetensors file atomically: stream header and tensors into a temp file beside `file`, then
 * rename it over `file`. On any failure the temp file is removed and an existing `file` is untouched.
 */
export async function writeSafetensors(
  file: string,
  tensors: TensorMap,
  metadata?: Readonly<Record<string, string>>,
  options: WriteSafetensorsOptions = {},
): Promise<void> {
  assertLittleEndianHost();
  const { header, ordered } = prepareSafetensors(tensors, metadata, file);
  await withAtomicOutput(file, async (tmp) => {
    const fh = await fs.open(tmp, 'w');
    try {
      let position = 0;
      const writeAll = async (bytes: Uint8Array): Promise<void> => {
        for (let done = 0; done < bytes.length; ) {
          const { bytesWritten } = await fh.write(bytes, done, Math.min(WRITE_CHUNK, bytes.length - done), position);
          done += bytesWritten;
          position += bytesWritten;
        }
      };
      await writeAll(header);
      for (const [name, t] of ordered) {
        const bytes = bytesOf(t.data);
        if (bytes.length !== dtypeSize(t.dtype) * elementCount(t.shape)) {
          throw new SafetensorsError(file, name, 'data changed size while the file was being written');
        }
        await writeAll(bytes);
      }
      if (options.fsync ?? true) await fh.sync();
    } finally {
      await fh.close();
    }
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface TensorEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

function parseTensorInfo(source: string, name: string, info: unknown): TensorEntry {
  const fail = (detail: string): never => {
    throw new SafetensorsError(source, name, detail);
  };
  if (!isPlainObject(info)) fail(`header entry must be an object, got ${JSON.stringify(info)}`);
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== 'string') fail('header field "dtype" is missing or not a string');
  if (!isSafetensorsDType(dtype)) fail(`unsupported dtype ${JSON.stringify(dtype)} (supported: ${SAFETENSORS_DTYPES.join(', ')})`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`header field "shape" must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    fail(`header field "data_offsets" must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail(`data_offsets [${begin}, ${end}] end before they begin`);
  const count = elementCount(shape as number[]);
  const nbytes = count * dtypeSize(dtype as SafetensorsDType);
  if (!Number.isSafeInteger(nbytes)) fail(`shape [${(shape as number[]).join(', ')}] is too large`);
  if (end - begin !== nbytes) {
    fail(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape [${(shape as number[]).join(', ')}] × ${dtype} (${dtypeSize(dtype as SafetensorsDType)} bytes) needs ${nbytes}`);
  }
  return { name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end };
}

/**
 * Parse a whole safetensors file held in `bytes`. Tensors are views into `bytes` where their offset
 * is aligned for the element type, otherwise copies. Everything is validated before any tensor is
 * made: header length and bound, UTF-8, JSON object, metadata strings, dtype/shape/offsets of every
 * tensor, and a data section covered exactly (contiguous from 0, no overlap, no trailing bytes).
 * `source` (e.g. the file path) starts every error message.
 */
export function parseSafetensors(bytes: Uint8Array, source = '<safetensors>'): SafetensorsContents {
  assertLittleEndianHost();
  const fail = (detail: string, tensor?: string): never => {
    throw new SafetensorsError(source, tensor, detail);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length (truncated?)`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_SIZE)) fail(`header length ${n64} exceeds the ${MAX_HEADER_SIZE}-byte limit (not a safetensors file?)`);
  const n = Number(n64);
  if (8 + n > bytes.length) fail(`header length ${n} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`header must start with "{", got ${JSON.stringify(text.slice(0, 16))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    fail(`header is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(header)) fail('header must be a JSON object');

  let metadata: Record<string, string> | undefined;
  const entries: TensorEntry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (info === null) continue;
      if (!isPlainObject(info)) fail(`${METADATA_KEY} must be an object of strings`);
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`${METADATA_KEY}["${k}"] must be a string, got ${JSON.stringify(v)}`);
      }
      metadata = info as Record<string, string>;
      continue;
    }
    entries.push(parseTensorInfo(source, name, info));
  }

  // The data section must be indexed entirely, without holes or overlaps (no polyglot files).
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  let expected = 0;
  let previous: string | undefined;
  for (const e of entries) {
    if (e.begin !== expected) {
      const where = previous === undefined ? 'the start of the data section' : `the end of tensor "${previous}" at ${expected}`;
      fail(`data_offsets [${e.begin}, ${e.end}] ${e.begin < expected ? 'overlap' : 'leave a hole after'} ${where}`, e.name);
    }
    if (e.end > dataLength) fail(`data_offsets [${e.begin}, ${e.end}] run past the end of the ${dataLength}-byte data section (truncated file?)`, e.name);
    expected = e.end;
    previous = e.name;
  }
  if (expected !== dataLength) fail(`data section has ${dataLength - expected} bytes after the last tensor that no tensor covers`);

  const tensors = new Map<string, HostTensor>();
  const data = bytes.subarray(dataStart);
  for (const e of entries) {
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: typedView(e.dtype, data, e.begin, elementCount(e.shape)) } as HostTensor);
  }
  return { tensors, metadata };
}

/** Read and validate a safetensors file (whole file in memory; tensors are views into it). */
export async function readSafetensors(file: string): Promise<SafetensorsContents> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw new SafetensorsError(file, undefined, `cannot read: ${(err as Error).message}`);
  }
  return parseSafetensors(bytes, file);
}
