/**
 * Learning curves as PNG (SVG rasterised by sharp/librsvg, like bar-chart.ts): one panel per
 * loss component (rpn_cls, rpn_reg, cls, reg, total; the scales differ too much to share an axis),
 * each with the per-step values (thin line), the epoch means (thick line with dots at the epoch's
 * last step) and, in the `total` panel, the validation loss per epoch (orange squares). Where the
 * logged learning rate falls by a quarter or more from one step to the next (a step schedule's
 * drop, or one a time budget brought forward) a dashed line crosses every panel.
 */
import sharp from 'sharp';
import { escapeXml, SVG_FONT_FAMILY } from './svg.js';

/** One logged step (a loss-log record). */
export interface CurveStep {
  step: number;
  losses: Record<string, number>;
  /** The learning rate the step used (the loss log's `lr`), for the LR-drop marks. */
  lr?: number;
}

/** Steps whose learning rate is at most 3/4 of the previous logged step's, with the factor. */
export function lrDrops(steps: readonly CurveStep[]): { step: number; factor: number }[] {
  const drops: { step: number; factor: number }[] = [];
  for (let i = 1; i < steps.length; i++) {
    const before = steps[i - 1]!.lr, now = steps[i]!.lr;
    if (before !== undefined && now !== undefined && before > 0 && now <= 0.75 * before) drops.push({ step: steps[i]!.step, factor: now / before });
  }
  return drops;
}

/** One finished epoch: its last step, its mean losses, optionally the validation total. */
export interface CurveEpoch {
  step: number;
  epoch: number;
  losses: Record<string, number>;
  val?: number;
}

/** Options of {@link learningCurveSvg}. */
export interface LearningCurveOptions {
  /** Components to draw, one panel each (default rpn_cls, rpn_reg, cls, reg, total). */
  components?: readonly string[];
  title?: string;
  /** Image width (default 960) and panel height (default 150) in px. */
  width?: number;
  panelHeight?: number;
}

const TOP = 40, GAP = 34, LEFT = 64, RIGHT = 20, BOTTOM = 46;

/** The y range of a panel: 0 to a round value above the 98th percentile (early spikes do not flatten the rest). */
function yMax(values: number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return 1;
  const top = Math.max(finite[Math.min(finite.length - 1, Math.floor(0.98 * finite.length))]!, 1e-6);
  const pow = 10 ** Math.floor(Math.log10(top));
  return Math.ceil((top * 1.05) / pow) * pow;
}

const fmt = (v: number) => (v === 0 ? '0' : Math.abs(v) >= 100 || Math.abs(v) < 0.01 ? v.toExponential(0) : String(Number(v.toPrecision(2))));

/** The SVG of the curves (exported for tests and for callers who want a vector file). */
export function learningCurveSvg(steps: readonly CurveStep[], epochs: readonly CurveEpoch[], options: LearningCurveOptions = {}): { svg: string; width: number; height: number } {
  const components = options.components ?? ['rpn_cls', 'rpn_reg', 'cls', 'reg', 'total'];
  const width = options.width ?? 960, panelHeight = options.panelHeight ?? 150;
  if (!Number.isInteger(width) || width < 300) throw new RangeError(`width must be an integer ≥ 300, got ${width}`);
  if (!Number.isInteger(panelHeight) || panelHeight < 60) throw new RangeError(`panelHeight must be an integer ≥ 60, got ${panelHeight}`);
  const height = TOP + components.length * (panelHeight + GAP) + BOTTOM - GAP;
  const maxStep = Math.max(1, ...steps.map((s) => s.step), ...epochs.map((e) => e.step));
  const plotW = width - LEFT - RIGHT;
  const x = (step: number) => LEFT + (step / maxStep) * plotW;
  const drops = lrDrops(steps);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${SVG_FONT_FAMILY}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" font-size="16" font-weight="bold" text-anchor="middle" fill="#222">${escapeXml(options.title ?? `Training loss (${steps.length} steps, ${epochs.length} epochs)`)}</text>`,
  ];
  components.forEach((c, i) => {
    const top = TOP + i * (panelHeight + GAP) + 14;
    const h = panelHeight - 14;
    const values = [...steps.map((s) => s.losses[c]!), ...epochs.map((e) => e.losses[c]!), ...(c === 'total' ? epochs.map((e) => e.val ?? NaN) : [])];
    const max = yMax(values);
    const y = (v: number) => top + h - (Math.min(Math.max(v, 0), max) / max) * h;
    parts.push(`<text x="${LEFT}" y="${top - 4}" font-size="13" font-weight="bold" fill="#222">${escapeXml(c)}</text>`);
    for (const v of [0, max / 2, max]) {
      parts.push(`<line x1="${LEFT}" y1="${y(v).toFixed(1)}" x2="${width - RIGHT}" y2="${y(v).toFixed(1)}" stroke="#e4e4e4"/>`);
      parts.push(`<text x="${LEFT - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="#666">${fmt(v)}</text>`);
    }
    parts.push(`<rect x="${LEFT}" y="${top}" width="${plotW}" height="${h}" fill="none" stroke="#999"/>`);
    for (const d of drops) {
      parts.push(`<line x1="${x(d.step).toFixed(1)}" y1="${top}" x2="${x(d.step).toFixed(1)}" y2="${top + h}" stroke="#9a6fb0" stroke-dasharray="4 3"/>`);
      if (i === 0) parts.push(`<text x="${(x(d.step) - 3).toFixed(1)}" y="${top - 4}" font-size="10" text-anchor="end" fill="#9a6fb0">LR ×${Number(d.factor.toPrecision(2))}</text>`);
    }
    const line = (pts: [number, number][]) => pts.filter(([, v]) => Number.isFinite(v)).map(([s, v]) => `${x(s).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    if (steps.length > 0) parts.push(`<polyline points="${line(steps.map((s) => [s.step, s.losses[c]!]))}" fill="none" stroke="#8fb3e0" stroke-width="1"/>`);
    if (epochs.length > 0) {
      parts.push(`<polyline points="${line(epochs.map((e) => [e.step, e.losses[c]!]))}" fill="none" stroke="#1f4e8c" stroke-width="2.5"/>`);
      for (const e of epochs) if (Number.isFinite(e.losses[c])) parts.push(`<circle cx="${x(e.step).toFixed(1)}" cy="${y(e.losses[c]!).toFixed(1)}" r="3.5" fill="#1f4e8c"/>`);
      if (c === 'total') {
        for (const e of epochs) if (e.val !== undefined && Number.isFinite(e.val)) parts.push(`<rect x="${(x(e.step) - 4).toFixed(1)}" y="${(y(e.val) - 4).toFixed(1)}" width="8" height="8" fill="#e07b1f"/>`);
      }
    }
  });
  const axisY = height - BOTTOM + 16;
  for (let k = 0; k <= 4; k++) {
    const s = Math.round((k / 4) * maxStep);
    parts.push(`<text x="${x(s).toFixed(1)}" y="${axisY}" font-size="11" text-anchor="middle" fill="#666">${s}</text>`);
  }
  parts.push(`<text x="${width - RIGHT}" y="${height - 8}" font-size="11" text-anchor="end" fill="#444">x: step · thin: per step · thick: epoch mean · orange: validation total${drops.length > 0 ? ' · dashed: LR drop' : ''}</text>`);
  parts.push('</svg>');
  return { svg: parts.join('\n'), width, height };
}

/** Render the curves to a PNG buffer. */
export async function renderLearningCurve(steps: readonly CurveStep[], epochs: readonly CurveEpoch[], options: LearningCurveOptions = {}): Promise<{ png: Buffer; width: number; height: number }> {
  const { svg, width, height } = learningCurveSvg(steps, epochs, options);
  return { png: await sharp(Buffer.from(svg)).png().toBuffer(), width, height };
}
