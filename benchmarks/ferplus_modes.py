"""The four FER+ label modes on real FER2013 + FER+, with the CPU-track model and a fixed budget.

Trains one fresh model per mode (majority, probability, crossentropy, multi_target) on the
Training rows that survive each mode's rules, for at most ``--budget-min`` minutes of wall time
(or ``--epochs``), then scores it on the FER+ **majority** labels of the PublicTest rows, as
FERPlus scores its validation set. Writes ``results/ferplus_modes.json``.

Usage (the full run; about 4 x budget minutes on 2 CPU cores):
    python benchmarks/ferplus_modes.py --data-dir ../shared/data --budget-min 5

Smoke test (a minute or two, writes nothing to results/):
    python benchmarks/ferplus_modes.py --limit-train 600 --limit-val 300 --budget-min 0.2 \
        --results-dir /tmp/ferplus_smoke
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_training_args, load_builder, load_fer_with_votes, setup_tensorflow  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_training_args(ap, budget_min=5.0, budget_help="wall-time budget per mode")
    ap.add_argument("--modes", nargs="+", default=["majority", "probability", "crossentropy", "multi_target"])
    ap.add_argument("--head", default="ferplus", choices=["ferplus", "fer2013"])
    ap.add_argument("--limit-train", type=int, default=0, help="use only the first N Training rows")
    ap.add_argument("--limit-val", type=int, default=0, help="use only the first N PublicTest rows")
    ap.add_argument("--name", default="ferplus_modes")
    args = ap.parse_args(argv)
    setup_tensorflow(args.onednn)

    from emolib.data import ferplus_to_fer2013_labels
    from emolib.data.cache import file_sha256
    from emolib.data.ferplus import training_targets
    from emolib.evaluate import provenance, write_result
    from emolib.models.ferplus_training import evaluate_majority, train_ferplus
    from emolib.models.predict import predict_faces

    start = time.time()
    builder = load_builder(args.builder)
    ds, fer_path, votes_path = load_fer_with_votes(args.data_dir)
    train, val = ds.split("Training"), ds.split("PublicTest")
    if args.limit_train:
        train = train.subset(slice(0, args.limit_train))
    if args.limit_val:
        val = val.subset(slice(0, args.limit_val))
    print(f"Training rows {len(train)}, PublicTest rows {len(val)}; budget {args.budget_min} min per mode",
          flush=True)

    runs = {}
    for mode in args.modes:
        t = training_targets(train.votes, mode, args.head)
        print(f"\n== {mode}: {len(t)} of {len(train)} Training rows kept", flush=True)
        run = train_ferplus(builder, train.images, train.votes, mode=mode, head=args.head,
                            val_images=val.images, val_votes=val.votes, epochs=args.epochs,
                            batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
                            time_budget_s=args.budget_min * 60, verbose=args.verbose)
        summary = evaluate_majority(run.model, val.images, val.votes, head=args.head)
        summary.pop("y_pred")
        summary.pop("y_true")
        # the same predictions scored against the original FER2013 labels (all PublicTest rows)
        pred = predict_faces(run.model, val.images).argmax(axis=1)
        fer_pred = ferplus_to_fer2013_labels(pred) if args.head == "ferplus" else pred
        runs[mode] = {
            "kept_training_rows": len(t), "epochs_run": run.epochs_run,
            "train_wall_time_s": round(run.wall_time_s, 1), "stopped_by_budget": run.stopped_by_budget,
            "publictest_majority": summary,
            "publictest_fer2013_label_accuracy": float(np.mean(fer_pred == val.labels)),
            "history": run.history,
        }
        print(f"{mode}: majority accuracy {summary['accuracy']:.4f} on {summary['n']} PublicTest rows "
              f"({run.epochs_run} epochs, {run.wall_time_s / 60:.1f} min)", flush=True)

    result = {
        "task": "FER+ label modes, CPU-track model, fixed budget per mode",
        "model_builder": args.builder, "head": args.head, "budget_min_per_mode": args.budget_min,
        "epoch_cap": args.epochs, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
        "seed": args.seed, "n_training_rows": len(train), "n_publictest_rows": len(val),
        "evaluation": "accuracy on FER+ majority labels of the PublicTest rows (FERPlus' validation split)",
        "modes": runs,
        "seed_003_ferplus_test_accuracy": 0.8432,
    }
    prov = provenance(votes_path, wall_time_s=round(time.time() - start, 1),
                      fer2013={"path": fer_path.name, "sha256": file_sha256(fer_path)},
                      limited=bool(args.limit_train or args.limit_val))
    path = write_result(args.name, result, prov, results_dir=args.results_dir)
    print("\nwrote", path)
    for mode, r in runs.items():
        print(f"  {mode:<13} kept {r['kept_training_rows']:>6}  epochs {r['epochs_run']:>3}  "
              f"majority acc {r['publictest_majority']['accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
