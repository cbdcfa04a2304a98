#!/usr/bin/python3
"""Reference numbers for test/eval-reference.test.ts: VOC and COCO detection AP on seeded data.

    /usr/bin/python3 scripts/eval_reference.py [--out DIR]     (numpy only; writes DIR/reference.json,
                                                              default test/fixtures/eval)
    /usr/bin/python3 scripts/eval_reference.py --input DATA.json   (the figures for other data on stdout:
                                                              {numClasses, minScore, images} as in the fixture)

pycocotools is not installable on this machine (no Debian package, no pip network), so this
script is NOT pycocotools or py-faster-rcnn: it is an independent numpy transcription, written
from the published algorithms and in their loop structure, of
  - py-faster-rcnn lib/datasets/voc_eval.py: voc_eval()'s matching loop and voc_ap() (all-point
    and the VOC2007 11-point metric), and
  - pycocotools cocoeval.py: _prepare's ignore flag, computeIoU (+ maskApi's bbox IoU, crowd
    regions by the detection's area), evaluateImg and accumulate for iouType 'bbox', area 'all',
    maxDets 100, and summarize's mean over precision > -1.
Deliberate deviations from voc_eval.py, which hpa-detect documents (docs/evaluate.md):
  - IoU without the +1 of VOC's integer pixel boxes (continuous coordinates, like COCO/torchvision);
  - a detection matches when IoU >= 0.5, as the MATLAB devkit (voc_eval.py tests > 0.5);
  - detections are ranked with a stable sort (voc_eval.py uses numpy's default quicksort);
  - a class without counting ground truth gets AP None and is left out of the mean (voc_eval.py
    divides by npos = 0).
Detections scoring below MIN_SCORE are dropped first, as `hpa-detect evaluate` does.

The data: 9 images, 3 classes, boxes on a 1/8 px grid and scores on a 1/32 grid (exact in
float32, so both sides see the same numbers; the coarse score grid makes ties), crowded clusters
of overlapping boxes (with exact copies), detections exactly between two boxes (IoU ties: VOC
takes the first box, COCO the last), difficult boxes (some around a box that a detection hits),
duplicates, wrong-class and background detections, an image without detections, one without
ground truth, and one with 110 detections of a class (more than maxDets). Seeded (numpy RandomState); rerunning writes the same file byte for byte.
"""
import json
import os
import sys

import numpy as np

SEED = 20261125
NUM_CLASSES = 3
MIN_SCORE = 0.05
IMAGE_SIZE = 256.0


# ----------------------------------------------------------------------------- data

def q(v, step):
    return float(np.round(v / step) * step)


def make_box(rng, cx, cy, w, h):
    x1 = min(max(q(cx - w / 2, 0.125), 0.0), IMAGE_SIZE - 2)
    y1 = min(max(q(cy - h / 2, 0.125), 0.0), IMAGE_SIZE - 2)
    x2 = min(max(q(cx + w / 2, 0.125), x1 + 1), IMAGE_SIZE)
    y2 = min(max(q(cy + h / 2, 0.125), y1 + 1), IMAGE_SIZE)
    return [x1, y1, x2, y2]


def make_images(rng):
    images = []
    for i in range(9):
        gt_boxes, gt_labels, gt_difficult = [], [], []
        if i != 7:  # image 7 has no ground truth
            crowded = i in (0, 3)
            centres = [(rng.uniform(40, 216), rng.uniform(40, 216)) for _ in range(3)]
            for label in range(1, NUM_CLASSES + 1):
                for _ in range(rng.randint(1, 6) + (4 if crowded else 0)):
                    if crowded:
                        cx, cy = centres[rng.randint(3)]
                        cx += rng.uniform(-6, 6)
                        cy += rng.uniform(-6, 6)
                    else:
                        cx, cy = rng.uniform(20, 236), rng.uniform(20, 236)
                    gt_boxes.append(make_box(rng, cx, cy, rng.uniform(10, 40), rng.uniform(10, 40)))
                    gt_labels.append(label)
                    gt_difficult.append(int(rng.rand() < 0.15))
            if crowded:  # exact copies
                for k in range(2):
                    gt_boxes.append(list(gt_boxes[k]))
                    gt_labels.append(gt_labels[k])
                    gt_difficult.append(0)
        dets = []
        if i != 6:  # image 6 has no detections
            for b, label in zip(gt_boxes, gt_labels):
                w, h = b[2] - b[0], b[3] - b[1]
                copies = (rng.rand() < 0.85) + (rng.rand() < 0.3)  # missed, found, or found twice
                for _ in range(copies):
                    cx = (b[0] + b[2]) / 2 + rng.normal(0, 0.06 * w)
                    cy = (b[1] + b[3]) / 2 + rng.normal(0, 0.06 * h)
                    box = make_box(rng, cx, cy, w * rng.uniform(0.85, 1.15), h * rng.uniform(0.85, 1.15))
                    lab = label if rng.rand() > 0.1 else rng.randint(1, NUM_CLASSES + 1)
                    dets.append((box, q(rng.rand(), 1 / 32), lab))
            for _ in range(rng.randint(0, 6)):  # background detections
                box = make_box(rng, rng.uniform(10, 246), rng.uniform(10, 246), rng.uniform(8, 40), rng.uniform(8, 40))
                dets.append((box, q(rng.rand() * 0.6, 1 / 32), rng.randint(1, NUM_CLASSES + 1)))
            if i == 5:  # more than maxDets of class 1 (COCO keeps the best 100)
                for _ in range(110):
                    if gt_boxes and rng.rand() < 0.5:
                        b = gt_boxes[rng.randint(len(gt_boxes))]
                        cx, cy = (b[0] + b[2]) / 2 + rng.normal(0, 3), (b[1] + b[3]) / 2 + rng.normal(0, 3)
                    else:
                        cx, cy = rng.uniform(10, 246), rng.uniform(10, 246)
                    box = make_box(rng, cx, cy, rng.uniform(10, 40), rng.uniform(10, 40))
                    dets.append((box, q(rng.rand(), 1 / 32), 1))
            if i in (4, 8):  # a detection exactly between two boxes (equal IoU 0.818), then one on the second box
                ox, label = 200.0 if i == 4 else 8.0, 2 if i == 4 else 3
                gt_boxes += [[ox, 200.0, ox + 20, 220.0], [ox + 4, 200.0, ox + 24, 220.0]]
                gt_labels += [label, label]
                gt_difficult += [0, 0]
                dets += [([ox + 2, 200.0, ox + 22, 220.0], 0.75, label), ([ox + 4, 200.0, ox + 24, 220.0], 0.5, label)]
            if i in (2, 8):  # a detection on a box inside a larger difficult one (COCO: the box wins)
                ox = 100.0 if i == 2 else 150.0
                gt_boxes += [[ox, 100.0, ox + 20, 120.0], [ox - 2, 98.0, ox + 24, 124.0]]
                gt_labels += [1, 1]
                gt_difficult += [0, 1]
                dets += [([ox, 100.0, ox + 21, 120.0], 0.625, 1)]
            dets = [dets[k] for k in rng.permutation(len(dets))]  # input order is not score order
        images.append({
            'gt': {'boxes': gt_boxes, 'labels': gt_labels, 'difficult': gt_difficult},
            'pred': {'boxes': [d[0] for d in dets], 'scores': [d[1] for d in dets], 'labels': [d[2] for d in dets]},
        })
    return images


# ----------------------------------------------------------------------------- VOC (voc_eval.py)

def voc_ap(rec, prec, use_07_metric=False):
    """voc_ap as in py-faster-rcnn."""
    if use_07_metric:
        ap = 0.
        for t in np.arange(0., 1.1, 0.1):
            if np.sum(rec >= t) == 0:
                p = 0
            else:
                p = np.max(prec[rec >= t])
            ap = ap + p / 11.
    else:
        mrec = np.concatenate(([0.], rec, [1.]))
        mpre = np.concatenate(([0.], prec, [0.]))
        for i in range(mpre.size - 1, 0, -1):
            mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
        i = np.where(mrec[1:] != mrec[:-1])[0]
        ap = np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])
    return ap


def voc_eval(images, classname, ovthresh=0.5):
    """voc_eval's structure: class_recs per image, the detections file's lines, then one pass."""
    class_recs = {}
    npos = 0
    for imagename, im in enumerate(images):
        R = [(b, d) for b, l, d in zip(im['gt']['boxes'], im['gt']['labels'], im['gt']['difficult']) if l == classname]
        bbox = np.array([x[0] for x in R], dtype=np.float64).reshape(-1, 4)
        difficult = np.array([x[1] for x in R]).astype(bool)
        det = [False] * len(R)
        npos = npos + sum(~difficult)
        class_recs[imagename] = {'bbox': bbox, 'difficult': difficult, 'det': det}

    # the "detections file": one line per detection, images in order, each image's own order
    lines = []
    for imagename, im in enumerate(images):
        for b, s, l in zip(im['pred']['boxes'], im['pred']['scores'], im['pred']['labels']):
            if l == classname and s >= MIN_SCORE:
                lines.append((imagename, s, b))
    image_ids = [x[0] for x in lines]
    confidence = np.array([x[1] for x in lines], dtype=np.float64)
    BB = np.array([x[2] for x in lines], dtype=np.float64).reshape(-1, 4)

    sorted_ind = np.argsort(-confidence, kind='mergesort')  # deviation: stable
    BB = BB[sorted_ind, :]
    image_ids = [image_ids[x] for x in sorted_ind]

    nd = len(image_ids)
    tp = np.zeros(nd)
    fp = np.zeros(nd)
    for d in range(nd):
        R = class_recs[image_ids[d]]
        bb = BB[d, :].astype(float)
        ovmax = -np.inf
        BBGT = R['bbox'].astype(float)
        if BBGT.size > 0:
            ixmin = np.maximum(BBGT[:, 0], bb[0])
            iymin = np.maximum(BBGT[:, 1], bb[1])
            ixmax = np.minimum(BBGT[:, 2], bb[2])
            iymax = np.minimum(BBGT[:, 3], bb[3])
            iw = np.maximum(ixmax - ixmin, 0.)  # deviation: no +1
            ih = np.maximum(iymax - iymin, 0.)
            inters = iw * ih
            uni = ((bb[2] - bb[0]) * (bb[3] - bb[1]) + (BBGT[:, 2] - BBGT[:, 0]) * (BBGT[:, 3] - BBGT[:, 1]) - inters)
            overlaps = inters / uni
            ovmax = np.max(overlaps)
            jmax = np.argmax(overlaps)
        if ovmax >= ovthresh:  # deviation: >= as the MATLAB devkit
            if not R['difficult'][jmax]:
                if not R['det'][jmax]:
                    tp[d] = 1.
                    R['det'][jmax] = 1
                else:
                    fp[d] = 1.
        else:
            fp[d] = 1.

    fp = np.cumsum(fp)
    tp = np.cumsum(tp)
    if npos == 0:
        return None, None, None, None, nd, int(npos)
    rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return rec, prec, voc_ap(rec, prec), voc_ap(rec, prec, True), nd, int(npos)


# ----------------------------------------------------------------------------- COCO (cocoeval.py)

class Params:
    def __init__(self, img_ids, cat_ids):
        self.imgIds = img_ids
        self.catIds = cat_ids
        self.iouThrs = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
        self.recThrs = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
        self.maxDets = [100]
        self.areaRng = [[0 ** 2, 1e5 ** 2]]


def bbox_iou(d, g, iscrowd):
    """maskApi's bbIou over [x, y, w, h] boxes; a crowd region is overlapped by the detection's area."""
    ious = np.zeros((len(d), len(g)))
    for gi, gb in enumerate(g):
        ga = gb[2] * gb[3]
        for di, db in enumerate(d):
            da = db[2] * db[3]
            w = min(db[2] + db[0], gb[2] + gb[0]) - max(db[0], gb[0])
            if w <= 0:
                continue
            h = min(db[3] + db[1], gb[3] + gb[1]) - max(db[1], gb[1])
            if h <= 0:
                continue
            i = w * h
            u = da if iscrowd[gi] else da + ga - i
            ious[di, gi] = i / u
    return ious


class CocoEvalTranscription:
    def __init__(self, images):
        p = Params(list(range(1, len(images) + 1)), list(range(1, NUM_CLASSES + 1)))
        self.params = p
        # _prepare: COCO annotations (ids from 1), ignore = iscrowd (= difficult here)
        self._gts, self._dts = {}, {}
        gid = did = 0
        for img_id, im in zip(p.imgIds, images):
            for b, l, diff in zip(im['gt']['boxes'], im['gt']['labels'], im['gt']['difficult']):
                gid += 1
                bbox = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
                gt = {'id': gid, 'bbox': bbox, 'area': bbox[2] * bbox[3], 'iscrowd': diff}
                gt['ignore'] = gt['ignore'] if 'ignore' in gt else 0
                gt['ignore'] = 'iscrowd' in gt and gt['iscrowd']
                self._gts.setdefault((img_id, l), []).append(gt)
            for b, s, l in zip(im['pred']['boxes'], im['pred']['scores'], im['pred']['labels']):
                if s < MIN_SCORE:
                    continue
                did += 1
                bbox = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
                self._dts.setdefault((img_id, l), []).append({'id': did, 'bbox': bbox, 'area': bbox[2] * bbox[3], 'score': s})

    def computeIoU(self, imgId, catId):
        p = self.params
        gt = self._gts.get((imgId, catId), [])
        dt = self._dts.get((imgId, catId), [])
        if len(gt) == 0 and len(dt) == 0:
            return []
        inds = np.argsort([-d['score'] for d in dt], kind='mergesort')
        dt = [dt[i] for i in inds]
        if len(dt) > p.maxDets[-1]:
            dt = dt[0:p.maxDets[-1]]
        g = [g['bbox'] for g in gt]
        d = [d['bbox'] for d in dt]
        iscrowd = [int(o['iscrowd']) for o in gt]
        return bbox_iou(d, g, iscrowd)

    def evaluate(self):
        p = self.params
        self.ious = {(imgId, catId): self.computeIoU(imgId, catId) for imgId in p.imgIds for catId in p.catIds}
        maxDet = p.maxDets[-1]
        self.evalImgs = [self.evaluateImg(imgId, catId, areaRng, maxDet)
                         for catId in p.catIds for areaRng in p.areaRng for imgId in p.imgIds]

    def evaluateImg(self, imgId, catId, aRng, maxDet):
        p = self.params
        gt = self._gts.get((imgId, catId), [])
        dt = self._dts.get((imgId, catId), [])
        if len(gt) == 0 and len(dt) == 0:
            return None
        for g in gt:
            g['_ignore'] = 1 if g['ignore'] or (g['area'] < aRng[0] or g['area'] > aRng[1]) else 0
        gtind = np.argsort([g['_ignore'] for g in gt], kind='mergesort')
        gt = [gt[i] for i in gtind]
        dtind = np.argsort([-d['score'] for d in dt], kind='mergesort')
        dt = [dt[i] for i in dtind[0:maxDet]]
        iscrowd = [int(o['iscrowd']) for o in gt]
        ious = self.ious[imgId, catId][:, gtind] if len(self.ious[imgId, catId]) > 0 else self.ious[imgId, catId]
        T, G, D = len(p.iouThrs), len(gt), len(dt)
        gtm = np.zeros((T, G))
        dtm = np.zeros((T, D))
        gtIg = np.array([g['_ignore'] for g in gt])
        dtIg = np.zeros((T, D))
        if not len(ious) == 0:
            for tind, t in enumerate(p.iouThrs):
                for dind, d in enumerate(dt):
                    iou = min([t, 1 - 1e-10])
                    m = -1
                    for gind, g in enumerate(gt):
                        if gtm[tind, gind] > 0 and not iscrowd[gind]:
                            continue
                        if m > -1 and gtIg[m] == 0 and gtIg[gind] == 1:
                            break
                        if ious[dind, gind] < iou:
                            continue
                        iou = ious[dind, gind]
                        m = gind
                    if m == -1:
                        continue
                    dtIg[tind, dind] = gtIg[m]
                    dtm[tind, dind] = gt[m]['id']
                    gtm[tind, m] = d['id']
        a = np.array([d['area'] < aRng[0] or d['area'] > aRng[1] for d in dt]).reshape((1, len(dt)))
        dtIg = np.logical_or(dtIg, np.logical_and(dtm == 0, np.repeat(a, T, 0)))
        return {'dtMatches': dtm, 'gtMatches': gtm, 'dtScores': [d['score'] for d in dt], 'gtIgnore': gtIg, 'dtIgnore': dtIg}

    def accumulate(self):
        p = self.params
        T, R, K, A, M = len(p.iouThrs), len(p.recThrs), len(p.catIds), len(p.areaRng), len(p.maxDets)
        precision = -np.ones((T, R, K, A, M))
        I0, A0 = len(p.imgIds), len(p.areaRng)
        for k in range(K):
            Nk = k * A0 * I0
            for a in range(A):
                Na = a * I0
                for m, maxDet in enumerate(p.maxDets):
                    E = [self.evalImgs[Nk + Na + i] for i in range(I0)]
                    E = [e for e in E if e is not None]
                    if len(E) == 0:
                        continue
                    dtScores = np.concatenate([e['dtScores'][0:maxDet] for e in E])
                    inds = np.argsort(-dtScores, kind='mergesort')
                    dtm = np.concatenate([e['dtMatches'][:, 0:maxDet] for e in E], axis=1)[:, inds]
                    dtIg = np.concatenate([e['dtIgnore'][:, 0:maxDet] for e in E], axis=1)[:, inds]
                    gtIg = np.concatenate([e['gtIgnore'] for e in E])
                    npig = np.count_nonzero(gtIg == 0)
                    if npig == 0:
                        continue
                    tps = np.logical_and(dtm, np.logical_not(dtIg))
                    fps = np.logical_and(np.logical_not(dtm), np.logical_not(dtIg))
                    tp_sum = np.cumsum(tps, axis=1).astype(dtype=np.float64)
                    fp_sum = np.cumsum(fps, axis=1).astype(dtype=np.float64)
                    for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
                        tp = np.array(tp)
                        fp = np.array(fp)
                        nd = len(tp)
                        rc = tp / npig
                        pr = tp / (fp + tp + np.spacing(1))
                        q = np.zeros((R,))
                        pr = pr.tolist()
                        q = q.tolist()
                        for i in range(nd - 1, 0, -1):
                            if pr[i] > pr[i - 1]:
                                pr[i - 1] = pr[i]
                        inds = np.searchsorted(rc, p.recThrs, side='left')
                        try:
                            for ri, pi in enumerate(inds):
                                q[ri] = pr[pi]
                        except IndexError:
                            pass
                        precision[t, :, k, a, m] = np.array(q)
        self.precision = precision


# ----------------------------------------------------------------------------- output

def expected_figures(images):
    """Both protocols on `images` (the fixture's layout): the figures the test compares."""
    coco = CocoEvalTranscription(images)
    coco.evaluate()
    coco.accumulate()
    per_class = []
    for k, label in enumerate(range(1, NUM_CLASSES + 1)):
        rec, prec, ap, ap07, nd, npos = voc_eval(images, label)
        s = coco.precision[:, :, k, 0, -1]
        per_class.append({
            'label': label, 'numGt': npos, 'numDetections': nd,
            'ap50': None if ap is None else float(ap),
            'ap50_11pt': None if ap07 is None else float(ap07),
            'apCoco': float(np.mean(s)) if np.all(s > -1) else None,
            'precision': None if prec is None else [float(v) for v in prec],
            'recall': None if rec is None else [float(v) for v in rec],
        })
    s = coco.precision[:, :, :, 0, -1]
    defined = lambda key: [c[key] for c in per_class if c[key] is not None]
    return {
        'map50': float(np.mean(defined('ap50'))),
        'map50_11pt': float(np.mean(defined('ap50_11pt'))),
        'mapCoco': float(np.mean(s[s > -1])),
        'perClass': per_class,
    }


def main():
    global NUM_CLASSES, MIN_SCORE
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'eval')
    if '--out' in sys.argv:
        out_dir = sys.argv[sys.argv.index('--out') + 1]
    if '--input' in sys.argv:
        # Other data (e.g. the test's BCCD-derived set): {numClasses, minScore, images} in, figures out.
        with open(sys.argv[sys.argv.index('--input') + 1]) as f:
            given = json.load(f)
        NUM_CLASSES, MIN_SCORE = given['numClasses'], given['minScore']
        json.dump(expected_figures(given['images']), sys.stdout, separators=(',', ':'))
        return
    images = make_images(np.random.RandomState(SEED))
    doc = {
        'about': 'scripts/eval_reference.py: numpy transcription of voc_eval.py and pycocotools COCOeval (bbox); not the packages themselves',
        'seed': SEED, 'numClasses': NUM_CLASSES, 'minScore': MIN_SCORE,
        'images': images,
        'expected': expected_figures(images),
    }
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'reference.json'), 'w') as f:
        json.dump(doc, f, separators=(',', ':'))
        f.write('\n')


if __name__ == '__main__':
    main()
