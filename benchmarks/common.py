"""What the real-data training benchmarks share: data paths, TensorFlow set-up, model builders."""
from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def setup_tensorflow(onednn: bool = True) -> None:
    """Call before TensorFlow is imported. oneDNN kernels train the compact CNN about 1.6x faster
    on these CPUs; the notebooks keep them off only because they change the last digits of results,
    which nbval compares."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if onednn else "0"


def add_training_args(ap: argparse.ArgumentParser, *, budget_min: float, budget_help: str) -> None:
    """The options every CNN-training benchmark takes."""
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA,
                    help="folder holding fer2013/fer2013.csv.gz and ferplus/fer2013new.csv")
    ap.add_argument("--budget-min", type=float, default=budget_min, help=budget_help)
    ap.add_argument("--epochs", type=int, default=100, help="epoch cap (the budget usually stops first)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--builder", default="emolib.models.compact:compact_cnn",
                    help="module:function building the model (num_classes=, input_shape=)")
    ap.add_argument("--results-dir", type=Path, default=None, help="default: the repository's results/")
    ap.add_argument("--verbose", type=int, default=2)
    ap.add_argument("--no-onednn", dest="onednn", action="store_false",
                    help="TensorFlow's default kernels (slower; the same digits as the notebooks)")


def load_builder(spec: str):
    """``module:function`` -> the model builder."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name or "compact_cnn")


def load_fer_with_votes(data_dir: Path):
    """FER2013 with its FER+ votes attached by row position; returns (dataset, fer path, votes path)."""
    from emolib.data import attach_ferplus_votes, load_fer2013

    fer_path = data_dir / "fer2013" / "fer2013.csv.gz"
    votes_path = data_dir / "ferplus" / "fer2013new.csv"
    ds = attach_ferplus_votes(load_fer2013(fer_path, progress=False), votes_path)
    return ds, fer_path, votes_path
