/**
 * The PR-curve chart: the bold envelope is the staircase all-point AP measures (its area is the
 * AP), classes without ground truth or detections are named in the legend, PNG renders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { prCurveSvg, renderPrCurve } from '../src/render/pr-curve.js';
import { vocApAllPoint } from '../src/eval/voc-ap.js';

// Area under a polyline of [x, y] points in the chart's pixel space, mapped back to [0, 1]².
function areaUnder(points: [number, number][], y0: number, size: number): number {
  let a = 0;
  for (let i = 1; i < points.length; i++) {
    const [xa, ya] = points[i - 1]!, [xb, yb] = points[i]!;
    a += ((xb - xa) / size) * (((y0 - ya) + (y0 - yb)) / 2 / size);
  }
  return a;
}

test('the bold line is the precision envelope: its area is the all-point AP', () => {
  const recall = [1 / 3, 1 / 3, 2 / 3, 2 / 3, 1], precision = [1, 0.5, 2 / 3, 0.5, 0.6];
  const { svg } = prCurveSvg([{ name: 'RBC', precision, recall, ap: vocApAllPoint(recall, precision) }], { width: 624 });
  const bold = /<polyline points="([^"]+)"[^>]*stroke-width="2.5"/.exec(svg);
  assert.ok(bold, 'envelope drawn');
  const pts = bold[1]!.split(' ').map((p) => p.split(',').map(Number) as [number, number]);
  const plot = 624 - 64 - 24; // width minus the margins
  const area = areaUnder(pts, 48 + plot, plot);
  assert.ok(Math.abs(area - 34 / 45) < 2e-3, `area ${area} vs AP ${34 / 45}`); // pixel rounding
  assert.match(svg, /RBC {2}AP50 0\.756/);
});

test('legend says why a class has no curve; the PNG renders; width is checked', async () => {
  const curves = [
    { name: 'WBC', precision: new Float64Array(0), recall: new Float64Array(0), ap: 0 },
    { name: 'Platelets', precision: Float64Array.of(0), recall: Float64Array.of(NaN), ap: NaN },
  ];
  const { svg } = prCurveSvg(curves);
  assert.match(svg, /WBC {2}AP50 0\.000 {2}\(no detections\)/);
  assert.match(svg, /Platelets {2}\(no ground truth\)/);
  assert.doesNotMatch(svg, /<polyline/);
  const { png, width, height } = await renderPrCurve(curves, { title: 'a & b' });
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', width, height]);
  assert.throws(() => prCurveSvg([], { width: 100 }), /width must be an integer ≥ 240/);
});
