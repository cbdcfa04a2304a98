#!/usr/bin/python3
"""Independent reference for the BCCD annotation tests: counts every object per class in
../shared/data/bccd/Annotations with Python's xml.etree (not our TypeScript reader) and lists the
boxes with zero or negative area, then writes test/fixtures/annotations/bccd-counts.json.

Usage: /usr/bin/python3 scripts/bccd_annotation_counts.py [ANNOTATIONS_DIR] [OUT_JSON]
"""
import json
import os
import sys
import xml.etree.ElementTree as ET

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ann_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, '..', 'shared', 'data', 'bccd', 'Annotations')
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, 'test', 'fixtures', 'annotations', 'bccd-counts.json')

classes = {}
degenerate = []
files = sorted(f for f in os.listdir(ann_dir) if f.endswith('.xml'))
objects = 0
for name in files:
    tree = ET.parse(os.path.join(ann_dir, name))
    for index, obj in enumerate(tree.getroot().findall('object')):
        cls = obj.find('name').text.strip()
        classes[cls] = classes.get(cls, 0) + 1
        objects += 1
        box = obj.find('bndbox')
        x1, y1, x2, y2 = (float(box.find(k).text) for k in ('xmin', 'ymin', 'xmax', 'ymax'))
        if x2 <= x1 or y2 <= y1:
            degenerate.append({'file': name, 'objectIndex': index, 'name': cls})

result = {
    'files': len(files),
    'objects': objects,
    'classes': dict(sorted(classes.items())),
    'degenerate': degenerate,
}
with open(out, 'w') as f:
    json.dump(result, f, indent=2)
    f.write('\n')
print(json.dumps(result))
