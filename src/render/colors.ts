/**
 * Class colours for overlays: one stable, distinct colour per class name, the same on every image
 * and every run (Mask_RCNN's display_instances draws random ones; a fixed mapping lets users compare
 * images side by side).
 */

/** 20 colours chosen to be told apart (Sasha Trubetskoy's list), strongest first. */
export const CLASS_PALETTE: readonly string[] = Object.freeze([
  '#e6194b', '#3cb44b', '#ffe119', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6',
  '#bfef45', '#fabed4', '#469990', '#dcbeff', '#9a6324', '#fffac8', '#800000', '#aaffc3',
  '#808000', '#ffd8b1', '#000075', '#a9a9a9',
]);

// FNV-1a: a tiny stable string hash (no dependency on Node's crypto for a colour pick).
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Fixed colours for the classes this project ships data for, picked to stand out on their images:
 * BCCD's pink smears (RBC, WBC, Platelets) and dark HPA fluorescence (Nucleoli, Not Nucleoli).
 */
export const KNOWN_CLASS_COLORS: Readonly<Record<string, string>> = Object.freeze({
  RBC: '#42d4f4',
  WBC: '#3cb44b',
  Platelets: '#ffe119',
  Nucleoli: '#f032e6',
  'Not Nucleoli': '#42d4f4',
});

// Hashed names pick among the saturated first colours only: pale ones vanish on light images.
const HASHED_COLORS = 10;

/**
 * Colour (`#rrggbb`) of class `name`. With `classes` (the dataset's class list) the i-th class gets
 * the i-th palette colour, so up to 20 classes never share one; otherwise a known class gets its
 * fixed colour (KNOWN_CLASS_COLORS) and any other name one picked by its hash.
 */
export function classColor(name: string, classes?: readonly string[]): string {
  const index = classes ? classes.indexOf(name) : -1;
  if (index >= 0) return CLASS_PALETTE[index % CLASS_PALETTE.length]!;
  // hasOwn: a class named "constructor" must not pick up Object.prototype's.
  if (Object.hasOwn(KNOWN_CLASS_COLORS, name)) return KNOWN_CLASS_COLORS[name]!;
  return CLASS_PALETTE[fnv1a(name) % HASHED_COLORS]!;
}

/** [r, g, b] 0–255 of a `#rrggbb` colour. */
export function parseHexColor(hex: string): [number, number, number] {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new RangeError(`colour must be #rrggbb, got "${hex}"`);
  return [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
}

/** Black or white, whichever reads better on `background` (WCAG relative luminance). */
export function textColorOn(background: string): '#000000' | '#ffffff' {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const [r, g, b] = parseHexColor(background);
  const luminance = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return luminance > 0.179 ? '#000000' : '#ffffff';
}
