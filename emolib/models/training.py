"""Training a Keras classifier on face images within a fixed budget of epochs or wall time.

:func:`train` runs Keras' ``fit`` with what a fixed time budget needs: a cosine learning-rate
decay driven by the elapsed fraction of the budget (so the schedule completes whatever the
machine's speed), a stop when the budget is spent (:class:`TimeBudget`), and the best epoch's
weights kept by validation accuracy (:class:`KeepBest`). AdamW {cite}`loshchilov2019decoupled`.
Faces reach the model through :func:`emolib.faces.batch.to_batch`, as they do when served.
"""
from __future__ import annotations

import math
import sys
import time

import keras
import numpy as np

from ..faces.batch import to_batch

__all__ = ["train", "model_input", "TimeBudget", "CosineSchedule", "KeepBest", "EpochLog"]


def model_input(model, images) -> np.ndarray:
    """Faces as ``model``'s input batch (its height, width and channels; float32 0-255)."""
    _, h, w, c = model.input_shape
    return to_batch(images, (h, w), c)


# --- callbacks ------------------------------------------------------------------------------------

class TimeBudget(keras.callbacks.Callback):
    """Stop training when ``minutes`` of wall time have passed since training began.

    ``progress`` is the spent fraction of the budget (0..1); the schedule reads it. The check is
    made after every batch, so the last epoch may end early; Keras still validates it.
    """

    def __init__(self, minutes: float, clock=time.monotonic):
        super().__init__()
        if not minutes > 0:
            raise ValueError(f"minutes: expected a positive budget, got {minutes}")
        self.seconds = 60.0 * float(minutes)
        self.clock = clock
        self.start = None
        self.stopped_early = False

    @property
    def elapsed(self) -> float:
        return 0.0 if self.start is None else self.clock() - self.start

    @property
    def progress(self) -> float:
        return min(1.0, self.elapsed / self.seconds)

    def on_train_begin(self, logs=None):
        self.start = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        if self.elapsed >= self.seconds:
            self.model.stop_training = True
            self.stopped_early = True


class CosineSchedule(keras.callbacks.Callback):
    """Linear warm-up then cosine decay of the learning rate, set before every batch.

    Progress is the fraction of ``total_steps`` done or, given ``budget`` (a :class:`TimeBudget`),
    the fraction of its time spent; so a time-budgeted run always finishes its decay.
    """

    def __init__(self, peak: float, *, total_steps: int | None = None, budget: TimeBudget | None = None,
                 warmup: float = 0.03, floor: float = 0.0):
        super().__init__()
        if (total_steps is None) == (budget is None):
            raise ValueError("give exactly one of total_steps and budget")
        if not peak > 0 or not 0 <= warmup < 1 or not 0 <= floor <= peak:
            raise ValueError(f"expected peak > 0, 0 <= warmup < 1 and 0 <= floor <= peak, got "
                             f"peak={peak}, warmup={warmup}, floor={floor}")
        self.peak, self.total_steps, self.budget = float(peak), total_steps, budget
        self.warmup, self.floor = float(warmup), float(floor)
        self.step = 0

    def rate(self, progress: float) -> float:
        """The learning rate at ``progress`` (0..1) through training."""
        progress = min(max(progress, 0.0), 1.0)
        if progress < self.warmup:
            return self.peak * (progress / self.warmup)
        t = (progress - self.warmup) / (1 - self.warmup)
        return self.floor + 0.5 * (self.peak - self.floor) * (1 + math.cos(math.pi * t))

    def on_train_batch_begin(self, batch, logs=None):
        progress = self.budget.progress if self.budget else self.step / max(self.total_steps, 1)
        self.model.optimizer.learning_rate.assign(self.rate(progress))
        self.step += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = float(np.asarray(self.model.optimizer.learning_rate))


class KeepBest(keras.callbacks.Callback):
    """Keep the weights of the epoch with the best ``monitor`` and restore them at the end."""

    def __init__(self, monitor: str = "val_accuracy"):
        super().__init__()
        self.monitor = monitor
        self.best, self.best_epoch, self.best_weights = -np.inf, None, None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value > self.best:
            self.best, self.best_epoch = float(value), epoch
            self.best_weights = self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class EpochLog(keras.callbacks.Callback):
    """One line per epoch: time spent, learning rate, loss and accuracy, best validation so far."""

    def __init__(self, budget: TimeBudget | None = None, file=sys.stderr):
        super().__init__()
        self.budget, self.file = budget, file
        self.start, self.best = None, -np.inf

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        minutes = (time.monotonic() - self.start) / 60
        of = f"/{self.budget.seconds / 60:.1f}" if self.budget else ""
        self.best = max(self.best, logs.get("val_accuracy", -np.inf))
        parts = [f"epoch {epoch + 1:3d}", f"{minutes:6.1f}{of} min", f"lr {logs.get('lr', 0):.2e}",
                 f"loss {logs.get('loss', float('nan')):.3f}",
                 f"acc {logs.get('accuracy', float('nan')):.3f}"]
        if "val_accuracy" in logs:
            parts.append(f"val_acc {logs['val_accuracy']:.4f} (best {self.best:.4f})")
        print(" | ".join(parts), file=self.file, flush=True)


# --- training -------------------------------------------------------------------------------------

def train(model: keras.Model, x, y, *, validation=None, epochs: int | None = None,
          minutes: float | None = None, batch_size: int = 64, learning_rate: float = 1e-3, weight_decay: float = 0.01,
          label_smoothing: float = 0.1, warmup: float = 0.03, class_weight=None,
          keep_best: bool = True, seed: int = 0, verbose=0, log=False, callbacks=(),
          recompile: bool = True) -> keras.callbacks.History:
    """Compile and fit ``model`` on face images ``x`` (0-255) and labels ``y``.

    ``y`` is either integer class indices (N) or soft targets (N x classes, rows summing to 1,
    e.g. FER2013 labels blended with the FER+ vote distribution).

    AdamW with a warm-up and cosine decay (over ``epochs``, or over the ``minutes`` budget),
    cross-entropy with label smoothing, optional Keras ``class_weight``. With ``validation``
    (``(x_val, y_val)``) and ``keep_best``, the best epoch's weights by validation accuracy are
    restored at the end (with a time budget this is selection on that split: report it so).

    Args:
        epochs: train this many epochs (the schedule spans them). With ``minutes`` too, the run
            stops at whichever comes first, but the schedule follows the time.
        minutes: wall-time budget for training, validation included.
        verbose: Keras' fit verbosity (0 silent, 1 progress bar, 2 one line per epoch).
        log: print an :class:`EpochLog` line per epoch (to stderr).
        recompile: compile afresh. False reuses the model's compiled optimizer and loss (and the
            traced training graph, which saves seconds on small runs) after zeroing the
            optimizer's state; the other optimizer and loss arguments are then ignored.

    Returns:
        The Keras ``History``; ``history.history`` also holds ``lr``, ``epoch_seconds`` and
        ``steps`` (batches run in each epoch; the last may be cut short by the budget), and
        ``history.budget`` / ``history.best_epoch`` tell how the run ended.
    """
    if epochs is None and minutes is None:
        raise ValueError("give epochs, minutes, or both")
    if epochs is not None and int(epochs) < 1:
        raise ValueError(f"epochs: expected a positive integer, got {epochs}")
    x = model_input(model, x)
    y = np.asarray(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y: expected the same non-zero number of rows, got {len(x)} and {len(y)}")
    n_classes = model.output_shape[-1]
    targets = _targets(y, n_classes)

    keras.utils.set_random_seed(seed)
    if recompile or model.optimizer is None:
        opt = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
        model.compile(optimizer=opt, metrics=["accuracy"],
                      loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing))
    else:
        for var in model.optimizer.variables:  # a fresh optimizer: step 0, zero moments
            var.assign(np.zeros(var.shape, var.dtype))
    budget = TimeBudget(minutes) if minutes is not None else None
    steps = math.ceil(len(x) / batch_size) * (epochs or 1)
    schedule = CosineSchedule(learning_rate, total_steps=None if budget else steps, budget=budget,
                              warmup=warmup)
    best = KeepBest() if keep_best and validation is not None else None
    timer = _EpochTimer()
    cbs = [c for c in (budget, schedule, timer, best) if c is not None]
    if log:
        cbs.append(EpochLog(budget))
    val = None
    if validation is not None:
        xv, yv = validation
        val = (model_input(model, xv), keras.utils.to_categorical(yv, n_classes))
    history = model.fit(x, targets, batch_size=batch_size,
                        epochs=int(epochs) if epochs else 100_000, validation_data=val,
                        class_weight=class_weight, shuffle=True, verbose=verbose,
                        callbacks=cbs + list(callbacks))
    history.budget = budget
    history.best_epoch = None if best is None else best.best_epoch
    return history


def _targets(y: np.ndarray, n_classes: int) -> np.ndarray:
    """One-hot rows for class indices; soft target rows checked and passed through."""
    if y.ndim == 2:
        if y.shape[1] != n_classes:
            raise ValueError(f"y: soft targets need {n_classes} columns (the model's outputs), got {y.shape[1]}")
        bad = np.flatnonzero(~np.isclose(y.sum(axis=1), 1.0, atol=1e-4) | ~(y.min(axis=1) >= 0))
        if bad.size:
            bad = int(bad[0])
            raise ValueError(f"y: soft targets must be non-negative rows summing to 1; row {bad} is {y[bad]}")
        return y.astype("float32")
    if y.ndim != 1:
        raise ValueError(f"y: expected class indices (N) or soft targets (N x {n_classes}), got shape {y.shape}")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"y: expected class indices in 0..{n_classes - 1}, got {y.min()}..{y.max()}")
    return keras.utils.to_categorical(y, n_classes)


class _EpochTimer(keras.callbacks.Callback):
    """Adds ``epoch_seconds`` and ``steps`` (batches run) to each epoch's logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self.t, self.steps = time.monotonic(), 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.monotonic() - self.t
            logs["steps"] = self.steps
