#!/usr/bin/python3
"""Independent count of the HPA train.csv labels (Python csv module, not our TypeScript reader).

Writes the JSON fixture test/labels.test.ts compares hpa-detect's counts with:
    /usr/bin/python3 scripts/count_hpa_labels.py [../shared/data/hpa/train.csv] [test/fixtures/labels/hpa-train-counts.json]
"""
import csv
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
csv_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data", "hpa", "train.csv")
out_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "test", "fixtures", "labels", "hpa-train-counts.json")

counts = [0] * 28
labels_per_image = {}
rows = 0
with open(csv_path, newline="") as f:
    for record in csv.DictReader(f):
        labels = [int(t) for t in record["Target"].split()]
        assert labels and all(0 <= l < 28 for l in labels), record
        rows += 1
        for l in set(labels):
            counts[l] += 1
        n = len(set(labels))
        labels_per_image[n] = labels_per_image.get(n, 0) + 1

result = {
    "source": "train.csv (Kaggle HPA 2018), counted by scripts/count_hpa_labels.py",
    "rows": rows,
    "counts": counts,
    "labelsPerImage": {str(k): v for k, v in sorted(labels_per_image.items())},
}
with open(out_path, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
print(f"{rows} rows -> {out_path}")
