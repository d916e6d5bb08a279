"""An ensemble served as one Keras model: members' probabilities averaged inside the graph.

:func:`average_model` wraps trained members (same input, softmax outputs) into a single
``keras.Model`` that a ``.keras`` file holds whole: optionally each member also sees the mirrored
face (test-time flip) and copies shifted by a few pixels (test-time shifts), the scores are
averaged with fixed weights, and a final
:class:`AdjustProbabilities` layer applies a temperature and per-class log-offsets fitted on a
holdout. :func:`resized_member` lets a network trained at another size (the fine-tuned FaceNet at
96 px RGB) join members that read 48 px grey faces. The layers here, FaceNet's and the
half-stored ones (:mod:`emolib.models.half_storage`) are registered, so
``keras.models.load_model`` rebuilds the model once this module is imported
(:mod:`emolib.models.pretrained` does so).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

from ..models import facenet, half_storage  # noqa: F401  (register their layers for loading)

__all__ = ["Mirror", "Shift", "WeightedMean", "AdjustProbabilities", "average_model", "fit_average_weights",
           "resized_member"]

_EPS = 1e-7


@keras.saving.register_keras_serializable(package="emolib")
class Mirror(keras.layers.Layer):
    """Horizontal mirror of an image batch (N, H, W, C), in training and inference alike."""

    def call(self, x):
        return ops.flip(x, axis=2)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="emolib")
class Shift(keras.layers.Layer):
    """An image batch (N, H, W, C) shifted by ``(dy, dx)`` pixels, edges repeated.

    ``out[:, i, j] = x[:, clip(i + dy), clip(j + dx)]``: the content moves up by ``dy`` and left
    by ``dx`` (negative values move it down or right), and the border rows and columns fill the gap.
    """

    def __init__(self, dy: int = 0, dx: int = 0, **kwargs):
        super().__init__(**kwargs)
        if int(dy) != dy or int(dx) != dx:
            raise ValueError(f"Shift: expected whole pixels, got dy={dy}, dx={dx}")
        self.dy, self.dx = int(dy), int(dx)

    def call(self, x):
        rows, cols = _shift_index(x.shape[1], self.dy), _shift_index(x.shape[2], self.dx)
        return ops.take(ops.take(x, rows, axis=1), cols, axis=2)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "dy": self.dy, "dx": self.dx}


def _shift_index(n: int, d: int) -> np.ndarray:
    """Source index of each of ``n`` positions shifted by ``d``, clipped to the edges."""
    return np.clip(np.arange(n) + d, 0, n - 1).astype("int32")


def shift_images(images, dy: int, dx: int) -> np.ndarray:
    """NumPy twin of :class:`Shift` for N x H x W[x C] arrays (used to score views on a holdout)."""
    x = np.asarray(images)
    return x[:, _shift_index(x.shape[1], dy)][:, :, _shift_index(x.shape[2], dx)]


@keras.saving.register_keras_serializable(package="emolib")
class WeightedMean(keras.layers.Layer):
    """Weighted mean of same-shaped inputs; ``weights`` (one per input) are normalised to sum 1."""

    def __init__(self, weights, **kwargs):
        super().__init__(**kwargs)
        w = np.asarray(weights, dtype="float64").ravel()
        if w.size == 0 or not np.all(np.isfinite(w)) or w.min() < 0 or w.sum() <= 0:
            raise ValueError(f"weights: expected non-negative numbers with a positive sum, got {list(w)}")
        self.member_weights = [float(v) for v in w / w.sum()]

    def call(self, inputs):
        if len(inputs) != len(self.member_weights):
            raise ValueError(f"WeightedMean: {len(self.member_weights)} weights for {len(inputs)} inputs")
        return sum(w * x for w, x in zip(self.member_weights, inputs))

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "weights": self.member_weights}


@keras.saving.register_keras_serializable(package="emolib")
class AdjustProbabilities(keras.layers.Layer):
    """``softmax(log(p) / temperature + log_bias)``: temperature scaling and class-prior offsets."""

    def __init__(self, temperature: float = 1.0, log_bias=None, **kwargs):
        super().__init__(**kwargs)
        if not (np.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature: expected a positive number, got {temperature}")
        self.temperature = float(temperature)
        self.log_bias = None if log_bias is None else [float(b) for b in np.ravel(log_bias)]

    def call(self, p):
        z = ops.log(ops.clip(p, _EPS, 1.0)) / self.temperature
        if self.log_bias is not None:
            z = z + ops.convert_to_tensor(np.asarray(self.log_bias, "float32"))
        return ops.softmax(z, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "log_bias": self.log_bias}


def average_model(members, weights=None, *, tta_flip: bool = True, tta_shifts=(), temperature: float = 1.0,
                  log_bias=None, name: str = "ensemble") -> keras.Model:
    """One Keras model that averages ``members``' class probabilities.

    Args:
        members: trained ``keras.Model`` objects with the same input shape and number of softmax
            outputs, and distinct names (they become nested models; a compiled one is copied
            without its optimizer, so a saved ensemble holds weights only).
        weights: one non-negative weight per member (default: equal).
        tta_flip: each member also scores the mirrored input; its two scores are averaged first.
        tta_shifts: ``(dy, dx)`` pixel shifts; each member also scores the input shifted by each
            (and, with ``tta_flip``, its mirror), and all of a member's views are averaged first.
        temperature, log_bias: see :class:`AdjustProbabilities` (1 and None leave scores as they are).

    Raises:
        ValueError: for no members, mismatched inputs or outputs, repeated names, bad weights or
            a ``log_bias`` not of one offset per class.
    """
    members = list(members)
    if not members:
        raise ValueError("members: expected at least one Keras model")
    shape, n_out = members[0].input_shape[1:], members[0].output_shape[-1]
    names = [m.name for m in members]
    for m in members[1:]:
        if m.input_shape[1:] != shape or m.output_shape[-1] != n_out:
            raise ValueError(f"member {m.name!r}: input {m.input_shape[1:]} and {m.output_shape[-1]} outputs; "
                             f"expected {shape} and {n_out} like {members[0].name!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"members: names must be distinct, got {names}")
    if weights is None:
        weights = [1.0] * len(members)
    if len(weights) != len(members):
        raise ValueError(f"weights: expected {len(members)} (one per member), got {len(weights)}")
    mean = WeightedMean(weights, name="weighted_mean")  # checks the weights, even for one member
    if log_bias is not None and np.size(log_bias) != n_out:
        raise ValueError(f"log_bias: expected {n_out} offsets (one per class), got {np.size(log_bias)}")
    shifts = [tuple(int(v) for v in d) for d in tta_shifts]
    if any(len(d) != 2 for d in shifts) or (0, 0) in shifts or len(set(shifts)) != len(shifts):
        raise ValueError(f"tta_shifts: expected distinct non-zero (dy, dx) pairs, got {list(tta_shifts)}")
    members = [_without_optimizer(m) for m in members]
    inputs = keras.Input(shape, name="pixels")
    views = [inputs] + [Shift(dy, dx, name=f"shift_{i}")(inputs) for i, (dy, dx) in enumerate(shifts)]
    if tta_flip:
        views += [Mirror(name="mirror" if i == 0 else f"mirror_{i}")(v) for i, v in enumerate(views)]
    scores = []
    for m in members:
        s = [m(v, training=False) for v in views]
        scores.append(keras.layers.Average(name=f"{m.name}_tta")(s) if len(s) > 1 else s[0])
    out = mean(scores) if len(scores) > 1 else scores[0]
    if temperature != 1.0 or log_bias is not None:
        out = AdjustProbabilities(temperature, log_bias, name="calibrate")(out)
    return keras.Model(inputs, out, name=name)


def resized_member(model: keras.Model, input_shape=(48, 48, 1), *, name: str | None = None) -> keras.Model:
    """``model`` behind an input of ``input_shape``: faces are upscaled (bilinear, as OpenCV's
    linear resize of :data:`emolib.faces.batch.RESIZE` upscales) to the model's input size, and a
    grey face is repeated into the three channels an RGB model expects. Pixel values pass as they
    are, so ``model`` must do its own normalisation (FaceNet built with ``standardize=True`` does).

    Raises:
        ValueError: if the model's input is smaller than ``input_shape`` (downscaling would need
            area resampling) or the channels cannot be matched (only 1 -> 3 or equal).
    """
    inner = _without_optimizer(model)
    h, w, c = (int(v) for v in inner.input_shape[1:])
    ih, iw, ic = (int(v) for v in input_shape)
    if h < ih or w < iw:
        raise ValueError(f"model {inner.name!r}: input {h}x{w} is smaller than {ih}x{iw}; "
                         "resized_member only upscales")
    if ic != c and not (ic == 1 and c == 3):
        raise ValueError(f"model {inner.name!r}: takes {c} channels; cannot feed it {ic}")
    inputs = keras.Input((ih, iw, ic), name="pixels")
    x = inputs if (h, w) == (ih, iw) else keras.layers.Resizing(h, w, interpolation="bilinear", name="upscale")(inputs)
    if ic != c:
        x = keras.layers.Concatenate(name="grey_to_rgb")([x, x, x])
    return keras.Model(inputs, inner(x, training=False), name=name or f"{inner.name}_{ih}px")


def _without_optimizer(model: keras.Model) -> keras.Model:
    """``model`` itself when uncompiled, else a copy with its weights but no optimizer: a compiled
    member nested in the ensemble would carry its optimizer's state into the saved file."""
    if getattr(model, "optimizer", None) is None:
        return model
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def fit_average_weights(member_probs, labels) -> np.ndarray:
    """Member weights (non-negative, sum 1) that minimise the log-loss of the weighted mean score.

    ``member_probs`` is a list of N x K probability arrays (one per member) on a holdout; the
    weights are a softmax of free parameters optimised by L-BFGS from equal weights.
    """
    from scipy.optimize import minimize

    p = np.stack([np.asarray(m, "float64") for m in member_probs])       # M x N x K
    y = np.asarray(labels)
    if p.ndim != 3 or p.shape[1] != len(y):
        raise ValueError(f"member_probs: expected M arrays of shape ({len(y)}, K), got {p.shape}")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= p.shape[2]:
        raise ValueError(f"labels: expected {len(y)} class indices in 0..{p.shape[2] - 1}, got {y.dtype} "
                         f"values {y.min()}..{y.max()}")
    picked = p[:, np.arange(len(y)), y]                                   # M x N

    def loss(theta):
        w = np.exp(theta - theta.max())
        w /= w.sum()
        return float(-np.log(np.clip(w @ picked, _EPS, None)).mean())

    res = minimize(loss, np.zeros(len(p)), method="L-BFGS-B")
    w = np.exp(res.x - res.x.max())
    return w / w.sum()
