"""(b) Class balancing on FaceNet features: the balancing table of the FER2013 VGGFace student
project {cite}`seed003fer2013`, redone with a head on FaceNet AvgPool features (of the frozen
FaceNet, or of the fine-tuned one with ``--finetuned``).

Methods: none, class weights (balanced), ROS, RUS, SMOTE, ADASYN (imbalanced-learn on the feature
vectors of the train part). The holdout is never resampled; every head trains until early
stopping on it. PublicTest (once, at the end): accuracy, macro-F1, per-class F1; flip TTA where it
helped on the holdout. Writes ``transfer_balancing.json``.

    python benchmarks/transfer_balancing.py [--head vggface1]
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import transfer_common as tc

SEED_PROJECT_RESNET50 = {
    "source": "the FER2013 VGGFace student project {cite}`seed003fer2013`, ResNet50, validation accuracy (%)",
    "ROS": 59.43, "SMOTE": 59.82, "augment + class weight": 56.90}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--head", default=None, help="default: the best Keras head of transfer_frozen.json")
    ap.add_argument("--methods", default="none,class_weight,ros,rus,smote,adasyn")
    tc.add_feature_args(ap)
    args = ap.parse_args()
    tc.use_features(args.finetuned)
    from emolib.balance import make_sampler
    from emolib.evaluate import provenance, write_result
    from emolib.models.feature_heads import balanced_class_weight

    head = args.head or tc.chosen_head()
    total = tc.timer()
    ds, fer_path, _ = tc.load_data()
    (train, hold, test), (x_tr, x_ho, x_te), flip = tc.facenet_split_features(ds)
    y_tr, y_ho, y_te = ds.labels[train], ds.labels[hold], ds.labels[test]
    k = len(ds.classes)
    result = {"task": f"FER2013 7 classes: balancing methods, head on {tc.facenet_word()} FaceNet features",
              "head": head, "head_chosen_by": "TRANSFER_HEAD (set before (a) ended)" if os.environ.get("TRANSFER_HEAD")
              else "best holdout accuracy among Keras heads in transfer_frozen.json",
              **tc.base_result(ds, train, hold), "seed_project": SEED_PROJECT_RESNET50, "methods": {}}
    for method in args.methods.split(","):
        t = tc.timer()
        cw = None
        if method in ("none", "class_weight"):
            xr, yr = x_tr, y_tr
            cw = balanced_class_weight(y_tr, k) if method == "class_weight" else None
        else:
            xr, yr = make_sampler(method, random_state=0).fit_resample(x_tr, y_tr)
        resample_s = t()
        h, rec = tc.train_keras_head(head, xr, yr, x_ho, y_ho, k, class_weight=cw)
        rec.update(method=method, resample_s=resample_s,
                   class_counts=dict(zip(ds.classes, np.bincount(yr, minlength=k).tolist())),
                   class_weight={c: round(w, 3) for c, w in zip(ds.classes, cw.values())} if cw else None)
        if flip[0] is not None:
            rec.update(tc.flip_tta_choice(h, x_ho, flip[0], y_ho))
        else:
            rec.update(holdout_accuracy=round(float((h.predict_proba(x_ho).argmax(1) == y_ho).mean()), 4),
                       use_flip_tta=False)
        p = h.predict_proba(x_te)
        if rec["use_flip_tta"]:
            p = (p + h.predict_proba(flip[1])) / 2
        rec["holdout_macro_f1"] = tc.summary(y_ho, h.predict_proba(x_ho).argmax(1), ds.classes)["macro_f1"]
        rec["PublicTest"] = tc.summary(y_te, p.argmax(1), ds.classes)
        rec["history"] = h.history
        result["methods"][method] = rec
        print(method, rec["PublicTest"]["accuracy"], rec["PublicTest"]["macro_f1"], rec["stopped_by"], flush=True)
    result["all_converged"] = all(r["converged"] for r in result["methods"].values())
    result["best_by_holdout_macro_f1"] = max(result["methods"], key=lambda m: result["methods"][m]["holdout_macro_f1"])
    path = write_result("transfer_balancing", result, provenance(fer_path, profile="local", wall_time_s=total()))
    print(path)


if __name__ == "__main__":
    main()
