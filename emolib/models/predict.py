"""Model outputs: the one batched prediction every emolib model goes through, and the softmax.

:func:`predict_batches` calls a Keras model on an array (or a dict of arrays, for models with
several inputs, a dict or list of arrays) batch by batch and returns NumPy. :func:`predict_faces` first turns face crops
into the model's input with :func:`emolib.faces.batch.to_batch`.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["predict_batches", "predict_faces", "softmax"]


def _rows(inputs) -> int:
    if isinstance(inputs, Mapping):
        return len(next(iter(inputs.values())))
    return len(inputs[0]) if isinstance(inputs, (list, tuple)) else len(inputs)


def _slice(inputs, sl: slice):
    if isinstance(inputs, Mapping):
        return {k: v[sl] for k, v in inputs.items()}
    return [v[sl] for v in inputs] if isinstance(inputs, (list, tuple)) else inputs[sl]


def _outputs(out) -> np.ndarray | list[np.ndarray]:
    if isinstance(out, (list, tuple)):
        return [np.asarray(o) for o in out]
    return np.asarray(out)


def predict_batches(model, inputs, *, batch_size: int = 256, tta_flip: bool = False,
                    compiled: bool = False) -> np.ndarray | list[np.ndarray]:
    """``model(inputs)`` in batches of ``batch_size`` rows, as NumPy.

    Args:
        model: a Keras model.
        inputs: an array N x ..., or a dict or list of such arrays (one per model input).
        batch_size: rows per call.
        tta_flip: average each row's output with its mirror image's (array inputs N x H x W x C).
        compiled: run ``predict_on_batch`` (one traced graph per model: much faster for many
            batches, as in serving) instead of eager calls (no tracing: cheaper for a few
            hundred rows, and no retracing notices when many models or sizes are used).

    Returns:
        An N x K array, or a list of arrays for a model with several outputs. For N = 0, a
        0 x K array of the model's (single) output width.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size}")
    if tta_flip and isinstance(inputs, (Mapping, list, tuple)):
        raise ValueError("tta_flip: mirrors an image array, not several model inputs")
    n = _rows(inputs)
    if n == 0:
        return np.zeros((0, int(model.output_shape[-1])), np.float32)
    # models loaded from Keras 2 HDF5 files declare their input as a one-element list
    struct = getattr(model, "_inputs_struct", None)
    as_list = compiled and isinstance(struct, list) and len(struct) == 1

    def call(batch):
        if compiled:
            return _outputs(model.predict_on_batch([batch] if as_list else batch))
        return _outputs(model(batch, training=False))

    parts = []
    for start in range(0, n, batch_size):
        batch = _slice(inputs, slice(start, start + batch_size))
        out = call(batch)
        if tta_flip:
            out = (out + call(np.ascontiguousarray(batch[:, :, ::-1]))) / 2
        parts.append(out)
    if isinstance(parts[0], list):
        return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
    return np.concatenate(parts)


def predict_faces(model, images, *, tta_flip: bool = False, batch_size: int = 256) -> np.ndarray:
    """Class probabilities N x K of a Keras face classifier that takes raw 0-255 pixels.

    ``images`` (crops or N x H x W[x C], grey or RGB) become the model's input size and channels
    with :func:`emolib.faces.batch.to_batch`; ``tta_flip`` averages each face with its mirror.
    """
    from ..faces.batch import to_batch

    _, h, w, c = model.input_shape
    x = to_batch(images, (h, w), c)
    return predict_batches(model, x, batch_size=batch_size, tta_flip=tta_flip)


def softmax(scores) -> np.ndarray:
    """Row-wise softmax of N x K scores (shifted by each row's maximum, so it cannot overflow)."""
    z = np.asarray(scores, float)
    if z.ndim != 2:
        raise ValueError(f"scores: expected N x K, got shape {z.shape}")
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
