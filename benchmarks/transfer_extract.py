"""Step 1 of the frozen-feature transfer experiments: cache the backbone features.

FaceNet AvgPool (1792-d) at 96 px for all 32,298 Training + PublicTest rows (the frozen FaceNet,
or with ``--finetuned MODEL`` the one fine-tuned by ``transfer_finetune.py --save MODEL``); then FaceNet on the
mirrored faces of the holdout and PublicTest (for flip test-time augmentation); then dlib's 128-d
face-ID descriptor on a stratified subset (see ``transfer_common.dlib_rows``) if ``--dlib``.
Writes ``transfer_extract.json`` with the wall time of each step.

    nice -n 5 python benchmarks/transfer_extract.py [--dlib] [--no-flip]
"""
from __future__ import annotations

import argparse
import logging

import numpy as np
import transfer_common as tc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dlib", action="store_true")
    ap.add_argument("--no-facenet", dest="facenet", action="store_false")
    ap.add_argument("--name", default="transfer_extract")
    ap.add_argument("--no-flip", dest="flip", action="store_false")
    ap.add_argument("--dlib-max", type=int, default=None, help="cap dlib rows per part (train/holdout/test)")
    tc.add_feature_args(ap)
    args = ap.parse_args()
    tc.use_features(args.finetuned)
    logging.basicConfig(level=logging.INFO)
    from emolib.evaluate import provenance, write_result

    total = tc.timer()
    ds, fer_path, _ = tc.load_data()
    _train, hold, test = tc.splits(ds)
    steps = {}
    if args.facenet:
        t = tc.timer()
        f = tc.facenet_features(ds)
        steps["facenet_all"] = {"rows": len(f), "dim": int(f.shape[1]), "wall_s": t(),
                                "images_per_s": round(len(f) / max(t(), 1e-9), 1)}
        print(steps, flush=True)
    if args.facenet and args.flip:
        rows = np.concatenate([hold, test])
        t = tc.timer()
        g = tc.facenet_features(ds, augment="flip", rows=rows)
        steps["facenet_flip_holdout_test"] = {"rows": len(g), "wall_s": t()}
        print(steps, flush=True)
    if args.dlib:
        from emolib.features.cache import extract_features
        parts = tc.dlib_rows(ds)
        for name, rows in zip(("test", "holdout_subset", "train_subset"), (parts[2], parts[1], parts[0])):
            rows = rows[:args.dlib_max] if args.dlib_max else rows
            t = tc.timer()
            d = extract_features("dlib_resnet", ds.images[rows], size=48, progress=False, batch_size=64)
            steps[f"dlib_{name}"] = {"rows": len(d), "wall_s": t(), "images_per_s": round(len(d) / max(t(), 1e-9), 1)}
            print(steps, flush=True)
    result = {"steps": steps, "facenet": {**tc.FACENET, "source": dict(tc.FEATURES)}, "note": tc.feature_note()}
    write_result(args.name, result, provenance(fer_path, profile="local", wall_time_s=total()))


if __name__ == "__main__":
    main()
