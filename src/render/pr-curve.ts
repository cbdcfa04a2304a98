/**
 * Precision-recall curves as SVG and PNG (rasterised by sharp/librsvg), one curve per class:
 * the raw precision after each detection as a thin line and, bold, its envelope (precision made
 * monotone from the right, the curve VOC's all-point AP is the area under). Used by
 * `hpa-detect evaluate` for pr-curve.png.
 */
import sharp from 'sharp';
import { escapeXml, estimateTextWidth, SVG_FONT_FAMILY } from './svg.js';

/** One class's curve: precision and recall after each detection in score order. */
export interface PrCurve {
  name: string;
  precision: ArrayLike<number>;
  recall: ArrayLike<number>;
  /** Shown in the legend, e.g. the AP at IoU 0.5 (NaN or absent: not shown). */
  ap?: number;
}

/** Options of prCurveSvg() / renderPrCurve(). */
export interface PrCurveOptions {
  title?: string;
  /** Image width in px (default 720); the plot is square. */
  width?: number;
}

const MARGIN = { left: 64, right: 24, top: 48, bottom: 56 };

/** Line colours in curve order: the class palette's strong colours (pale ones vanish on white). */
const CURVE_COLORS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#469990', '#9a6324', '#800000', '#808000', '#000075'];

/** Build the SVG (exported for tests and for callers who want the vector file). */
export function prCurveSvg(curves: readonly PrCurve[], options: PrCurveOptions = {}): { svg: string; width: number; height: number } {
  const width = options.width ?? 720;
  if (!Number.isInteger(width) || width < 240) throw new RangeError(`width must be an integer ≥ 240, got ${width}`);
  const fontSize = 14;
  const legendRow = fontSize + 8;
  const plot = width - MARGIN.left - MARGIN.right;
  const height = MARGIN.top + plot + MARGIN.bottom + curves.length * legendRow + 8;
  const x = (r: number) => MARGIN.left + r * plot;
  const y = (p: number) => MARGIN.top + (1 - p) * plot;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${SVG_FONT_FAMILY}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  if (options.title) parts.push(`<text x="${width / 2}" y="28" font-size="${fontSize + 3}" font-weight="bold" text-anchor="middle" fill="#222">${escapeXml(options.title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = i / 5;
    parts.push(`<line x1="${x(v).toFixed(1)}" y1="${y(0)}" x2="${x(v).toFixed(1)}" y2="${y(1)}" stroke="#e4e4e4"/>`);
    parts.push(`<line x1="${x(0)}" y1="${y(v).toFixed(1)}" x2="${x(1)}" y2="${y(v).toFixed(1)}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${x(v).toFixed(1)}" y="${y(0) + fontSize + 4}" font-size="${fontSize - 2}" text-anchor="middle" fill="#555">${v.toFixed(1)}</text>`);
    parts.push(`<text x="${x(0) - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="${fontSize - 2}" text-anchor="end" fill="#555">${v.toFixed(1)}</text>`);
  }
  parts.push(`<rect x="${x(0)}" y="${y(1)}" width="${plot}" height="${plot}" fill="none" stroke="#444"/>`);
  parts.push(`<text x="${x(0.5)}" y="${y(0) + 2 * fontSize + 10}" font-size="${fontSize}" text-anchor="middle" fill="#222">recall</text>`);
  parts.push(`<text x="16" y="${y(0.5)}" font-size="${fontSize}" text-anchor="middle" fill="#222" transform="rotate(-90 16 ${y(0.5)})">precision</text>`);

  curves.forEach((c, k) => {
    const color = CURVE_COLORS[k % CURVE_COLORS.length]!;
    const n = Math.min(c.precision.length, c.recall.length);
    const usable = n > 0 && !Array.prototype.some.call(c.recall, Number.isNaN);
    if (usable) {
      const raw = Array.from({ length: n }, (_, i) => `${x(c.recall[i]!).toFixed(1)},${y(c.precision[i]!).toFixed(1)}`);
      parts.push(`<polyline points="${raw.join(' ')}" fill="none" stroke="${color}" stroke-width="1" stroke-opacity="0.45"/>`);
      parts.push(`<polyline points="${envelopeSteps(c.recall, c.precision, n).map(([r, p]) => `${x(r).toFixed(1)},${y(p).toFixed(1)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2.5"/>`);
    }
    const ly = MARGIN.top + plot + MARGIN.bottom + k * legendRow + fontSize;
    const ap = c.ap !== undefined && !Number.isNaN(c.ap) ? `  AP50 ${c.ap.toFixed(3)}` : '';
    const note = usable ? '' : n === 0 ? '  (no detections)' : '  (no ground truth)';
    parts.push(`<rect x="${x(0)}" y="${ly - fontSize + 3}" width="18" height="${fontSize - 4}" fill="${color}"/>`);
    parts.push(`<text x="${x(0) + 26}" y="${ly}" font-size="${fontSize}" fill="#222">${escapeXml(`${c.name}${ap}${note}`)}</text>`);
  });
  // Wide names would run past the edge: the estimate keeps the image wide enough.
  const widest = Math.max(0, ...curves.map((c) => estimateTextWidth(`${c.name}  AP50 0.000  (no ground truth)`, fontSize) + MARGIN.left + 26));
  const finalWidth = Math.max(width, widest);
  parts[0] = `<svg xmlns="http://www.w3.org/2000/svg" width="${finalWidth}" height="${height}" font-family="${SVG_FONT_FAMILY}">`;
  parts[1] = `<rect width="${finalWidth}" height="${height}" fill="#ffffff"/>`;
  parts.push('</svg>');
  return { svg: parts.join('\n'), width: finalWidth, height };
}

/**
 * The envelope as a staircase: the segment of recall (r[i-1], r[i]] is drawn at env[i], the
 * precision all-point AP multiplies it by, so the area under the bold line is the AP.
 */
function envelopeSteps(recall: ArrayLike<number>, precision: ArrayLike<number>, n: number): [number, number][] {
  const env = new Float64Array(n);
  let best = 0;
  for (let i = n - 1; i >= 0; i--) env[i] = best = Math.max(best, precision[i]!);
  const pts: [number, number][] = [];
  let lastRecall = 0;
  for (let i = 0; i < n; i++) {
    pts.push([lastRecall, env[i]!], [recall[i]!, env[i]!]);
    lastRecall = recall[i]!;
  }
  return pts;
}

/** Render the curves to a PNG. */
export async function renderPrCurve(curves: readonly PrCurve[], options: PrCurveOptions = {}): Promise<{ png: Buffer; svg: string; width: number; height: number }> {
  const { svg, width, height } = prCurveSvg(curves, options);
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  return { png, svg, width, height };
}
