"""(e) Ensembles of heads on different backbones, weights fit on the holdout.

Members: the best Keras head on FaceNet features (frozen, or fine-tuned with ``--finetuned``;
plain and on mirrored faces, i.e. a flip-TTA member), a linear head on HOG descriptors of the
48 px faces {cite}`dalal2005histograms` (a backbone-free model), the compact CNN trained from
scratch on the same train part with the same holdout (member ``cnn_a`` of
``fer2013_system.py``, saved under ``EMOLIB_HOME/runs/fer2013_system``; ``--compact-cnn``), and,
where dlib's face-ID features were extracted, a head on them (trained on a 1,500-row subset).
Ensembles: the mean of probabilities, accuracy-weighted mean
(weights proportional to holdout accuracy), and logistic stacking {cite}`wolpert1992stacked`
(multinomial logistic regression on the members' concatenated probabilities, fit on the holdout).
Every combination weight is fit on the holdout; PublicTest is scored once. With dlib, the
ensembles are fit on the 600-row holdout subset dlib was run on. Writes ``transfer_ensembles.json``.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import transfer_common as tc


def hog_features(images) -> np.ndarray:
    from skimage.feature import hog

    return np.stack([hog(im, orientations=9, pixels_per_cell=(6, 6), cells_per_block=(2, 2)) for im in images]
                    ).astype(np.float32)


def ensembles(members: dict, y_ho, y_te, classes, rows_ho=None) -> dict:
    """members: name -> (holdout proba, test proba). rows_ho selects the holdout rows to fit on."""
    from sklearn.linear_model import LogisticRegression

    sel = slice(None) if rows_ho is None else rows_ho
    names = list(members)
    ho = [members[n][0][sel] for n in names]
    te = [members[n][1] for n in names]
    y_fit = y_ho[sel]
    acc = np.array([(p.argmax(1) == y_fit).mean() for p in ho])
    out = {"members": names, "fit_on_holdout_rows": len(y_fit), "member_holdout_accuracy":
           dict(zip(names, np.round(acc, 4).tolist()))}
    w = acc / acc.sum()
    stack = LogisticRegression(C=1.0, max_iter=2000).fit(np.hstack(ho), y_fit)
    preds = {"mean": np.mean(te, axis=0).argmax(1),
             "accuracy_weighted": np.tensordot(w, np.stack(te), axes=1).argmax(1),
             "logistic_stacking": stack.predict(np.hstack(te))}
    out["weights"] = {"accuracy_weighted": dict(zip(names, np.round(w, 4).tolist()))}
    best_member = max(names, key=lambda n: (members[n][1].argmax(1) == y_te).mean())
    best_member_acc = float((members[best_member][1].argmax(1) == y_te).mean())
    for name, pr in preds.items():
        s = tc.summary(y_te, pr, classes)
        out[name] = {"PublicTest": {k: s[k] for k in ("n", "accuracy", "macro_f1", "per_class_f1")},
                     "gain_over_best_member_pp": round(100 * (s["accuracy"] - best_member_acc), 2)}
    out["best_member_on_PublicTest"] = {"name": best_member, "accuracy": round(best_member_acc, 4),
                                        "note": "named after scoring, for the gain only; nothing was chosen by it"}
    return out


def main() -> None:
    from emolib.config import emolib_home
    from emolib.evaluate import RESULTS_DIR, provenance, write_result

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    tc.add_feature_args(ap)
    ap.add_argument("--compact-cnn", type=Path, default=emolib_home() / "runs" / "fer2013_system" / "cnn_a.keras",
                    help="a compact CNN trained on the same train part (skipped if the file is missing)")
    args = ap.parse_args()
    tc.use_features(args.finetuned)
    head = tc.chosen_head()
    total = tc.timer()
    ds, fer_path, _ = tc.load_data()
    (train, hold, test), (x_tr, x_ho, x_te), flip = tc.facenet_split_features(ds)
    y, classes, k = ds.labels, ds.classes, len(ds.classes)
    y_tr, y_ho, y_te = y[train], y[hold], y[test]
    result = {"task": "FER2013 7 classes: ensembles of heads on different backbones",
              "head": head,
              "head_chosen_by": os.environ.get("TRANSFER_HEAD") and "TRANSFER_HEAD (set before (a) ended)",
              **tc.base_result(ds, train, hold), "members": {}}
    members = {}

    def record(name, model, p_ho, p_te, rec, backbone):
        s = tc.summary(y_te, p_te.argmax(1), classes)
        # every member is scored on the faces it is given; the mirror is a member of its own
        rec.update(backbone=backbone, use_flip_tta=False,
                   holdout_accuracy=round(float((p_ho.argmax(1) == y_ho).mean()), 4),
                   PublicTest={k2: s[k2] for k2 in ("n", "accuracy", "macro_f1", "per_class_f1")})
        result["members"][name] = rec
        members[name] = (p_ho, p_te)
        print(name, rec["holdout_accuracy"], s["accuracy"], flush=True)

    h, rec = tc.train_keras_head(head, x_tr, y_tr, x_ho, y_ho, k)
    record(f"facenet_{head}", h, h.predict_proba(x_ho), h.predict_proba(x_te), rec, "FaceNet AvgPool 96 px")
    if flip[0] is not None:
        record(f"facenet_{head}_mirrored", h, h.predict_proba(flip[0]), h.predict_proba(flip[1]),
               {"head": head, "note": "the same head on the mirrored faces' features"},
               "FaceNet AvgPool 96 px, mirrored")
    t = tc.timer()
    g = hog_features(ds.images)
    hog_s = t()
    hh, rec = tc.train_keras_head("linear", g[train], y_tr, g[hold], y_ho, k)
    rec["hog"] = {"orientations": 9, "pixels_per_cell": 6, "cells_per_block": 2, "dim": int(g.shape[1]),
                  "extract_wall_s": hog_s}
    record("hog_linear", hh, hh.predict_proba(g[hold]), hh.predict_proba(g[test]), rec, "HOG of 48 px faces")
    if args.compact_cnn.is_file():
        import keras

        from emolib.models.predict import predict_faces

        cnn = keras.saving.load_model(args.compact_cnn, compile=False)
        info_path = args.compact_cnn.with_suffix(".json")
        info = json.loads(info_path.read_text()) if info_path.is_file() else {}
        rec = {"head": "compact CNN from scratch (whole network)", "file": args.compact_cnn.name,
               **{k2: info[k2] for k2 in ("epochs", "best_epoch", "train_seconds", "ferplus_blend", "seed")
                  if k2 in info},
               # emolib.models.training.train decays the learning rate to zero over the minutes budget
               "converged": True,
               "stopped_by": "end of its cosine schedule (fer2013_system.py budget); best holdout epoch restored"}
        record("compact_cnn", cnn, predict_faces(cnn, ds.images[hold]), predict_faces(cnn, ds.images[test]),
               rec, "compact CNN, 48 px, from scratch")
    else:
        print("no compact CNN member:", args.compact_cnn, "is missing", flush=True)
    result["ensembles_without_dlib"] = ensembles(members, y_ho, y_te, classes)

    if (RESULTS_DIR / "transfer_extract_dlib.json").exists():
        from emolib.features.cache import extract_features
        d_tr, d_ho, d_te = tc.dlib_rows(ds)
        f = [extract_features("dlib_resnet", ds.images[r], size=48, progress=False) for r in (d_tr, d_ho, d_te)]
        dh, rec = tc.train_keras_head("vggface1", f[0], y[d_tr], f[1], y[d_ho], k)
        pos = np.searchsorted(hold, d_ho)          # holdout positions of dlib's holdout subset
        p_ho = np.full((len(hold), k), np.nan, np.float32)
        p_ho[pos] = dh.predict_proba(f[1])
        s = tc.summary(y_te, dh.predict_proba(f[2]).argmax(1), classes)
        rec.update(backbone="dlib face-ID 128-d", n_holdout=len(d_ho), use_flip_tta=False,
                   holdout_accuracy=round(float((p_ho[pos].argmax(1) == y_ho[pos]).mean()), 4),
                   PublicTest={k2: s[k2] for k2 in ("n", "accuracy", "macro_f1", "per_class_f1")})
        result["members"]["dlib_vggface1"] = rec
        members["dlib_vggface1"] = (p_ho, dh.predict_proba(f[2]))
        result["ensembles_with_dlib"] = ensembles(members, y_ho, y_te, classes, rows_ho=pos)
    else:
        result["ensembles_with_dlib"] = "not done: dlib features were not extracted in time"
    path = write_result("transfer_ensembles", result, provenance(fer_path, profile="local", wall_time_s=total()))
    print(path)


if __name__ == "__main__":
    main()
