/** Strict number parsing shared by the annotation readers. */

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A finite decimal number written in plain notation ("12", "-3.5", "1e3"), or undefined for
 * anything else: empty text, hex, "NaN", "Infinity", stray characters. Stricter than Number(),
 * which accepts "" (0) and "0x10" (16).
 */
export function parseDecimal(text: string): number | undefined {
  const t = text.trim();
  if (!DECIMAL.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}
