"""(a) Frozen FaceNet features vs a CNN from scratch, and dlib's face-ID features.

Heads on frozen FaceNet AvgPool features (1792-d, 96 px): logistic regression (C chosen on the
holdout) and the two seed heads of the FER2013 VGGFace student project {cite}`seed003fer2013`
(``vggface1``, ``vggface2`` of :mod:`emolib.models.feature_heads`), each with early stopping on
the holdout. Flip TTA is used on PublicTest only where it helped on the holdout. Beside them: the
compact CNN from scratch (``fer2013_cpu.json``; it selected its epoch on PublicTest, an older
protocol) and heads on dlib's 128-d face-ID descriptor, trained on a 1,500-row stratified subset
of the train part (dlib is too slow here for every row). Writes ``transfer_frozen.json``.
"""
from __future__ import annotations

import json

import transfer_common as tc


def run_heads(x_tr, y_tr, x_ho, y_ho, x_te, y_te, classes, flips=(None, None), heads=("vggface1", "vggface2")):
    out, models = {}, {}
    model, rec = tc.train_logistic(x_tr, y_tr, x_ho, y_ho)
    models["logistic_regression"] = (model, rec)
    for kind in heads:
        h, rec = tc.train_keras_head(kind, x_tr, y_tr, x_ho, y_ho, len(classes))
        models[kind] = (h, rec)
    for name, (model, rec) in models.items():
        if flips[0] is not None:
            rec.update(tc.flip_tta_choice(model, x_ho, flips[0], y_ho))
        else:
            rec["holdout_accuracy"] = round(float((tc.proba(model, x_ho).argmax(1) == y_ho).mean()), 4)
            rec["use_flip_tta"] = False
        p = tc.proba(model, x_te)
        if rec["use_flip_tta"]:
            p = (p + tc.proba(model, flips[1])) / 2
        rec["PublicTest"] = tc.summary(y_te, p.argmax(1), classes)
        out[name] = rec
    return out, models


def main() -> None:
    import argparse

    from emolib.evaluate import RESULTS_DIR, provenance, write_result

    ap = argparse.ArgumentParser()
    ap.add_argument("--dlib-only", action="store_true",
                    help="only the dlib comparison, written to transfer_frozen_dlib.json (dlib finished late)")
    args = ap.parse_args()

    total = tc.timer()
    ds, fer_path, _ = tc.load_data()
    (train, hold, test), (f_tr, f_ho, f_te), flip = tc.facenet_split_features(ds)
    y = ds.labels
    result = {"task": "FER2013 7 classes: heads on frozen FaceNet features vs the compact CNN from scratch",
              **tc.base_result(ds, train, hold)}
    if not args.dlib_only:
        result["facenet_heads"], _ = run_heads(f_tr, y[train], f_ho, y[hold], f_te, y[test], ds.classes, flip)

    cnn = json.loads((RESULTS_DIR / "fer2013_cpu.json").read_text())["result"]
    result["compact_cnn_from_scratch"] = {
        "source": "emolib/assets/results/fer2013_cpu.json", "accuracy": cnn["accuracy"],
        "macro_f1": cnn["macro_f1"], "tta_flip": cnn["tta_flip"],
        "protocol": "older: trained on all Training, epoch selected on PublicTest (optimistic)"}

    if (RESULTS_DIR / "transfer_extract_dlib.json").exists():
        from emolib.features.cache import extract_features
        d_tr, d_ho, d_te = tc.dlib_rows(ds)
        feats = [extract_features("dlib_resnet", ds.images[r], size=48, progress=False) for r in (d_tr, d_ho, d_te)]
        heads, _ = run_heads(feats[0], y[d_tr], feats[1], y[d_ho], feats[2], y[d_te], ds.classes,
                             heads=("vggface1",))
        result["dlib_face_id_heads"] = {
            "rows": {"train": "stratified subset of the train part", "n_train": len(d_tr),
                     "holdout": "stratified subset of the holdout", "n_holdout": len(d_ho),
                     "test": "all PublicTest", "n_test": len(d_te)},
            "features": {"backbone": "dlib_resnet", "dim": 128, "input": "48 px grey, 5-point aligned 150 px chip"},
            "heads": heads,
            "facenet_vggface1_on_the_same_1500_rows": None}
        # the same subset with FaceNet features, so that the backbones are compared at equal data
        f_all = tc.facenet_features(ds)
        same, _ = run_heads(f_all[d_tr], y[d_tr], f_all[d_ho], y[d_ho], f_te, y[test], ds.classes, heads=("vggface1",))
        result["dlib_face_id_heads"]["facenet_vggface1_on_the_same_1500_rows"] = same
    else:
        result["dlib_face_id_heads"] = "not done: dlib features were not extracted in time"
    if args.dlib_only:
        path = write_result("transfer_frozen_dlib", result, provenance(fer_path, profile="local", wall_time_s=total()))
        print(path)
        return
    best = max(result["facenet_heads"], key=lambda k: result["facenet_heads"][k]["holdout_accuracy"])
    result["best_facenet_head_by_holdout"] = best
    path = write_result("transfer_frozen", result, provenance(fer_path, profile="local", wall_time_s=total()))
    print(path, {k: v["PublicTest"]["accuracy"] for k, v in result["facenet_heads"].items()})


if __name__ == "__main__":
    main()
