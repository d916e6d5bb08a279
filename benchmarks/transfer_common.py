"""What the frozen-feature transfer benchmarks share: data, the holdout rule, cached features.

Protocol of every ``transfer_*`` benchmark: all choices (epochs by early stopping, thresholds,
ensemble weights) are made on a holdout carved from the Training rows (stratified 10 %, fixed
seed, :func:`emolib.models.feature_heads.holdout_split`); PublicTest is scored once, at the end.
FaceNet stays frozen: its features are computed once (:func:`emolib.features.cache.extract_features`)
and only heads are trained; fine-tuning FaceNet (about 90 min on these CPUs) did not fit the session.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

DATA_DIR = Path(os.environ.get("DATA_DIR", "/work/shared/data"))
HOLDOUT_FRACTION = 0.1
HOLDOUT_SEED = 0
FACENET = {"backbone": "facenet", "layer": "AvgPool", "size": 96}
FROZEN_NOTE = ("FaceNet is frozen: heads are trained on cached AvgPool features; fine-tuning FaceNet "
               "(about 90 min on these CPUs) did not fit this session and is not done.")
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


def facenet_features(ds, augment=None, rows=None) -> np.ndarray:
    """FaceNet AvgPool (1792-d) features at 96 px of ``ds`` (or its ``rows``), cached."""
    from emolib.features.cache import extract_features

    images = ds.images if rows is None else ds.images[rows]
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
