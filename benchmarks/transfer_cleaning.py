"""(c) Cleaned vs raw Training rows, head on FaceNet features (frozen, or fine-tuned with ``--finetuned``).

The holdout is carved from the Training rows first (the shared rule); the non-face cleaner
(:func:`emolib.faces.clean.find_non_faces`, package defaults) then runs on the train part and its
flagged rows are removed. The same head (the best of ``transfer_balancing.json`` by holdout
macro-F1: the head and the balancing method) is trained on raw and on cleaned rows, with several
seeds because the cleaner removes few rows, and both are scored on the full PublicTest. A third
variant removes the rows FER+ annotators call not-a-face (NF votes > half), the cleaner's ground
truth. Writes ``transfer_cleaning.json``.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import transfer_common as tc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--method", default=None, help="balancing method (default: transfer_balancing.json's best)")
    tc.add_feature_args(ap)
    args = ap.parse_args()
    tc.use_features(args.finetuned)
    from emolib.balance import make_sampler
    from emolib.data.ferplus import FERPLUS_COLUMNS
    from emolib.evaluate import RESULTS_DIR, provenance, write_result
    from emolib.faces.clean import find_non_faces
    from emolib.models.feature_heads import balanced_class_weight

    head, method = tc.chosen_head(), "none"
    bal = RESULTS_DIR / "transfer_balancing.json"
    if bal.exists():
        r = json.loads(bal.read_text())["result"]
        head, method = r["head"], r["best_by_holdout_macro_f1"]
    chosen_by = "transfer_balancing.json best_by_holdout_macro_f1 (or transfer_frozen's best head)"
    if args.method:
        method = args.method
        chosen_by = (f"named on the command line ({method!r}, head {head!r}): (b) had not finished when (c) "
                     "had to start")
    total = tc.timer()
    ds, fer_path, _ = tc.load_data()
    (train, hold, test), (x_tr, x_ho, x_te), flip = tc.facenet_split_features(ds)
    y_tr, y_ho, y_te = ds.labels[train], ds.labels[hold], ds.labels[test]
    k = len(ds.classes)
    t = tc.timer()
    flags = find_non_faces(ds.images[train])
    clean_s = t()
    nf = ds.votes[train][:, list(FERPLUS_COLUMNS).index("NF")] > ds.votes[train].sum(1) / 2
    variants = {"raw": np.ones(len(train), bool), "cleaned": ~flags, "ferplus_nf_removed": ~nf}
    result = {"task": f"FER2013 7 classes: raw vs cleaned train rows, head on {tc.facenet_word()} FaceNet features",
              "head": head, "balancing": method,
              "head_chosen_by": chosen_by, "complete": False,
              **tc.base_result(ds, train, hold),
              "cleaning": {"cleaner": "emolib.faces.clean.find_non_faces, package defaults",
                           "applied_to": "train part only (after the holdout was carved out)",
                           "flagged": int(flags.sum()), "flagged_that_ferplus_calls_nf": int((flags & nf).sum()),
                           "ferplus_nf_in_train": int(nf.sum()), "wall_s": clean_s,
                           "flagged_by_class": dict(zip(ds.classes, np.bincount(y_tr[flags], minlength=k).tolist()))},
              "seeds": list(range(args.seeds)), "variants": {}}
    for name, keep in variants.items():
        runs = []
        for seed in range(args.seeds):
            xr, yr, cw = x_tr[keep], y_tr[keep], None
            if method == "class_weight":
                cw = balanced_class_weight(yr, k)
            elif method != "none":
                xr, yr = make_sampler(method, random_state=seed).fit_resample(xr, yr)
            h, rec = tc.train_keras_head(head, xr, yr, x_ho, y_ho, k, class_weight=cw, seed=seed)
            rec.update(tc.flip_tta_choice(h, x_ho, flip[0], y_ho) if flip[0] is not None else
                       {"holdout_accuracy": round(float((h.predict_proba(x_ho).argmax(1) == y_ho).mean()), 4),
                        "use_flip_tta": False})
            p = h.predict_proba(x_te)
            if rec["use_flip_tta"]:
                p = (p + h.predict_proba(flip[1])) / 2
            s = tc.summary(y_te, p.argmax(1), ds.classes)
            rec.update(seed=seed, PublicTest={k2: s[k2] for k2 in ("n", "accuracy", "macro_f1", "per_class_f1")})
            runs.append(rec)
        acc = [r["PublicTest"]["accuracy"] for r in runs]
        f1 = [r["PublicTest"]["macro_f1"] for r in runs]
        result["variants"][name] = {"n_train_rows": int(keep.sum()), "runs": runs,
                                    "accuracy_mean": round(float(np.mean(acc)), 4),
                                    "accuracy_std": round(float(np.std(acc)), 4),
                                    "macro_f1_mean": round(float(np.mean(f1)), 4),
                                    "macro_f1_std": round(float(np.std(f1)), 4),
                                    "all_converged": all(r["converged"] for r in runs)}
        print(name, result["variants"][name]["accuracy_mean"], result["variants"][name]["macro_f1_mean"], flush=True)
        result["complete"] = name == list(variants)[-1]
        path = write_result("transfer_cleaning", result, provenance(fer_path, profile="local", wall_time_s=total()))
    print(path)


if __name__ == "__main__":
    main()
