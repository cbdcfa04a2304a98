#!/usr/bin/python3
"""Independent reader for hpa-detect's converted annotations (used by the tests).

CSV: parsed exactly as keras-frcnn's simple_parser.get_data does (strip, split on ',', int() on the
coordinates), optionally checking that every filepath exists, as keras-frcnn's cv2.imread needs.
COCO: checked for what pycocotools relies on: unique ids, references that resolve, bbox [x, y, w, h]
with w, h > 0 and area == w * h.
VOC: every XML in a folder parsed the way LabelImg's PascalVocReader.parse_xml does (filename,
verified attribute, name, bndbox via int(float()), difficult via bool(int())), so a file that passes
opens in LabelImg.
Prints a JSON summary (per-class counts and image counts for each input); exits 1 on any violation.

Usage: /usr/bin/python3 scripts/annotation_interop_check.py [--csv annot.txt [--check-files]] [--coco coco.json] [--voc DIR]
"""
import argparse
import json
import os
import sys


def read_keras_frcnn_csv(path, check_files):
    all_imgs = {}
    classes_count = {}
    with open(path, 'r') as f:
        for line in f:
            line_split = line.strip().split(',')
            (filename, x1, y1, x2, y2, class_name) = line_split
            classes_count[class_name] = classes_count.get(class_name, 0) + 1
            if filename not in all_imgs:
                if check_files and not os.path.exists(filename):
                    raise SystemExit('missing image: %s' % filename)
                all_imgs[filename] = {'filepath': filename, 'bboxes': []}
            all_imgs[filename]['bboxes'].append(
                {'class': class_name, 'x1': int(x1), 'x2': int(x2), 'y1': int(y1), 'y2': int(y2)})
    for img in all_imgs.values():
        for b in img['bboxes']:
            if not (b['x2'] > b['x1'] and b['y2'] > b['y1']):
                raise SystemExit('degenerate box in %s: %r' % (img['filepath'], b))
    return {'images': len(all_imgs), 'classes': dict(sorted(classes_count.items()))}


def check_coco(path):
    with open(path) as f:
        doc = json.load(f)
    image_ids = [im['id'] for im in doc['images']]
    cat_names = {c['id']: c['name'] for c in doc['categories']}
    ann_ids = [a['id'] for a in doc['annotations']]
    assert len(set(image_ids)) == len(image_ids), 'duplicate image ids'
    assert len(cat_names) == len(doc['categories']), 'duplicate category ids'
    assert len(set(ann_ids)) == len(ann_ids), 'duplicate annotation ids'
    counts = {}
    known = set(image_ids)
    for a in doc['annotations']:
        assert a['image_id'] in known, 'annotation %s: unknown image' % a['id']
        x, y, w, h = a['bbox']
        assert w > 0 and h > 0, 'annotation %s: empty bbox' % a['id']
        assert abs(a['area'] - w * h) < 1e-6, 'annotation %s: area != w*h' % a['id']
        assert a['iscrowd'] == 0
        name = cat_names[a['category_id']]
        counts[name] = counts.get(name, 0) + 1
    return {'images': len(image_ids), 'classes': dict(sorted(counts.items())),
            'categories': [[c['id'], c['name']] for c in doc['categories']]}


def read_like_labelimg(folder):
    import xml.etree.ElementTree as ElementTree
    counts = {}
    verified = 0
    files = sorted(f for f in os.listdir(folder) if f.endswith('.xml'))
    for name in files:
        root = ElementTree.parse(os.path.join(folder, name)).getroot()
        assert root.find('filename').text, '%s: no filename' % name
        if root.attrib.get('verified') == 'yes':
            verified += 1
        for obj in root.findall('object'):
            box = obj.find('bndbox')
            label = obj.find('name').text
            [int(float(box.find(k).text)) for k in ('xmin', 'ymin', 'xmax', 'ymax')]
            if obj.find('difficult') is not None:
                bool(int(obj.find('difficult').text))
            counts[label] = counts.get(label, 0) + 1
    return {'files': len(files), 'verified': verified, 'classes': dict(sorted(counts.items()))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--csv')
    ap.add_argument('--check-files', action='store_true')
    ap.add_argument('--coco')
    ap.add_argument('--voc')
    args = ap.parse_args()
    out = {}
    try:
        if args.csv:
            out['csv'] = read_keras_frcnn_csv(args.csv, args.check_files)
        if args.coco:
            out['coco'] = check_coco(args.coco)
        if args.voc:
            out['voc'] = read_like_labelimg(args.voc)
    except (AssertionError, ValueError, KeyError, AttributeError) as e:
        print('invalid: %r' % (e,), file=sys.stderr)
        sys.exit(1)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
