/** The demo's HTML report: what was generated, how fast each stage ran, and the overlays. */
import path from 'node:path';
import type { SynthManifest } from '../synth/write.js';
import type { MergeFolderSummary } from '../hpa/merge-folder.js';
import type { DatasetStats } from '../annotations/stats.js';
import { renderReport, type ReportSection } from '../report/html.js';

export interface DemoReportInput {
  outDir: string;
  manifest: SynthManifest;
  merge: MergeFolderSummary;
  stats: DatasetStats;
  overlayIds: string[];
  timings: { stage: string; seconds: number }[];
  issues: string[];
}

export function buildDemoReport(r: DemoReportInput): string {
  const rel = (p: string) => path.relative(r.outDir, p).split(path.sep).join('/');
  const cells = r.manifest.images.reduce((n, im) => n + im.cells, 0);
  const sections: ReportSection[] = [
    {
      title: 'Dataset',
      blocks: [
        {
          kind: 'text',
          text:
            `${r.manifest.count} synthetic ${r.manifest.width}×${r.manifest.height} 4-channel sets ` +
            `(difficulty ${r.manifest.difficulty}, seed ${r.manifest.seed}) with ${cells} annotated cells.`,
        },
        {
          kind: 'table',
          header: ['class', 'boxes', 'images', 'mean width (px)', 'mean height (px)'],
          rows: r.stats.classes.map((c) => [c.name, c.boxes, c.images, c.meanWidth.toFixed(1), c.meanHeight.toFixed(1)]),
        },
        {
          kind: 'table',
          header: ['box size √area (px)', ...r.stats.sizeBins],
          rows: [['boxes', ...r.stats.sizeHistogram]],
        },
      ],
    },
    {
      title: 'Stages',
      blocks: [
        {
          kind: 'table',
          header: ['stage', 'seconds'],
          rows: r.timings.map((t) => [t.stage, t.seconds.toFixed(2)]),
        },
        {
          kind: 'text',
          text:
            `Merge: ${r.merge.merged} merged, ${r.merge.skipped} already present, ${r.merge.failed} failed ` +
            `in ${r.merge.seconds.toFixed(2)} s.`,
        },
        {
          kind: 'text',
          text:
            r.issues.length === 0
              ? 'Annotations: no problems found.'
              : `Annotations: ${r.issues.length} problem(s): ${r.issues.slice(0, 20).join('; ')}`,
        },
      ],
    },
    {
      title: 'Files',
      blocks: [
        {
          kind: 'table',
          header: ['what', 'where'],
          rows: [
            ['channels, LabelImg XML, instance masks', 'channels/'],
            ['merged RGB images', 'merged/'],
            ['keras-frcnn CSV (annot.txt)', 'annotations/annot.txt'],
            ['COCO JSON', 'annotations/coco.json'],
            ['Pascal VOC layout with train/val/test lists', 'annotations/voc/'],
            ['overlays', 'overlays/'],
          ],
        },
      ],
    },
    {
      title: 'Ground truth on merged images',
      blocks: [
        {
          kind: 'images',
          images: r.overlayIds.map((id) => ({ src: rel(path.join(r.outDir, 'overlays', `${id}.png`)), caption: id })),
        },
      ],
    },
  ];
  return renderReport('hpa-detect demo', sections);
}
