/**
 * Horizontal bar charts as PNG (SVG rasterised by sharp/librsvg): one row per bar with its name on
 * the left, the bar, and its value at the bar's end. Used by `hpa-detect labels stats --chart`.
 */
import sharp from 'sharp';
import { escapeXml, estimateTextWidth, SVG_FONT_FAMILY } from './svg.js';

/** One bar. */
export interface Bar {
  label: string;
  value: number;
  /** Extra text after the value, e.g. "(40.1%)". */
  note?: string;
}

/** Options of renderBarChart(). */
export interface BarChartOptions {
  /** Title line at the top. */
  title?: string;
  /** Image width in px (default 960). */
  width?: number;
  /** Height of one row in px (default 24). */
  rowHeight?: number;
  /** Bar colour (default a mid blue). */
  color?: string;
}

/** A rendered chart. */
export interface BarChart {
  png: Buffer;
  width: number;
  height: number;
}

/** Space above the first row (title and scale) and below the last, in px. */
export const BAR_CHART_TOP = 64;
export const BAR_CHART_BOTTOM = 20;

/** Image height for `bars` rows: BAR_CHART_TOP + bars × rowHeight + BAR_CHART_BOTTOM. */
export function barChartHeight(bars: number, rowHeight = 24): number {
  return BAR_CHART_TOP + bars * rowHeight + BAR_CHART_BOTTOM;
}

// A round tick step giving about `target` ticks over [0, max]: 1, 2 or 5 × 10^k.
function tickStep(max: number, target = 5): number {
  if (max <= 0) return 1;
  const raw = max / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const m = raw / pow;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * pow;
}

/** Build the chart's SVG (exported for tests and for callers who want a vector file). */
export function barChartSvg(bars: readonly Bar[], options: BarChartOptions = {}): { svg: string; width: number; height: number } {
  const width = options.width ?? 960;
  const rowHeight = options.rowHeight ?? 24;
  if (!Number.isInteger(width) || width < 200) throw new RangeError(`width must be an integer ≥ 200, got ${width}`);
  if (!Number.isInteger(rowHeight) || rowHeight < 10) throw new RangeError(`rowHeight must be an integer ≥ 10, got ${rowHeight}`);
  const height = barChartHeight(bars.length, rowHeight);
  const fontSize = Math.round(rowHeight * 0.58);
  const color = options.color ?? '#3b6fb6';

  const valueText = (b: Bar) => `${b.value.toLocaleString('en-US')}${b.note ? ` ${b.note}` : ''}`;
  const labelWidth = Math.max(0, ...bars.map((b) => estimateTextWidth(b.label, fontSize))) + 16;
  const valueWidth = Math.max(0, ...bars.map((b) => estimateTextWidth(valueText(b), fontSize))) + 12;
  const x0 = labelWidth;
  const plotWidth = Math.max(40, width - x0 - valueWidth - 12);
  const max = Math.max(0, ...bars.map((b) => b.value));
  const scale = max > 0 ? plotWidth / max : 0;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${SVG_FONT_FAMILY}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  if (options.title) {
    parts.push(`<text x="${width / 2}" y="26" font-size="${fontSize + 4}" font-weight="bold" text-anchor="middle" fill="#222">${escapeXml(options.title)}</text>`);
  }
  // Light vertical grid lines with their values above the first row.
  const step = tickStep(max);
  const plotTop = BAR_CHART_TOP - 6;
  const plotBottom = BAR_CHART_TOP + bars.length * rowHeight;
  for (let v = 0; max > 0 && v <= max; v += step) {
    const x = x0 + v * scale;
    parts.push(`<line x1="${x.toFixed(1)}" y1="${plotTop}" x2="${x.toFixed(1)}" y2="${plotBottom}" stroke="#dddddd" stroke-width="1"/>`);
    parts.push(`<text x="${x.toFixed(1)}" y="${plotTop - 4}" font-size="${fontSize - 2}" text-anchor="middle" fill="#666">${v.toLocaleString('en-US')}</text>`);
  }
  bars.forEach((b, i) => {
    const top = BAR_CHART_TOP + i * rowHeight;
    const middle = top + rowHeight / 2 + fontSize * 0.35; // text baseline that centres it in the row
    const barWidth = Math.max(b.value > 0 ? 1 : 0, b.value * scale);
    if (i % 2 === 1) parts.push(`<rect x="0" y="${top}" width="${width}" height="${rowHeight}" fill="#000000" fill-opacity="0.03"/>`);
    parts.push(`<text x="${x0 - 8}" y="${middle.toFixed(1)}" font-size="${fontSize}" text-anchor="end" fill="#222">${escapeXml(b.label)}</text>`);
    parts.push(`<rect x="${x0}" y="${top + 3}" width="${barWidth.toFixed(1)}" height="${rowHeight - 6}" fill="${color}"/>`);
    parts.push(`<text x="${(x0 + barWidth + 6).toFixed(1)}" y="${middle.toFixed(1)}" font-size="${fontSize}" fill="#222">${escapeXml(valueText(b))}</text>`);
  });
  parts.push(`<line x1="${x0}" y1="${plotTop}" x2="${x0}" y2="${plotBottom}" stroke="#444" stroke-width="1"/>`);
  parts.push('</svg>');
  return { svg: parts.join('\n'), width, height };
}

/** Render `bars` (drawn top to bottom in the given order) to a PNG. */
export async function renderBarChart(bars: readonly Bar[], options: BarChartOptions = {}): Promise<BarChart> {
  const { svg, width, height } = barChartSvg(bars, options);
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  return { png, width, height };
}
