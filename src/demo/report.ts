/**
 * The demo's HTML report: what was generated, how fast each stage ran, the ground truth, and,
 * when the demo trained a model, its learning curve, the held-out mAP table, the
 * precision-recall curves and the detections on the held-out images.
 */
import path from 'node:path';
import type { SynthManifest } from '../synth/write.js';
import type { MergeFolderSummary } from '../hpa/merge-folder.js';
import type { DatasetStats } from '../annotations/stats.js';
import { renderReport, type ReportSection } from '../report/html.js';
import { OVERLAY_SCORE, type DetectStageResult } from './detect-stage.js';

export interface DemoReportInput {
  outDir: string;
  manifest: SynthManifest;
  merge: MergeFolderSummary;
  stats: DatasetStats;
  overlayIds: string[];
  timings: { stage: string; seconds: number }[];
  issues: string[];
  detection?: DetectStageResult;
}

const ap = (v: number) => (Number.isNaN(v) ? '–' : v.toFixed(3));

/** Learning curve, mAP table, PR curves and held-out detections. */
function detectionSections(d: DetectStageResult, outDir: string, rel: (p: string) => string): ReportSection[] {
  const e = d.evaluation;
  const s = d.settings;
  return [
    {
      title: 'Training',
      blocks: [
        {
          kind: 'text',
          text:
            `Faster R-CNN, preset ${s.preset}, from random weights at ${s.imageSize}×${s.imageSize}, batch ${s.batchSize}, ${s.optimizer}: ` +
            `${d.train.steps} steps (${d.train.epochs} epoch(s), ${d.train.stopped === 'done' ? 'all planned' : `stopped by ${d.train.stopped}`}) ` +
            `in ${d.trainSeconds.toFixed(0)} s.${s.shuffleLabels ? ' Negative control: the training class labels were shuffled.' : ''}`,
        },
        { kind: 'images', images: [{ src: rel(d.train.curve), caption: 'loss components per step (rpn_cls, rpn_reg, cls, reg, total) and epoch means' }] },
      ],
    },
    {
      title: 'Held-out evaluation',
      blocks: [
        {
          kind: 'text',
          text:
            `${e.numImages} held-out images, detections at score ≥ 0.05, IoU without +1; difficult (ambiguous) cells ignored. ` +
            `mAP@0.5 ${ap(e.map50)} (VOC all-point), ${ap(e.map50_11pt)} (11-point); COCO mAP@[.5:.95] ${ap(e.mapCoco)}. ` +
            `Finding cells whatever their class (detections of both classes merged by NMS): AP@0.5 ${ap(d.cellFinding.map50)}, AP@[.5:.95] ${ap(d.cellFinding.mapCoco)}.`,
        },
        {
          kind: 'table',
          header: ['class', 'ground truth', 'detections', 'AP@0.5', 'AP@0.5 (11-pt)', 'AP@[.5:.95]'],
          rows: [
            ...e.perClass.map((c) => [c.name, c.numGt, c.numDetections, ap(c.ap50), ap(c.ap50_11pt), ap(c.apCoco)]),
            ['mean', '', '', ap(e.map50), ap(e.map50_11pt), ap(e.mapCoco)],
          ],
        },
        { kind: 'images', images: [{ src: rel(d.prCurve), caption: 'precision-recall per class at IoU 0.5' }] },
      ],
    },
    {
      title: `Detections on held-out images (score ≥ ${OVERLAY_SCORE})`,
      blocks: [
        {
          kind: 'images',
          images: d.detectionOverlayIds.map((id) => ({ src: rel(path.join(outDir, 'detections', `${id}.png`)), caption: id })),
        },
      ],
    },
  ];
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
            ...(r.detection
              ? [
                  ['trained model: checkpoints, loss log, learning curve, model.json', 'model/'],
                  ['held-out predictions: predictions.json, detections.csv', 'predictions/'],
                  ['metrics.json, pr-curve.png', 'evaluation/'],
                  ['held-out detections drawn', 'detections/'],
                ]
              : []),
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
  if (r.detection) sections.splice(2, 0, ...detectionSections(r.detection, r.outDir, rel));
  return renderReport('hpa-detect demo', sections);
}
