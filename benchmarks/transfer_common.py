"""What the frozen-feature transfer benchmarks share: data, the holdout rule, cached features.

Protocol of every ``transfer_*`` benchmark: all choices (epochs by early stopping, thresholds,
ensemble weights) are made on a holdout carved from the Training rows (stratified 10 %, fixed
seed, :func:`emolib.models.feature_heads.holdout_split`); PublicTest is scored once, at the end.
Heads are trained on cached FaceNet AvgPool features (:func:`emolib.features.cache.extract_features`):
of the frozen FaceNet by default, or, with ``--finetuned MODEL``, of the FaceNet that
``transfer_finetune.py --save MODEL`` fine-tuned on the train part (its holdout and PublicTest
rows were never trained on).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

DATA_DIR = Path(os.environ.get("DATA_DIR", "/work/shared/data"))
HOLDOUT_FRACTION = 0.1
HOLDOUT_SEED = 0
FACENET = {"backbone": "facenet", "layer": "AvgPool", "size": 96}
FROZEN_NOTE = "FaceNet is frozen: heads are trained on its cached AvgPool features."
FINETUNED_NOTE = ("Heads are trained on the AvgPool features of the FaceNet fine-tuned on the train part "
                  "(transfer_finetune.json). The train part's features come from a network fitted to those "
                  "rows, so the heads' training loss is optimistic; the holdout (early stopping) and "
                  "PublicTest were never trained on.")
# which FaceNet gives the features: {"kind": "frozen"} or {"kind": "finetuned", "model": path, ...}
FEATURES = {"kind": "frozen"}
_BACKBONE = []
DLIB_TRAIN_ROWS = 1500
DLIB_HOLDOUT_ROWS = 600


def load_data():
    """FER2013 Training + PublicTest with FER+ votes; returns (dataset, fer path, votes path)."""
    from common import load_fer_with_votes  # benchmarks/common.py

    return load_fer_with_votes(DATA_DIR)


def splits(ds):
    """Row indices (train, holdout, test): the holdout is stratified 10 % of Training, seed 0."""
    from emolib.models.feature_heads import holdout_split

    tr_rows = np.flatnonzero(ds.usage == "Training")
    te_rows = np.flatnonzero(ds.usage == "PublicTest")
    fit, hold = holdout_split(ds.labels[tr_rows], fraction=HOLDOUT_FRACTION, seed=HOLDOUT_SEED)
    return tr_rows[fit], tr_rows[hold], te_rows


def holdout_recipe(n_train: int, n_holdout: int) -> dict:
    return {"from": "Training rows", "fraction": HOLDOUT_FRACTION, "stratified_by": "FER2013 label",
            "seed": HOLDOUT_SEED, "how": "sklearn.model_selection.train_test_split(stratify=labels, "
            "random_state=0) via emolib.models.feature_heads.holdout_split",
            "n_train": int(n_train), "n_holdout": int(n_holdout),
            "test": "PublicTest, scored once at the end"}


def add_feature_args(ap) -> None:
    """The ``--finetuned MODEL`` option every head benchmark shares."""
    ap.add_argument("--finetuned", type=Path, default=None,
                    help="features of this fine-tuned classifier's FaceNet (transfer_finetune.py --save) "
                         "instead of the frozen FaceNet")


def use_features(finetuned: Path | None) -> None:
    """Select the frozen FaceNet (None) or the FaceNet inside the saved fine-tuned classifier."""
    FEATURES.clear()
    _BACKBONE.clear()
    if finetuned is None:
        FEATURES["kind"] = "frozen"
        return
    from emolib.data.cache import file_sha256

    if not Path(finetuned).is_file():
        raise SystemExit(f"--finetuned {finetuned}: no such file; make it with transfer_finetune.py --save")
    FEATURES.update(kind="finetuned", model=str(finetuned), model_sha256=file_sha256(finetuned),
                    made_by="benchmarks/transfer_finetune.py --save (see transfer_finetune.json)")


def feature_note() -> str:
    return FINETUNED_NOTE if FEATURES["kind"] == "finetuned" else FROZEN_NOTE


def facenet_word() -> str:
    """'frozen' or 'fine-tuned', for task lines."""
    return "fine-tuned" if FEATURES["kind"] == "finetuned" else "frozen"


def _finetuned_backbone():
    if not _BACKBONE:
        import keras

        import emolib.models.facenet  # noqa: F401 - registers FaceNet's layers for loading
        from emolib.models.finetune import find_backbone

        _BACKBONE.append(find_backbone(keras.saving.load_model(FEATURES["model"], compile=False)))
    return _BACKBONE[0]


def facenet_features(ds, augment=None, rows=None) -> np.ndarray:
    """FaceNet AvgPool (1792-d) features at 96 px of ``ds`` (or its ``rows``), cached; from the
    frozen or the fine-tuned FaceNet (:func:`use_features`)."""
    from emolib.features.cache import extract_features

    images = ds.images if rows is None else ds.images[rows]
    if FEATURES["kind"] == "finetuned":   # the backbone's output map, averaged over space = AvgPool
        return extract_features(_finetuned_backbone(), images, size=FACENET["size"], augment=augment,
                                batch_size=128, progress=False)
    return extract_features(FACENET["backbone"], images, layer=FACENET["layer"], size=FACENET["size"],
                            augment=augment, batch_size=128, progress=False)


def dlib_rows(ds):
    """Rows for dlib's face-ID features: stratified subsets of the train part (1,500) and of the holdout
    (600), and all PublicTest (dlib ran about 5 faces/s on the loaded 2-core machine: every row would
    take about 2 hours)."""
    from sklearn.model_selection import train_test_split

    train, hold, test = splits(ds)
    sub, _ = train_test_split(train, train_size=DLIB_TRAIN_ROWS, stratify=ds.labels[train], random_state=0)
    hsub, _ = train_test_split(hold, train_size=DLIB_HOLDOUT_ROWS, stratify=ds.labels[hold], random_state=0)
    return np.sort(sub), np.sort(hsub), test


def timer():
    t0 = time.perf_counter()
    return lambda: round(time.perf_counter() - t0, 1)


HEAD_SETTINGS = {"epoch_cap": 300, "patience": 10, "batch_size": 256, "learning_rate": 1e-3,
                 "monitor": "val_loss (holdout, unweighted; best weights restored)", "dropout": 0.5}
LOGISTIC_C_GRID = (0.01, 0.1, 1.0)


def summary(y_true, y_pred, classes) -> dict:
    """Accuracy, macro-F1, per-class F1 and confusion (emolib.evaluate.classification_summary), rounded."""
    from emolib.evaluate import classification_summary

    s = classification_summary(y_true, y_pred, classes)
    s["accuracy"] = round(s["accuracy"], 4)
    s["macro_f1"] = round(s["macro_f1"], 4)
    s["per_class_f1"] = {k: round(v, 4) for k, v in s["per_class_f1"].items()}
    return s


def train_keras_head(kind, x_tr, y_tr, x_ho, y_ho, num_classes, **kw):
    """fit_head with HEAD_SETTINGS; returns (HeadFit, record with the fit summary and wall time)."""
    from emolib.models.feature_heads import fit_head

    t = timer()
    h = fit_head(kind, x_tr, y_tr, x_ho, y_ho, num_classes=num_classes, epochs=HEAD_SETTINGS["epoch_cap"],
                 patience=HEAD_SETTINGS["patience"], batch_size=HEAD_SETTINGS["batch_size"],
                 learning_rate=HEAD_SETTINGS["learning_rate"], dropout=HEAD_SETTINGS["dropout"], **kw)
    rec = {"head": kind, **h.summary(), "n_train": len(x_tr), "wall_s": t(),
           "best_val_loss": round(min(h.history["val_loss"]), 4)}
    print(kind, rec, flush=True)
    return h, rec


def train_logistic(x_tr, y_tr, x_ho, y_ho, class_weight=None):
    """LogisticRegression with C chosen on the holdout accuracy; returns (model, record)."""
    from emolib.models.feature_heads import fit_logistic

    t = timer()
    best = None
    tried = {}
    for c in LOGISTIC_C_GRID:
        model, conv = fit_logistic(x_tr, y_tr, C=c, class_weight=class_weight, max_iter=1000)
        acc = float((model.predict(x_ho) == y_ho).mean())
        tried[str(c)] = {"holdout_accuracy": round(acc, 4), "converged": conv}
        if best is None or acc > best[1]:
            best = (model, acc, c, conv)
    rec = {"head": "logistic_regression", "C_grid": tried, "C": best[2], "converged": best[3],
           "stopped_by": "lbfgs tolerance" if best[3] else "max_iter (1000)", "n_train": len(x_tr),
           "wall_s": t()}
    print(rec, flush=True)
    return best[0], rec


def proba(model, x) -> np.ndarray:
    return model.predict_proba(x) if hasattr(model, "predict_proba") else np.asarray(model(x))


def flip_tta_choice(model, x_ho, x_ho_flip, y_ho) -> dict:
    """Holdout accuracy without and with flip TTA (mean of plain and mirrored probabilities)."""
    p, q = proba(model, x_ho), proba(model, x_ho_flip)
    plain = float((p.argmax(1) == y_ho).mean())
    tta = float((((p + q) / 2).argmax(1) == y_ho).mean())
    return {"holdout_accuracy": round(plain, 4), "holdout_accuracy_flip_tta": round(tta, 4),
            "use_flip_tta": tta > plain}


def facenet_split_features(ds):
    """(train, holdout, test) row indices and FaceNet features for each, plus the mirrored features of
    the holdout and the test rows (None where they were not cached)."""
    train, hold, test = splits(ds)
    f = facenet_features(ds)
    try:
        g = facenet_features(ds, augment="flip", rows=np.concatenate([hold, test]))
        flip = (g[:len(hold)], g[len(hold):])
    except Exception as e:  # noqa: BLE001 - the flipped run is optional
        print("no flipped features:", e, flush=True)
        flip = (None, None)
    return (train, hold, test), (f[train], f[hold], f[test]), flip


def base_result(ds, train, hold) -> dict:
    return {"holdout": holdout_recipe(len(train), len(hold)),
            "features": {**FACENET, "dim": 1792, "facenet": dict(FEATURES)},
            "head_settings": HEAD_SETTINGS, "note": feature_note(), "classes": list(ds.classes)}


def chosen_head(default: str = "vggface1") -> str:
    """The Keras head with the best holdout accuracy in transfer_frozen.json (the 'best head'), or the
    head named by the environment variable TRANSFER_HEAD (set when a run had to start before (a) ended)."""
    import json

    from emolib.evaluate import RESULTS_DIR

    if os.environ.get("TRANSFER_HEAD"):
        return os.environ["TRANSFER_HEAD"]
    path = RESULTS_DIR / "transfer_frozen.json"
    if not path.exists():
        return default
    heads = json.loads(path.read_text())["result"]["facenet_heads"]
    keras_heads = {k: v for k, v in heads.items() if k != "logistic_regression"}
    return max(keras_heads, key=lambda k: keras_heads[k]["holdout_accuracy"])
