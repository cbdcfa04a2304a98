/**
 * Gradient rules of MatMul and Gemm.
 */
import { attrFloat, attrInt } from '../attributes.js';
import type { Value } from '../values.js';
import type { GradContext, GradRule } from './context.js';

/** Swap the last two axes. */
function transposeLast2(c: GradContext, v: Value): Value {
  const r = c.rank(v);
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return c.op('Transpose', [v], { perm });
}

/** Y = A·B (batched, broadcasting): dA = dY·Bᵀ, dB = Aᵀ·dY, each summed over broadcast batch axes. */
function matmul(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const dy = c.dy0(dys);
  const a = c.x(0);
  const b = c.x(1);
  if (c.rank(a) < 2 || c.rank(b) < 2) c.fail(`1-D operands are not supported (A ${a.name}, B ${b.name})`);
  return [
    c.needs(0) ? c.reduceTo(c.op('MatMul', [dy, transposeLast2(c, b)]), a) : undefined,
    c.needs(1) ? c.reduceTo(c.op('MatMul', [transposeLast2(c, a), dy]), b) : undefined,
  ];
}

/**
 * Y = α·A'·B' + β·C with A' = transA ? Aᵀ : A (B' likewise). dA' = α·dY·B'ᵀ and dB' = α·A'ᵀ·dY,
 * written as Gemms with the transpose flags that avoid explicit Transposes; dC = β·dY reduced to C.
 */
function gemm(c: GradContext, dys: (Value | undefined)[]): (Value | undefined)[] {
  const dy = c.dy0(dys);
  const at = c.node.attrs;
  const alpha = attrFloat(at, 'alpha', 1);
  const beta = attrFloat(at, 'beta', 1);
  const ta = attrInt(at, 'transA', 0);
  const tb = attrInt(at, 'transB', 0);
  const a = c.x(0);
  const b = c.x(1);
  const gemmOf = (x: Value, y: Value, tx: number, ty: number): Value => c.op('Gemm', [x, y], { alpha, transA: tx, transB: ty });
  let da: Value | undefined;
  let db: Value | undefined;
  if (c.needs(0)) {
    // dA' = dY·B'ᵀ; if transA, dA = (dA')ᵀ = B'·dYᵀ.
    da = ta === 0 ? gemmOf(dy, b, 0, tb === 0 ? 1 : 0) : gemmOf(b, dy, tb === 0 ? 0 : 1, 1);
  }
  if (c.needs(1)) {
    // dB' = A'ᵀ·dY; if transB, dB = (dB')ᵀ = dYᵀ·A'.
    db = tb === 0 ? gemmOf(a, dy, ta === 0 ? 1 : 0, 0) : gemmOf(dy, a, 1, ta === 0 ? 0 : 1);
  }
  let dc: Value | undefined;
  if (c.hasInput(2) && c.needs(2)) {
    const scaled = beta === 1 ? dy : c.op('Mul', [dy, c.scalar(beta, dy.dtype)]);
    dc = c.reduceTo(scaled, c.x(2));
  }
  return [da, db, dc];
}

/** Linear-algebra rules by op type. */
export const LINEAR_RULES: Record<string, GradRule> = { MatMul: matmul, Gemm: gemm };
