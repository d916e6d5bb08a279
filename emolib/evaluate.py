"""Metrics and result files with provenance (DESIGN §2)."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

__all__ = ["classification_summary", "provenance", "write_result", "read_results", "RESULTS_DIR"]

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"


def classification_summary(y_true, y_pred, classes) -> dict:
    """Accuracy, macro-F1, per-class F1 and the confusion matrix, as plain JSON-able values."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = list(range(len(classes)))
    f1 = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(np.mean(f1)),
        "per_class_f1": {c: float(v) for c, v in zip(classes, f1)},
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "classes": list(classes),
    }


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def provenance(data_path: str | os.PathLike | None = None, *, profile: str = "full",
               wall_time_s: float | None = None, **extra) -> dict:
    """Where a result came from: data checksum, git commit, hardware, versions, wall time."""
    import importlib.metadata as md

    from .data.cache import file_sha256

    versions = {}
    for pkg in ("emolib", "numpy", "scikit-learn", "imbalanced-learn", "keras", "tensorflow",
                "tensorflow-cpu", "opencv-python-headless"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    data = None
    if data_path is not None and Path(data_path).is_file():
        data = {"path": Path(data_path).name, "sha256": file_sha256(data_path)}
    elif data_path is not None:
        data = {"path": str(data_path)}
    return {
        "profile": profile,
        "data": data,
        "git_commit": _git_commit(),
        "hardware": {"machine": platform.machine(), "processor": platform.processor() or None,
                     "cpus": os.cpu_count(), "system": platform.system()},
        "python": platform.python_version(),
        "versions": versions,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_time_s": wall_time_s,
        **extra,
    }


def write_result(name: str, result: dict, provenance_info: dict, results_dir=None) -> Path:
    """Write ``results/<name>.json`` holding ``result`` and its ``provenance``."""
    out = Path(results_dir or RESULTS_DIR)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"name": name, "result": result, "provenance": provenance_info},
                              indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


def read_results(results_dir=None) -> dict[str, dict]:
    """Every result JSON under ``results/``, by name."""
    out = {}
    for path in sorted(Path(results_dir or RESULTS_DIR).glob("*.json")):
        out[path.stem] = json.loads(path.read_text())
    return out
