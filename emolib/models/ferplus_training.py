"""Training on FER+ votes in the four modes of Barsoum et al. (2016), "Training Deep Networks for
Facial Expression Recognition with Crowd-Sourced Label Distribution" (microsoft/FERPlus, MIT).

The label rules and the targets of each mode and head live in :mod:`emolib.data.ferplus`
(:func:`~emolib.data.ferplus.training_targets`); this module turns them into Keras training:

* **majority** and **crossentropy**: fixed targets (one-hot / soft), cross-entropy loss;
* **probability**: a one-hot target drawn afresh from each image's distribution every epoch, inside
  the input pipeline (:class:`VoteSequence`), cross-entropy loss;
* **multi_target**: every class with a large share is a right answer; the loss
  ``-log(max(t * p))`` (:class:`MultiTargetLoss`) only asks that one of them gets the mass.

Two heads: ``"ferplus"`` (8 classes in FER+ column order) and ``"fer2013"`` (7 classes in FER2013
order; contempt has no FER2013 class, so its share is dropped). Evaluation always uses the
**majority** labels, as FERPlus does for its validation and test sets.

Any Keras model builder works that takes ``num_classes`` and ``input_shape`` keywords and returns
a model ending in softmax, e.g. :func:`emolib.models.compact.compact_cnn`.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from ..data.ferplus import MODES, head_classes, majority_labels, sample_onehot, training_targets
from ..faces.batch import to_batch
from .predict import predict_batches
from .training import CosineSchedule, TimeBudget

__all__ = ["MultiTargetLoss", "multi_target_loss", "ferplus_loss", "VoteSequence", "FerPlusRun",
           "train_ferplus", "evaluate_majority", "image_shape", "pocket_net"]

# ---------------------------------------------------------------------------------------- losses
@keras.saving.register_keras_serializable(package="emolib")
class MultiTargetLoss(keras.losses.Loss):
    """FERPlus' multi-target loss ``-log(max_k t_k * p_k)``.

    ``t`` is the multi-target vector (1 for each accepted class, smoothed to 0.999 / 0.001) and
    ``p`` the softmax output. The loss is small as soon as *one* accepted class gets high
    probability; it does not split the mass between them as soft cross-entropy does.
    Probabilities are clipped to ``[clip, 1]`` before the log.
    """

    def __init__(self, clip: float = 1e-7, name: str = "multi_target_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.clip = clip

    def call(self, y_true, y_pred):
        ops = keras.ops
        y_true = ops.cast(y_true, y_pred.dtype)
        best = ops.max(y_true * ops.clip(y_pred, self.clip, 1.0), axis=-1)
        return -ops.log(ops.maximum(best, self.clip))

    def get_config(self):
        return {**super().get_config(), "clip": self.clip}


def multi_target_loss(y_true, y_pred) -> keras.KerasTensor:
    """Functional form of :class:`MultiTargetLoss` (per-sample values)."""
    return MultiTargetLoss(reduction=None)(y_true, y_pred)


def ferplus_loss(mode: str) -> keras.losses.Loss:
    """The loss FERPlus trains ``mode`` with: cross-entropy, or :class:`MultiTargetLoss`."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {MODES}")
    if mode == "multi_target":
        return MultiTargetLoss()
    return keras.losses.CategoricalCrossentropy()


# ---------------------------------------------------------------------------------------- inputs
def image_shape(images) -> tuple[int, int, int]:
    """(height, width, channels) of an image stack; grey N x H x W counts 1 channel."""
    shape = tuple(int(d) for d in np.shape(images)[1:])
    if len(shape) == 2:
        return shape + (1,)
    if len(shape) != 3:
        raise ValueError(f"images: expected N x H x W or N x H x W x C, got shape {np.shape(images)}")
    return shape


class VoteSequence(keras.utils.PyDataset):
    """Batches of (images, targets) for one FER+ mode, reshuffled every epoch.

    In ``probability`` mode ``targets`` are distributions and every epoch serves a fresh one-hot
    draw from them, seeded by ``(seed, epoch)`` so a run is reproducible. Keras calls
    :meth:`on_epoch_begin` before each epoch, which moves to the next order and draw
    (``epoch`` counts from 0; ``epochs_begun`` says how many Keras started). The move happens at
    the *beginning* of an epoch because Keras 3 also calls ``on_epoch_end`` once when ``fit``
    starts, so counting ends would skip a draw. ``__getitem__`` has no side effects, so Keras
    may prefetch freely.

    Args:
        images: N x H x W (grey) or N x H x W x C uint8 images (kept as uint8; each batch is
            cast to float32, raw 0-255: emolib models rescale inside).
        targets: N x C targets (:attr:`TrainingTargets.targets`).
        mode: one of ``emolib.data.MODES``.
        batch_size: images per batch.
        shuffle: new order every epoch.
        seed: seed of the order and of the draws.
        input_shape: the model's input shape (converts grey/RGB and resizes when it differs).
    """

    def __init__(self, images, targets, mode: str, *, batch_size: int = 64, shuffle: bool = True,
                 seed: int = 0, input_shape=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: expected one of {MODES}")
        targets = np.asarray(targets, np.float32)
        if targets.ndim != 2 or len(targets) != len(images):
            raise ValueError(f"targets: expected {len(images)} x C (one row per image), got shape "
                             f"{targets.shape}")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: expected a positive integer")
        if mode == "probability" and not np.allclose(targets.sum(axis=1), 1, atol=1e-4):
            raise ValueError("targets: probability mode needs distributions (rows summing to 1)")
        h, w, c = input_shape or image_shape(images)
        self.x = to_batch(images, (h, w), c)
        self.targets = targets
        self.mode, self.batch_size, self.shuffle, self.seed = mode, batch_size, shuffle, seed
        self.epoch = 0
        self.epochs_begun = 0
        self._prepare(0)

    def _prepare(self, epoch: int) -> None:
        rng = np.random.default_rng([self.seed, epoch])
        n = len(self.x)
        self._order = rng.permutation(n) if self.shuffle else np.arange(n)
        self._y = self.epoch_targets(epoch)

    def epoch_targets(self, epoch: int) -> np.ndarray:
        """The targets served in ``epoch`` (in row order): one-hot draws in probability mode."""
        if self.mode != "probability":
            return self.targets
        rng = np.random.default_rng([self.seed, epoch, 1])
        return sample_onehot(self.targets, rng).astype(np.float32)

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i: int):
        idx = self._order[i * self.batch_size:(i + 1) * self.batch_size]
        return self.x[idx], self._y[idx]

    def on_epoch_begin(self) -> None:
        self.epoch = self.epochs_begun
        self.epochs_begun += 1
        if self.epoch:                           # epoch 0 was prepared in __init__
            self._prepare(self.epoch)


def pocket_net(num_classes: int = 8, input_shape=(48, 48, 1)) -> keras.Model:
    """A pocket-sized classifier for the sample profile and tests: eight fixed edge filters (the
    gradients HOG descriptors are built on: horizontal, vertical and the two diagonals, both
    signs), ReLU, 6x6 average pooling, then one trainable softmax layer.

    It trains in seconds on a CPU where even a shrunk CNN needs minutes to learn the sample
    faces; the full profile uses :func:`emolib.models.compact.compact_cnn` instead. Takes raw
    0-255 pixels, grey input only.
    """
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[2] != 1:
        raise ValueError(f"input_shape: expected (height, width, 1) grey images, got {input_shape}")
    if int(num_classes) < 2:
        raise ValueError(f"num_classes: expected at least 2, got {num_classes}")
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
    diagonals = (sobel + sobel.T) / 1.4, (sobel - sobel.T) / 1.4
    kernels = np.stack([k * sign for k in (sobel, sobel.T, *diagonals) for sign in (1, -1)], axis=-1)
    inputs = keras.Input(shape, name="pixels")
    edges = keras.layers.Conv2D(8, 3, padding="same", use_bias=False, activation="relu", trainable=False,
                                name="edges")
    x = edges(keras.layers.Rescaling(1 / 255.0, name="rescale")(inputs))
    edges.set_weights([kernels[:, :, None, :]])
    x = keras.layers.Flatten(name="flatten")(keras.layers.AveragePooling2D(6, name="pool")(x))
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="pocket_net")


# -------------------------------------------------------------------------------------- training
@dataclass
class FerPlusRun:
    """One trained FER+ model: the model, its history and what it was trained on."""

    model: keras.Model
    mode: str
    head: str
    n_train: int
    epochs_run: int
    wall_time_s: float
    history: dict = field(default_factory=dict)
    stopped_by_budget: bool = False


def train_ferplus(build_model: Callable[..., keras.Model], images, votes, *, mode: str,
                  head: str = "ferplus", val_images=None, val_votes=None, epochs: int = 10,
                  batch_size: int = 64, learning_rate: float = 1e-3, weight_decay: float = 0.01,
                  schedule: str = "cosine", optimizer=None, seed: int = 0,
                  time_budget_s: float | None = None, callbacks=(), jit_compile=False,
                  verbose: int = 0) -> FerPlusRun:
    """Train a fresh model on FER+ votes in one of FERPlus' four modes.

    The optimisation follows the CPU-track recipe of :func:`emolib.models.training.train` (AdamW,
    a short warm-up then cosine decay over the epochs, or over the time budget when there is one);
    only the targets and the loss change with the mode.

    Args:
        build_model: returns an uncompiled Keras model ending in softmax; called as
            ``build_model(num_classes=C, input_shape=(H, W, channels))``, e.g.
            :func:`emolib.models.compact.compact_cnn`.
        images: N x H x W (grey) or N x H x W x C uint8 training images, aligned with ``votes``.
        votes: N x 10 FER+ vote counts.
        mode: ``"majority"``, ``"probability"``, ``"crossentropy"`` or ``"multi_target"``.
        head: ``"ferplus"`` (8 classes) or ``"fer2013"`` (7 classes).
        val_images, val_votes: optional validation set, scored with majority labels each epoch
            (``val_accuracy`` in the history).
        epochs: maximum epochs.
        batch_size: images per batch (FERPlus used 32).
        learning_rate: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        schedule: ``"cosine"`` (warm-up then cosine decay) or ``"constant"``.
        optimizer: a Keras optimizer instance to use instead of AdamW.
        seed: seeds Keras, the batch order and the probability-mode draws.
        time_budget_s: stop after this much wall time (a fixed budget per mode); the cosine
            decay then follows the elapsed share of the budget.
        callbacks: extra Keras callbacks.
        jit_compile: passed to ``compile``; XLA is off by default because compiling costs more
            than it saves for small CNNs on a CPU (``"auto"`` lets Keras decide).
        verbose: Keras verbosity (0 in the sample profile).
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {MODES}")
    classes = head_classes(head)
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule {schedule!r}: expected 'cosine' or 'constant'")
    images = np.asarray(images)
    votes = np.asarray(votes)
    if len(images) != len(votes):
        raise ValueError(f"images and votes: expected one vote row per image, got {len(images)} "
                         f"images and {len(votes)} vote rows")
    if epochs < 1:
        raise ValueError(f"epochs={epochs}: expected at least 1")
    if time_budget_s is not None and not time_budget_s > 0:
        raise ValueError(f"time_budget_s={time_budget_s}: expected a positive number of seconds")
    if (val_images is None) != (val_votes is None):
        raise ValueError("val_images and val_votes: give both or neither")
    t = training_targets(votes, mode, head)
    if len(t) == 0:
        raise ValueError(f"no training rows survive the FER+ {mode!r} rules")
    keras.utils.set_random_seed(seed)
    model = build_model(num_classes=len(classes), input_shape=image_shape(images))
    model.compile(optimizer=optimizer or keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay),
                  loss=ferplus_loss(mode), metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
                  jit_compile=jit_compile)
    train = VoteSequence(images[t.index], t.targets, mode, batch_size=batch_size, seed=seed,
                         input_shape=model.input_shape[1:])
    validation = None
    if val_images is not None:
        idx, labels = majority_labels(val_votes, head)
        validation = (to_batch(np.asarray(val_images)[idx], model.input_shape[1:3], model.input_shape[3]),
                      np.eye(len(classes), dtype=np.float32)[labels])
    budget = TimeBudget(time_budget_s / 60) if time_budget_s else None
    extra = [budget] if budget else []
    if schedule == "cosine" and optimizer is None:
        extra.append(CosineSchedule(learning_rate, budget=budget) if budget else
                     CosineSchedule(learning_rate, total_steps=len(train) * epochs))
    start = time.perf_counter()
    history = model.fit(train, validation_data=validation, epochs=epochs, verbose=verbose,
                        callbacks=[*extra, *callbacks])
    wall = time.perf_counter() - start
    h = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    return FerPlusRun(model, mode, head, len(t), len(h.get("loss", [])), wall, h,
                      bool(budget and budget.stopped_early))


def evaluate_majority(model, images, votes, head: str = "ferplus", *, batch_size: int = 256) -> dict:
    """Accuracy against the FER+ **majority** labels, the way FERPlus scores its val/test sets.

    Rows without a majority (and, for the 7-class head, contempt rows) are left out. Returns
    ``emolib.evaluate.classification_summary`` plus ``n_rows`` (all rows) and ``y_pred``/``y_true``.
    """
    from ..evaluate import classification_summary

    classes = head_classes(head)
    images = np.asarray(images)
    if len(images) != len(votes):
        raise ValueError(f"images and votes: expected one vote row per image, got {len(images)} "
                         f"images and {len(votes)} vote rows")
    idx, y_true = majority_labels(votes, head)
    x = to_batch(images[idx], model.input_shape[1:3], model.input_shape[3])
    proba = predict_batches(model, x, batch_size=batch_size).astype(np.float64)
    if proba.shape[1] != len(classes):
        raise ValueError(f"model: expected {len(classes)} outputs for the {head!r} head, got "
                         f"{proba.shape[1]}")
    y_pred = proba.argmax(axis=1)
    summary = classification_summary(y_true, y_pred, classes)
    return {**summary, "n_rows": int(len(images)), "y_true": y_true, "y_pred": y_pred}
