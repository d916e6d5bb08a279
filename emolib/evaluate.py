"""Metrics and result files that carry their provenance (data checksum, commit, hardware, versions)."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

__all__ = ["classification_summary", "provenance", "write_result", "read_results", "RESULTS_DIR", "METRICS"]

RESULTS_DIR = Path(__file__).resolve().parent / "assets" / "results"
METRICS = ("accuracy", "macro_f1", "f1", "precision", "recall")


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


def _git(*args: str, cwd: str | os.PathLike | None = None) -> str | None:
    """Output of ``git ARGS`` run in ``cwd`` (default: this package's folder), or None outside a
    git checkout."""
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True, timeout=30,
                              cwd=cwd or Path(__file__).resolve().parent).stdout
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return None


def _git_commit() -> str | None:
    out = _git("rev-parse", "HEAD")
    return out.strip() if out else None


def _git_dirty(cwd: str | os.PathLike | None = None) -> bool | None:
    """Whether tracked files differ from the commit (untracked files under the results folder,
    the files a benchmark is writing, do not count); None outside a git checkout."""
    out = _git("status", "--porcelain", cwd=cwd)
    if out is None:
        return None
    results = "emolib/assets/results/"
    for line in out.splitlines():
        status, path = line[:2], line[3:].strip().strip('"')
        if status == "??" and results in path.replace("\\", "/"):
            continue
        return True
    return False


def _processor_name(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> str | None:
    """The CPU's marketing name: /proc/cpuinfo's "model name" on Linux, else platform.processor()."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.lower().startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip() or None
    except OSError:
        pass
    return platform.processor() or None


def _accelerators() -> list[str] | None:
    """GPU names from nvidia-smi when it is installed, else from TensorFlow when something has
    already imported it (importing it here would take seconds); None when none is found."""
    import shutil
    import sys

    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                 text=True, check=True, timeout=30).stdout
            names = [line.strip() for line in out.splitlines() if line.strip()]
            if names:
                return names
        except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        try:
            gpus = tf.config.list_physical_devices("GPU")
        except Exception:  # noqa: BLE001 - a broken TF install must not break a result file
            gpus = []
        if gpus:
            return [getattr(g, "name", str(g)) for g in gpus]
    return None


def provenance(data_path: str | os.PathLike | None = None, *, profile: str = "full",
               wall_time_s: float | None = None, **extra) -> dict:
    """Where a result came from: data checksum, git commit and whether the working tree was dirty,
    hardware (processor name, cores, accelerators), versions, wall time."""
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
        "git_dirty": _git_dirty(),
        "hardware": {"machine": platform.machine(), "processor": _processor_name(),
                     "cpus": os.cpu_count(), "system": platform.system(),
                     "accelerators": _accelerators()},
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
