"""(a) FaceNet fine-tuned on FER2013: the head first, then the top blocks, under a wall-clock budget.

Two stages (:func:`emolib.models.finetune.two_stage_finetune`): stage 1 trains the VGGFace1 head of
the FER2013 VGGFace student project {cite}`seed003fer2013` on a frozen FaceNet (96 px); stage 2
also trains FaceNet's top ``--unfreeze`` blocks (1 = the Block8 stage, 2 adds Mixed_7a) at a lower
learning rate, BatchNormalization frozen, as in Ramos's FER thesis {cite}`ramos2018fer`. Each
stage stops early on the holdout loss (patience 2, best weights restored) or when its share of
the budget is spent (:class:`emolib.models.training.TimeBudget`). Same protocol as the other
``transfer_*`` benchmarks: choices on the stratified 10 % holdout of the Training rows (flip TTA
is used only if it helps there), PublicTest scored once at the end. Writes ``transfer_finetune.json``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import transfer_common as tc  # sets the TensorFlow environment before keras is imported

SIZE = 96
PATIENCE = 2
PREDICT_CHUNK = 512


def throughput_callback(batch_size: int, every: int = 50):
    """A Keras callback counting training batches and their time (validation excluded); prints progress."""
    import keras

    class Throughput(keras.callbacks.Callback):
        """Counts training batches and the time spent on them (validation excluded); prints progress."""

        def __init__(self, batch_size: int, every: int = 50):
            super().__init__()
            self.batch_size, self.every = batch_size, every
            self.batches, self.seconds, self.t0, self.epoch = 0, 0.0, None, 0

        def on_epoch_begin(self, epoch, logs=None):
            self.t0, self.epoch = time.perf_counter(), epoch

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1
            if self.batches % self.every == 0 and self.t0 is not None:
                el = self.seconds + time.perf_counter() - self.t0
                print(f"  epoch {self.epoch + 1} batch {batch + 1}: loss {(logs or {}).get('loss', float('nan')):.4f}, "
                      f"{self.batches * self.batch_size / el:.1f} img/s", flush=True)

        def _stop_clock(self):
            if self.t0 is not None:
                self.seconds += time.perf_counter() - self.t0
                self.t0 = None

        def on_test_begin(self, logs=None):
            self._stop_clock()

        def on_train_end(self, logs=None):
            self._stop_clock()

    return Throughput(batch_size, every)


def probabilities(model, images, preprocessing: str, flip: bool = False) -> np.ndarray:
    """Class probabilities of ``images`` (uint8 faces), prepared in chunks to bound memory."""
    from emolib.models.input_pipeline import prepare_batch
    from emolib.models.predict import predict_batches

    parts = []
    for s in range(0, len(images), PREDICT_CHUNK):
        x = prepare_batch(images[s:s + PREDICT_CHUNK], SIZE, preprocessing)
        if flip:
            x = np.ascontiguousarray(x[:, :, ::-1])
        parts.append(predict_batches(model, x, batch_size=128, compiled=True))
    return np.concatenate(parts)


def stage_record(k, stage, history, stopped_by, speed, seconds, unfrozen, n_train, batch_size) -> dict:
    """One stage's record; ``stopped_by`` is what :func:`emolib.models.finetune.run_stage` found
    ended it, and a stage ended by its time budget has not converged."""
    n = len(history.get("loss", []))
    vl = history.get("val_loss", [])
    best = int(np.argmin(vl)) + 1 if vl else None
    steps = -(-n_train // batch_size)
    lrs = history.get("learning_rate", [])
    return {"stage": k, "epoch_cap": stage.epochs, "epochs_run": n, "stopped_by": stopped_by,
            "converged": stopped_by != "time budget", "budget_minutes": stage.minutes,
            "minutes": round(seconds / 60, 2), "optimizer": stage.optimizer,
            "schedule": stage.schedule, "initial_learning_rate": stage.learning_rate,
            "learning_rates": [float(f"{v:.3g}") for v in lrs], "unfreeze_blocks": stage.unfreeze,
            "trainable_backbone_layers": len(unfrozen),
            "val_loss": [round(v, 4) for v in vl],
            "val_accuracy": [round(v, 4) for v in history.get("val_accuracy", [])],
            "best_epoch": best, "best_val_loss": round(min(vl), 4) if vl else None,
            "last_epoch_partial": bool(speed.batches % steps),
            "train_images_per_s": round(speed.batches * batch_size / speed.seconds, 1) if speed.seconds else None,
            "train_images_seen": (speed.batches // steps) * n_train + (speed.batches % steps) * batch_size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=tc.DATA_DIR)
    ap.add_argument("--stage1-minutes", type=float, default=8.0)
    ap.add_argument("--stage2-minutes", type=float, default=24.0)
    ap.add_argument("--stage1-epochs", type=int, default=15)
    ap.add_argument("--stage2-epochs", type=int, default=15)
    ap.add_argument("--stage1-lr", type=float, default=1e-3)
    ap.add_argument("--stage2-lr", type=float, default=1e-4)
    ap.add_argument("--unfreeze", type=int, default=2)
    ap.add_argument("--schedule", default="constant", help="learning-rate schedule of both stages (emolib Stage)")
    ap.add_argument("--patience", type=int, default=PATIENCE, help="early-stopping patience in epochs")
    ap.add_argument("--save", type=Path, default=None,
                    help="also save the fine-tuned classifier (.keras) here, e.g. for transfer_extract.py --finetuned")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--limit", type=int, default=None, help="smoke test: only the first N train, holdout and test rows")
    ap.add_argument("--results-dir", type=Path, default=None)
    args = ap.parse_args()

    from emolib.evaluate import provenance, write_result
    from emolib.models.finetune import Stage, build_classifier, find_backbone, run_stage
    from emolib.models.input_pipeline import make_dataset

    total = tc.timer()
    tc.DATA_DIR = args.data_dir
    ds, fer_path, _ = tc.load_data()
    train, hold, test = tc.splits(ds)
    if args.limit:
        train, hold, test = train[:args.limit], hold[:args.limit], test[:args.limit]
    print(f"data loaded in {total()} s: train {len(train)}, holdout {len(hold)}, test {len(test)}", flush=True)

    model, prep = build_classifier("facenet", input_size=SIZE, weights="facenet", head="vggface1")
    tr_ds = make_dataset(ds.subset(train), image_size=SIZE, preprocessing=prep, batch_size=args.batch_size,
                         augment=True, shuffle=True, seed=0)
    ho_ds = make_dataset(ds.subset(hold), image_size=SIZE, preprocessing=prep, batch_size=128)

    stages = [Stage(args.stage1_epochs, args.stage1_lr, unfreeze=0, optimizer="adam", schedule=args.schedule,
                    patience=args.patience, minutes=args.stage1_minutes),
              Stage(args.stage2_epochs, args.stage2_lr, unfreeze=args.unfreeze, optimizer="adam",
                    schedule=args.schedule, patience=args.patience, minutes=args.stage2_minutes)]
    backbone = find_backbone(model)
    records = []
    # the stages run one by one (what two_stage_finetune does inside) to time and record each
    for k, stage in enumerate(stages, 1):
        speed, clock = throughput_callback(args.batch_size), tc.timer()
        print(f"stage {k}: {stage}", flush=True)
        history, unfrozen = run_stage(model, stage, tr_ds, ho_ds, backbone=backbone, verbose=2,
                                      extra_callbacks=[speed])
        rec = stage_record(k, stage, history.history, history.stopped_by, speed, clock(), unfrozen,
                           len(train), args.batch_size)
        print(rec, flush=True)
        records.append(rec)

    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        model.save(args.save)
        print("saved", args.save, flush=True)
    y = ds.labels
    t_eval = tc.timer()
    p, q = probabilities(model, ds.images[hold], prep), probabilities(model, ds.images[hold], prep, flip=True)
    plain, tta = float((p.argmax(1) == y[hold]).mean()), float((((p + q) / 2).argmax(1) == y[hold]).mean())
    use_flip = tta > plain
    pt = probabilities(model, ds.images[test], prep)
    if use_flip:
        pt = (pt + probabilities(model, ds.images[test], prep, flip=True)) / 2
    public = tc.summary(y[test], pt.argmax(1), ds.classes)
    eval_s = t_eval()

    result = {
        "task": "FER2013 7 classes: FaceNet fine-tuned (VGGFace1 head, then the top blocks), wall-clock budget",
        **tc.base_result(ds, train, hold),
        "note": ("FaceNet fine-tuned end to end in its top blocks (stage 2); the budget is wall time on this "
                 "machine's CPUs, so a stage stopped by the budget has not converged."),
        "model": {"backbone": "facenet", "weights": "facenet", "input_size": SIZE, "head": "vggface1",
                  "preprocessing": prep, "batchnorm": "frozen (inference mode) in both stages"},
        "training": {"batch_size": args.batch_size, "augment": "emolib Augmentation defaults (flips etc.)",
                     "shuffle_seed": 0, "limit": args.limit,
                     "early_stopping": {"monitor": "val_loss on the holdout", "patience": args.patience,
                                        "restore_best_weights": True,
                                        "restored_also_when_stopped_by_budget": True},
                     "stages": records},
        "converged": all(r["converged"] for r in records),
        "holdout_accuracy": round(plain, 4), "holdout_accuracy_flip_tta": round(tta, 4),
        "use_flip_tta": use_flip, "PublicTest": public, "evaluation_s": eval_s,
    }
    result.pop("head_settings", None)
    result.pop("features", None)
    prov = provenance(fer_path, profile="local", wall_time_s=total())
    path = write_result("transfer_finetune", result, prov, results_dir=args.results_dir)
    print(path, {"holdout": result["holdout_accuracy"], "holdout_tta": result["holdout_accuracy_flip_tta"],
                 "PublicTest": public["accuracy"], "macro_f1": public["macro_f1"], "wall_s": total()}, flush=True)


if __name__ == "__main__":
    sys.exit(main())
