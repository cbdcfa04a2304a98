/**
 * Node attributes: ONNX distinguishes INT from FLOAT, so plain numbers are typed by the
 * attribute's name (a known set of float attributes) unless wrapped with floatAttr()/intAttr().
 */
import type { Tensor } from './values.js';

/** A typed attribute value as stored on a node. */
export type Attr =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: number[] }
  | { type: 'floats'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensor'; value: Tensor };

/** What callers may pass: plain JS values (typed by name) or an explicit Attr. */
export type AttrInput = number | string | number[] | string[] | Tensor | Attr;

/** Attribute names that ONNX defines as FLOAT/FLOATS for the ops we use. */
const FLOAT_ATTRS = new Set([
  'alpha',
  'beta',
  'epsilon',
  'gamma',
  'momentum',
  'cubic_coeff_a',
  'extrapolation_value',
  'bias',
  'lambd',
  'value_float',
  'value_floats',
]);

/** Force a FLOAT attribute. */
export function floatAttr(value: number): Attr {
  return { type: 'float', value };
}

/** Force an INT attribute. */
export function intAttr(value: number): Attr {
  return { type: 'int', value };
}

function isAttr(v: AttrInput): v is Attr {
  return typeof v === 'object' && !Array.isArray(v) && 'type' in v && 'value' in v && !('dims' in v);
}

/** Normalize a caller's attribute value into a typed Attr. */
export function toAttr(name: string, v: AttrInput): Attr {
  if (isAttr(v)) return v;
  const asFloat = FLOAT_ATTRS.has(name);
  if (typeof v === 'number') {
    if (!asFloat && !Number.isInteger(v)) throw new TypeError(`attribute ${name}=${v}: INT attribute must be an integer (use floatAttr())`);
    return asFloat ? { type: 'float', value: v } : { type: 'int', value: v };
  }
  if (typeof v === 'string') return { type: 'string', value: v };
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === 'string') return { type: 'strings', value: v as string[] };
    const nums = v as number[];
    if (!asFloat && nums.some((x) => !Number.isInteger(x))) throw new TypeError(`attribute ${name}: INTS attribute must hold integers`);
    return asFloat ? { type: 'floats', value: nums } : { type: 'ints', value: nums };
  }
  return { type: 'tensor', value: v };
}

/** Read helpers with defaults; they throw naming the attribute when its type is wrong. */
export function attrInt(attrs: Record<string, Attr>, name: string, dflt: number): number {
  const a = attrs[name];
  if (a === undefined) return dflt;
  if (a.type !== 'int') throw new TypeError(`attribute ${name} must be INT, got ${a.type}`);
  return a.value;
}

export function attrFloat(attrs: Record<string, Attr>, name: string, dflt: number): number {
  const a = attrs[name];
  if (a === undefined) return dflt;
  if (a.type !== 'float' && a.type !== 'int') throw new TypeError(`attribute ${name} must be FLOAT, got ${a.type}`);
  return a.value;
}

export function attrInts(attrs: Record<string, Attr>, name: string): number[] | undefined {
  const a = attrs[name];
  if (a === undefined) return undefined;
  if (a.type !== 'ints') throw new TypeError(`attribute ${name} must be INTS, got ${a.type}`);
  return a.value;
}

export function attrString(attrs: Record<string, Attr>, name: string, dflt: string): string {
  const a = attrs[name];
  if (a === undefined) return dflt;
  if (a.type !== 'string') throw new TypeError(`attribute ${name} must be STRING, got ${a.type}`);
  return a.value;
}
