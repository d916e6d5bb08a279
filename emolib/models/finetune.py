"""Two-stage fine-tuning of a pretrained backbone with a new head.

Stage 1 trains the head with the backbone frozen: the recipe of the FER2013 VGGFace student
project {cite}`seed003fer2013` (Adam, lr 1e-4, 15 epochs) that gave 70.62 % (VGGFace1 head) on
cleaned FER2013. Stage 2 unfreezes the backbone's top blocks at a lower learning rate, as Ramos's
FER thesis {cite}`ramos2018fer` did ("learn last conv + fully connected ones", SGD, lr 0.001,
step policy every 33 % of the epochs). BatchNormalization layers stay frozen (inference mode) in
stage 2, so a few epochs on small batches cannot wreck their statistics.

Each stage compiles the model afresh (required after changing ``trainable``) and trains with
Keras callbacks: early stopping that restores the best weights, a learning-rate schedule and,
optionally, checkpoints.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import keras

__all__ = ["Stage", "FinetuneResult", "two_stage_finetune", "run_stage", "find_backbone",
           "set_trainable", "block_index", "build_classifier", "LearningRateLog",
           "SCHEDULES", "OPTIMIZERS"]

SCHEDULES = ("constant", "step", "plateau", "cosine")
OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class Stage:
    """One training stage.

    Attributes:
        epochs: maximum epochs (early stopping may end sooner).
        learning_rate: initial learning rate.
        unfreeze: backbone blocks to train, counted from the top (0 = backbone frozen; "all").
        optimizer: "adam" or "sgd" (momentum 0.9).
        schedule: "constant"; "step" (x0.1 every third of the epochs, Ramos's thesis); "plateau"
            (x0.2 after 2 epochs without improvement); "cosine" (decay to 0 over the epochs).
        patience: early-stopping patience in epochs (None: no early stopping).
        minutes: wall-clock budget of the stage (None: none); a stage over budget stops after
            its current batch (:class:`emolib.models.training.TimeBudget`), and with early
            stopping on, its best epoch's weights are still restored.
    """

    epochs: int
    learning_rate: float
    unfreeze: int | str = 0
    optimizer: str = "adam"
    schedule: str = "constant"
    patience: int | None = 3
    minutes: float | None = None

    def __post_init__(self):
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs: expected a positive integer, got {self.epochs!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate: expected > 0, got {self.learning_rate!r}")
        if not (self.unfreeze == "all" or (isinstance(self.unfreeze, int) and self.unfreeze >= 0)):
            raise ValueError(f"unfreeze: expected a number of blocks >= 0 or 'all', got {self.unfreeze!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule: expected one of {SCHEDULES}, got {self.schedule!r}")
        if self.minutes is not None and not self.minutes > 0:
            raise ValueError(f"minutes: expected a positive budget or None, got {self.minutes!r}")


@dataclass
class FinetuneResult:
    """Histories of both stages, merged (``stage`` gives each epoch's stage), and what trained.

    ``stopped_by`` says for each stage what ended it: ``"early stopping"``, ``"time budget"``
    or ``"epoch cap"``.
    """

    history: dict[str, list[float]]
    stage_epochs: list[int]
    unfrozen: list[str] = field(default_factory=list)
    stopped_by: list[str] = field(default_factory=list)

    def final(self, metric: str = "val_accuracy") -> float | None:
        values = self.history.get(metric)
        return float(values[-1]) if values else None


# ----------------------------------------------------------------------------------------------
# building and freezing

def build_classifier(backbone: str = "vggface_vgg16", *, input_size: int = 224, weights=None,
                     head: str | None = None, num_classes: int = 7, dropout: float = 0.5) -> keras.Model:
    """Backbone (see :mod:`emolib.models.backbones`) + seed head, returned with its preprocessing.

    Returns ``(model, preprocessing)``; ``model`` is uncompiled, its backbone is one nested layer.
    """
    from .backbones import build_backbone
    from .heads import add_head

    b = build_backbone(backbone, input_size, weights)
    model = add_head(b.model, head or b.head, num_classes, dropout=dropout,
                     name=f"{backbone}_{head or b.head}")
    return model, b.preprocessing


def find_backbone(model: keras.Model) -> keras.Model:
    """The nested backbone model inside ``model`` (the first layer that is itself a Model)."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            return layer
    raise ValueError(f"model {model.name!r} holds no nested backbone model; build it with "
                     f"emolib.models.heads.add_head")


_BLOCK_PATTERNS = (re.compile(r"^conv(\d+)_"),   # VGGFace: conv5_3, conv4_2_1x1_reduce, conv1__7x7_s2
                   re.compile(r"^block(\d+)"))   # keras.applications VGG16, EfficientNet: block7a_...


def block_index(layer_name: str) -> int | None:
    """The block (stage) number a backbone layer belongs to, from its name; None if unknown.

    ``conv5_3`` -> 5, ``conv4_2_1x1_reduce`` -> 4, ``block7a_expand_conv`` -> 7; layers after the
    last block (``top_conv``, ``fc6``) count as one block above the highest.
    """
    for pattern in _BLOCK_PATTERNS:
        m = pattern.match(layer_name)
        if m:
            return int(m.group(1))
    return next((b for prefix, b in _FACENET_BLOCKS if layer_name.startswith(prefix)), None)


# FaceNet (Inception-ResNet-v1) stages, bottom to top; "Block8_" must not be read as "Block8x".
_FACENET_BLOCKS = (("Conv2d_", 1), ("Block35_", 2), ("Mixed_6a", 3), ("Block17_", 4),
                   ("Mixed_7a", 5), ("Block8_", 6))


def set_trainable(backbone, unfreeze: int | str, *, train_batchnorm: bool = False) -> list[str]:
    """Freeze ``backbone`` except its top ``unfreeze`` blocks; returns the names left trainable.

    Layers after the last numbered block (e.g. EfficientNet's ``top_conv``) belong to the top
    block. BatchNormalization stays frozen unless ``train_batchnorm``.
    """
    layers = [l for l in backbone.layers if l.weights]
    blocks = {l.name: block_index(l.name) for l in layers}
    numbered = [b for b in blocks.values() if b is not None]
    top = max(numbered) if numbered else 0
    if unfreeze == "all":
        lowest = -math.inf
    else:
        lowest = top - int(unfreeze) + 1 if unfreeze else math.inf
    backbone.trainable = True
    trainable = []
    seen_numbered = False
    for layer in backbone.layers:
        b = blocks.get(layer.name)
        seen_numbered |= b is not None
        level = b if b is not None else (top + 1 if seen_numbered else -math.inf)
        on = level >= lowest
        if isinstance(layer, keras.layers.BatchNormalization) and not train_batchnorm:
            on = False
        layer.trainable = on
        if on and layer.weights:
            trainable.append(layer.name)
    if not trainable:
        backbone.trainable = False
    return trainable


# ----------------------------------------------------------------------------------------------
# training

def _optimizer(stage: Stage, steps_per_epoch: int | None):
    lr = stage.learning_rate
    if stage.schedule == "cosine":
        if not steps_per_epoch:
            raise ValueError("schedule='cosine' needs the number of steps per epoch (a finite dataset)")
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=stage.epochs * steps_per_epoch)
    if stage.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=0.9)
    return keras.optimizers.Adam(learning_rate=lr)


class LearningRateLog(keras.callbacks.Callback):
    """Put the learning rate in effect into every epoch's logs (and so the History)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


def _callbacks(stage: Stage, monitor: str, checkpoint: Path | None, verbose: int):
    cbs = []
    if stage.patience is not None:
        cbs.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=stage.patience,
                                                 restore_best_weights=True, verbose=verbose))
    if stage.schedule == "step":
        step = max(1, round(stage.epochs / 3))
        cbs.append(keras.callbacks.LearningRateScheduler(
            lambda epoch: stage.learning_rate * 0.1 ** (epoch // step), verbose=verbose))
    elif stage.schedule == "plateau":
        cbs.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.2, patience=2,
                                                     verbose=verbose))
    cbs.append(LearningRateLog())
    if checkpoint is not None:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        cbs.append(keras.callbacks.ModelCheckpoint(str(checkpoint), monitor=monitor,
                                                   save_best_only=True, verbose=verbose))
    return cbs


def run_stage(model, stage: Stage, train, validation=None, *, backbone=None, class_weight=None,
              checkpoint: str | os.PathLike | None = None, steps_per_epoch: int | None = None,
              verbose: int = 0, extra_callbacks=()) -> tuple[keras.callbacks.History, list[str]]:
    """Set what trains, compile, and fit one stage. Returns ``(keras History, trainable names)``.

    The History also gets ``stopped_by``: ``"early stopping"``, ``"time budget"`` (``stage.minutes``
    spent) or ``"epoch cap"``.
    """
    from .training import TimeBudget

    backbone = backbone or find_backbone(model)
    unfrozen = set_trainable(backbone, stage.unfreeze)
    steps = steps_per_epoch
    if steps is None:  # a finite tf.data dataset knows its length (needed by the cosine schedule)
        try:
            steps = int(train.cardinality())
        except (AttributeError, TypeError):
            steps = None
        steps = steps if steps and steps > 0 else None
    model.compile(optimizer=_optimizer(stage, steps), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    monitor = "val_loss" if validation is not None else "loss"
    callbacks = _callbacks(stage, monitor, Path(checkpoint) if checkpoint else None, verbose)
    budget = TimeBudget(stage.minutes) if stage.minutes is not None else None
    history = model.fit(train, validation_data=validation, epochs=stage.epochs,
                        class_weight=class_weight, verbose=verbose, shuffle=False,
                        steps_per_epoch=steps_per_epoch,
                        callbacks=callbacks + ([budget] if budget else []) + list(extra_callbacks))
    early = any(isinstance(c, keras.callbacks.EarlyStopping) and c.stopped_epoch > 0 for c in callbacks)
    history.stopped_by = ("early stopping" if early else
                          "time budget" if budget is not None and budget.stopped_early else "epoch cap")
    return history, unfrozen


def two_stage_finetune(model, train, validation=None, *, stage1: Stage | None = None,
                       stage2: Stage | None = None, class_weight=None,
                       checkpoint_dir: str | os.PathLike | None = None,
                       steps_per_epoch: int | None = None, verbose: int = 0,
                       callbacks=()) -> FinetuneResult:
    """Stage 1: head only, backbone frozen. Stage 2: top backbone blocks too, lower learning rate.

    Args:
        model: a classifier from :func:`build_classifier` / :func:`emolib.models.heads.add_head`.
        train, validation: ``tf.data`` datasets from :func:`emolib.models.input_pipeline.make_dataset`.
        stage1: default ``Stage(15, 1e-4)`` (the FER2013 VGGFace student project).
        stage2: default ``Stage(5, 1e-5, unfreeze=1)``; pass None to skip with ``stage2=False``.
        class_weight: Keras class weights, e.g. :func:`emolib.balance.class_weights`.
        checkpoint_dir: keep the best model of each stage as ``stage1.keras``/``stage2.keras``.
        steps_per_epoch: for repeated (infinite) datasets.
        verbose: Keras verbosity (0 in the sample profile).
        callbacks: more Keras callbacks, used in both stages.
    """
    stage1 = stage1 or Stage(15, 1e-4)
    stages = [stage1] + ([stage2 or Stage(5, 1e-5, unfreeze=1)] if stage2 is not False else [])
    if len(stages) == 2 and stages[1].unfreeze == 0:
        raise ValueError("stage2.unfreeze: expected at least one block (or 'all') to fine-tune")
    backbone = find_backbone(model)
    merged: dict[str, list[float]] = {}
    epochs, unfrozen, stopped_by = [], [], []
    for k, stage in enumerate(stages, 1):
        ckpt = Path(checkpoint_dir) / f"stage{k}.keras" if checkpoint_dir else None
        history, trainable = run_stage(model, stage, train, validation, backbone=backbone,
                                       class_weight=class_weight, checkpoint=ckpt,
                                       steps_per_epoch=steps_per_epoch, verbose=verbose,
                                       extra_callbacks=callbacks)
        n = len(history.history.get("loss", []))
        epochs.append(n)
        stopped_by.append(history.stopped_by)
        for key, values in history.history.items():
            merged.setdefault(key, []).extend(float(v) for v in values)
        merged.setdefault("stage", []).extend([k] * n)
        unfrozen = trainable
    return FinetuneResult(merged, epochs, unfrozen, stopped_by)
