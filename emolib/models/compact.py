"""The compact CPU-track CNN: a FER2013 classifier that a 2-core CPU trains in an hour.

The rest of the book transfers from large face-recognition networks, which need a GPU to train.
This model is the baseline a CPU can reach on its own. It is a plain VGG-style network (Simonyan
and Zisserman, 2015) with batch normalisation (Ioffe and Szegedy, 2015), sized by compute: on
48x48 inputs each halving of the resolution doubles the width, so every 3x3 convolution after the
first costs about the same, and the depth sits at 12x12 and 6x6 where it is cheapest.

``train`` runs Keras' ``fit`` with what a fixed time budget needs: a cosine learning-rate decay
driven by the elapsed fraction of the budget (so the schedule completes whatever the machine's
speed), a stop when the budget is spent, and the best epoch's weights kept by validation accuracy.
``predict_proba`` can average the prediction of each face and its mirror image (test-time flip).
"""
from __future__ import annotations

import math
import sys
import time

import keras
import numpy as np

__all__ = ["compact_cnn", "train", "predict_proba", "compare_balancing", "as_model_input",
           "TimeBudget", "CosineSchedule", "KeepBest", "EpochLog"]


def compact_cnn(num_classes: int = 7, input_shape=(48, 48, 1), *, widths=(32, 64, 128, 256),
                convs=(1, 1, 2, 2), stem_stride: bool = True, dense_units: int = 256,
                dropout: float = 0.4,
                augment: bool = True, flip: bool = True, rotation: float = 10.0, shift: float = 0.1,
                zoom: float = 0.1, bn_momentum: float = 0.9, name: str = "compact_cnn"):
    """Build the compact CNN (uncompiled, softmax output).

    The model takes raw 0-255 pixels (``Rescaling`` is its first layer) and, when ``augment``, a
    random mirror, rotation, shift and zoom that Keras applies only in training. Each block is
    ``convs[i]`` x (3x3 convolution -> batch norm -> ReLU) followed by 2x2 max pooling, except
    that with ``stem_stride`` the first convolution has stride 2 and the first block no pooling:
    on a CPU, full-resolution layers with few channels cost far more time than their share of
    the arithmetic (measured here: 30 % of a step for 1 % of the multiply-adds). The head is
    Flatten -> Dropout -> Dense -> batch norm -> ReLU -> Dropout -> Dense softmax.
    The defaults (1.72 M parameters, about 6.9 MB saved) train at about 2 min per FER2013
    epoch on 2 CPU cores (``benchmarks/fer2013_cpu.py``).

    Args:
        num_classes: outputs of the softmax (7 for FER2013, 8 for FER+).
        input_shape: (height, width, channels); channels 1 (grey) or 3 (RGB). Height and width
            must be divisible by 2**len(widths).
        widths: filters of each block.
        convs: convolutions in each block (one entry per block).
        stem_stride: downsample in the first convolution (stride 2) instead of by pooling.
        dense_units: width of the hidden dense layer.
        dropout: dropout rate before each dense layer.
        bn_momentum: batch-norm moving-average momentum (0.9 settles within a few dozen steps,
            which short runs need).
        augment: add the random augmentation layers (inactive at inference).
        flip, rotation, shift, zoom: augmentation: horizontal mirror; rotation range in degrees;
            shift and zoom as fractions of the image size.
        name: the model's name.

    Returns:
        A ``keras.Model``.
    """
    from keras import layers

    if int(num_classes) < 2:
        raise ValueError(f"num_classes: expected at least 2, got {num_classes}")
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[2] not in (1, 3) or min(shape[:2]) < 1:
        raise ValueError(f"input_shape: expected (height, width, 1 or 3), got {input_shape}")
    if not widths or len(widths) != len(convs) or min(widths) < 1 or min(convs) < 1:
        raise ValueError(f"widths and convs: expected equal-length lists of positive integers, got "
                         f"{widths} and {convs}")
    factor = 2 ** len(widths)
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(f"input_shape: height and width must be divisible by {factor} "
                         f"({len(widths)} poolings), got {shape[:2]}")
    if not 0 <= dropout < 1 or rotation < 0 or not 0 <= shift < 1 or not 0 <= zoom < 1:
        raise ValueError(f"expected 0 <= dropout, shift, zoom < 1 and rotation >= 0, got dropout="
                         f"{dropout}, shift={shift}, zoom={zoom}, rotation={rotation}")

    inputs = keras.Input(shape, name="pixels")
    x = layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    if augment:
        if flip:
            x = layers.RandomFlip("horizontal", name="aug_flip")(x)
        if rotation:
            x = layers.RandomRotation(rotation / 360.0, fill_mode="reflect", name="aug_rotate")(x)
        if shift:
            x = layers.RandomTranslation(shift, shift, fill_mode="reflect", name="aug_shift")(x)
        if zoom:
            x = layers.RandomZoom(zoom, fill_mode="reflect", name="aug_zoom")(x)
    for b, (width, n) in enumerate(zip(widths, convs), start=1):
        for c in range(1, n + 1):
            stride = 2 if (b, c) == (1, 1) and stem_stride else 1
            x = layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False,
                              name=f"block{b}_conv{c}")(x)
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"block{b}_bn{c}")(x)
            x = layers.Activation("relu", name=f"block{b}_relu{c}")(x)
        if b > 1 or not stem_stride:
            x = layers.MaxPooling2D(name=f"block{b}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="drop1")(x)
    x = layers.Dense(dense_units, use_bias=False, name="fc")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name="fc_bn")(x)
    x = layers.Activation("relu", name="fc_relu")(x)
    x = layers.Dropout(dropout, name="drop2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


# --- inputs ----------------------------------------------------------------------------------------

def as_model_input(images, input_shape) -> np.ndarray:
    """uint8 images (N x H x W, N x H x W x 1 or x 3) as the model's N x H x W x C batch.

    Converts RGB to grey (or grey to RGB) and resizes when the model's size differs.
    """
    import cv2

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images: expected N x H x W, N x H x W x 1 or N x H x W x 3, got "
                         f"{images.shape}")
    h, w, c = (int(s) for s in input_shape[-3:])
    if images.shape[1:] == (h, w, c):
        return images
    out = np.empty((len(images), h, w, c), images.dtype)
    for i, img in enumerate(images):
        if img.shape[-1] == 3 and c == 1:
            img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)[..., None]
        elif img.shape[-1] == 1 and c == 3:
            img = np.repeat(img, 3, axis=-1)
        if img.shape[:2] != (h, w):
            img = cv2.resize(np.ascontiguousarray(img), (w, h), interpolation=cv2.INTER_AREA)
        out[i] = img.reshape(h, w, c)
    return out


def predict_proba(model, images, *, tta_flip: bool = False, batch_size: int = 256) -> np.ndarray:
    """Class probabilities N x K; with ``tta_flip``, the mean over each face and its mirror."""
    x = as_model_input(images, model.input_shape)
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]), np.float32)
    proba = model.predict(x, batch_size=batch_size, verbose=0)
    if tta_flip:
        proba = (proba + model.predict(x[:, :, ::-1], batch_size=batch_size, verbose=0)) / 2
    return np.asarray(proba)


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
                 f"loss {logs.get('loss', float('nan')):.3f}", f"acc {logs.get('accuracy', float('nan')):.3f}"]
        if "val_accuracy" in logs:
            parts.append(f"val_acc {logs['val_accuracy']:.4f} (best {self.best:.4f})")
        print(" | ".join(parts), file=self.file, flush=True)


# --- training -------------------------------------------------------------------------------------

def train(model, x, y, *, validation=None, epochs: int | None = None, minutes: float | None = None,
          batch_size: int = 64, learning_rate: float = 1e-3, weight_decay: float = 0.01,
          label_smoothing: float = 0.1, warmup: float = 0.03, class_weight=None,
          keep_best: bool = True, seed: int = 0, verbose=0, log=False, callbacks=(),
          recompile: bool = True):
    """Compile and fit ``model`` on uint8 images ``x`` and integer labels ``y``.

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
    x = as_model_input(x, model.input_shape)
    y = np.asarray(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y: expected the same non-zero number of rows, got {len(x)} and {len(y)}")
    n_classes = model.output_shape[-1]
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"y: expected class indices in 0..{n_classes - 1}, got {y.min()}..{y.max()}")

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
        val = (as_model_input(xv, model.input_shape), keras.utils.to_categorical(yv, n_classes))
    history = model.fit(x, keras.utils.to_categorical(y, n_classes), batch_size=batch_size,
                        epochs=int(epochs) if epochs else 100_000, validation_data=val,
                        class_weight=class_weight, shuffle=True, verbose=verbose,
                        callbacks=cbs + list(callbacks))
    history.budget = budget
    history.best_epoch = None if best is None else best.best_epoch
    return history


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


def compare_balancing(train_ds, test_ds, methods=None, *, epochs: int | None = None,
                      minutes: float | None = None, random_state: int = 0, model_kwargs=None,
                      train_kwargs=None, tta_flip: bool = False, features=None,
                      resampled=None, log=None) -> list[dict]:
    """Train the same compact CNN under each balancing method and score it on ``test_ds``.

    Each method (default: all of :data:`emolib.balance.METHODS`) resamples ``train_ds``, then
    trains the model from the same initial weights, with the same seed and the same budget
    (``epochs``, or ``minutes`` per method). In a time budget a larger resampled set gets fewer
    passes, so the comparison is at equal compute. One model is built and traced once; its
    weights and optimizer are reset for every method. ``model_kwargs`` go to :func:`compact_cnn`;
    an ``input_shape`` there smaller than the images makes the images be resized to it (a quick
    look on small data).

    Returns one dict per method: the class counts after balancing, the class weights (if any),
    ``classification_summary`` metrics on ``test_ds``, the epochs run and the seconds spent.
    ``resampled`` maps a method to the ``(dataset, class_weight)`` that
    :func:`emolib.balance.resample` already returned for it, to skip resampling again.
    ``log`` (a callable taking a string) reports each method as it finishes.
    """
    from ..balance import METHODS, resample
    from ..evaluate import classification_summary

    methods = list(METHODS if methods is None else methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"methods {unknown}: expected some of {list(METHODS)}")
    keras.utils.set_random_seed(random_state)
    kwargs = {"input_shape": train_ds.images.shape[1:3] + (1 if train_ds.images.ndim == 3 else 3,),
              **(model_kwargs or {})}
    model = compact_cnn(len(train_ds.classes), **kwargs)
    initial = model.get_weights()
    rows = []
    for i, method in enumerate(methods):
        t0 = time.monotonic()
        if resampled and method in resampled:
            balanced, weights = resampled[method]
        else:
            balanced, weights = resample(train_ds, method, random_state=random_state,
                                         features=features)
        t_balance = time.monotonic() - t0
        model.set_weights(initial)
        history = train(model, balanced.images, balanced.labels, epochs=epochs, minutes=minutes,
                        class_weight=weights, seed=random_state, recompile=i == 0,
                        **(train_kwargs or {}))
        pred = predict_proba(model, test_ds.images, tta_flip=tta_flip).argmax(axis=1)
        row = {"method": method, "class_counts": balanced.class_counts(), "n_train": len(balanced),
               "class_weight": None if weights is None else
               {train_ds.classes[k]: round(v, 4) for k, v in weights.items()},
               "epochs": len(history.history.get("loss", [])),
               "balance_seconds": round(t_balance, 2), "seconds": round(time.monotonic() - t0, 2),
               **classification_summary(test_ds.labels, pred, train_ds.classes)}
        rows.append(row)
        if log:
            log(f"{method:>22}: accuracy {row['accuracy']:.4f}  macro-F1 {row['macro_f1']:.4f}  "
                f"({row['epochs']} epochs on {row['n_train']} images, {row['seconds']:.0f} s)")
    return rows
