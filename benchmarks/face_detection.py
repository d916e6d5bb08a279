"""Which face detector should the product use? Recall, precision and speed on real photos.

Three sets, each with every face boxed:
- ``real``: the photos of :mod:`emolib.data.photos` (a six-person table scene and five portraits),
  fetched from sdists on the package index and hash-checked;
- ``real_small_faces``: the six-person photo shrunk to 40 % and placed in a 4000 x 3000 frame, so
  its faces are 37-56 px in a 12-Mpx image (a group far from the camera);
- ``sample``: the sample profile's procedural group scenes (boxes known by construction).

    python benchmarks/face_detection.py [--methods haar hog mtcnn] [--scenes 40]

Writes ``face_detection.json`` to the results folder. A found box counts when its IoU with an
unmatched true box is at least 0.3 (:func:`emolib.faces.scoring.match_detections`).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def real_cases() -> list[tuple[str, np.ndarray, tuple]]:
    from emolib.data.photos import PHOTOS, load_photo

    return [(name, *load_photo(name)) for name in PHOTOS]


def small_face_case(scale: float = 0.4, frame=(3000, 4000)) -> tuple[str, np.ndarray, tuple]:
    import cv2

    from emolib.data.photos import load_photo

    img, boxes = load_photo("six_at_a_table")
    small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((*frame, 3), 128, np.uint8)
    y0, x0 = frame[0] // 2, frame[1] // 3
    canvas[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    moved = tuple((int(round(x * scale)) + x0, int(round(y * scale)) + y0, int(round(w * scale)),
                   int(round(h * scale))) for x, y, w, h in boxes)
    return "six_at_a_table_in_12mpx", canvas, moved


def sample_cases(n: int) -> list[tuple[str, np.ndarray, tuple]]:
    from emolib.data.sample import sample_group_scenes

    return [(f"scene{i}", s.image, tuple(map(tuple, s.boxes))) for i, s in enumerate(sample_group_scenes(n))]


def score(cases, detector) -> dict:
    from emolib.faces.scoring import match_detections, recall_precision

    tp = fp = fn = 0
    seconds, mpx, per_image = 0.0, 0.0, {}
    for name, image, boxes in cases:
        t = time.perf_counter()
        found = detector(image)
        seconds += time.perf_counter() - t
        mpx += image.shape[0] * image.shape[1] / 1e6
        a, b, c = match_detections(found, boxes)
        tp, fp, fn = tp + a, fp + b, fn + c
        per_image[name] = {"faces": len(boxes), "found": a, "false": b, "missed": c}
    recall, precision = recall_precision(tp, fp, fn)
    return {"images": len(cases), "faces": tp + fn, "true_positives": tp, "false_positives": fp,
            "missed": fn, "recall": recall, "precision": precision,
            "seconds_per_image": seconds / max(1, len(cases)), "seconds_per_megapixel": seconds / max(mpx, 1e-9),
            "per_image": per_image if len(cases) <= 10 else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", nargs="+", default=["haar", "hog", "mtcnn"])
    ap.add_argument("--scenes", type=int, default=40, help="procedural scenes in the sample set")
    ap.add_argument("--results-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    from emolib.config import quiet_tensorflow

    quiet_tensorflow()
    from emolib.evaluate import provenance, write_result
    from emolib.faces.detect import detect
    from emolib.serve.analysis import find_faces

    t0 = time.time()
    sets = {"real": real_cases(), "real_small_faces": [small_face_case()], "sample": sample_cases(args.scenes)}
    rows = []
    for method in args.methods:
        for set_name, cases in sets.items():
            row = {"method": method, "set": set_name, "pipeline": "faces.detect (defaults)",
                   **score(cases, lambda img, m=method: detect(img, method=m))}
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "per_image"}), flush=True)
            # the product's path: detection scale, minimum face size and confidence cut
            row = {"method": method, "set": set_name, "pipeline": "serve.analysis.find_faces",
                   **score(cases, lambda img, m=method: find_faces(img, m)[0])}
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "per_image"}), flush=True)
    result = {"min_iou": 0.3, "rows": rows,
              "sets": {k: {"images": len(v), "faces": sum(len(c[2]) for c in v)} for k, v in sets.items()}}
    prov = provenance(None, profile="local", wall_time_s=round(time.time() - t0, 1))
    path = write_result("face_detection", result, prov, results_dir=args.results_dir)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
