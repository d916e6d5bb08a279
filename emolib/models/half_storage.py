"""Models stored in half precision and run in float32: half the file for the same predictions.

A shipped ensemble with a FaceNet member holds about 25 million weights: 95 MB in float32, over the
100 MB a PyPI file or a GitHub blob may have once the other members join it. :func:`half_storage`
rebuilds a model with its ``Conv2D`` and ``Dense`` kernels kept as float16 variables that are cast
to float32 when the layer runs, so only storage loses precision (about 3 significant digits per
weight); the arithmetic, biases and BatchNormalization statistics stay float32.
"""
from __future__ import annotations

import keras

__all__ = ["HalfStoredConv2D", "HalfStoredDense", "half_storage", "STORAGE_DTYPE"]

STORAGE_DTYPE = "float16"


class _HalfKernel:
    """Mixin: the ``kernel`` variable is created in float16 and read back in the compute dtype."""

    def add_weight(self, *args, **kwargs):
        if kwargs.get("name") == "kernel":
            kwargs["dtype"] = STORAGE_DTYPE
        return super().add_weight(*args, **kwargs)

    @property
    def kernel(self):
        return keras.ops.cast(self._kernel, self.compute_dtype)

    def save_own_variables(self, store):
        # Keras saves ``self.kernel`` (here the float32 cast); save the stored float16 kernel instead
        if not self.built:
            return
        for i, variable in enumerate([self._kernel] + ([self.bias] if self.use_bias else [])):
            store[str(i)] = variable


@keras.saving.register_keras_serializable(package="emolib")
class HalfStoredConv2D(_HalfKernel, keras.layers.Conv2D):
    """``Conv2D`` whose kernel is stored in float16 and used in float32."""


@keras.saving.register_keras_serializable(package="emolib")
class HalfStoredDense(_HalfKernel, keras.layers.Dense):
    """``Dense`` whose kernel is stored in float16 and used in float32."""


_REPLACE = {"Conv2D": "HalfStoredConv2D", "Dense": "HalfStoredDense"}


def _swap_classes(node, counter: list[int]):
    """``node`` (a serialized config) with every plain Conv2D/Dense entry renamed to its half-stored class."""
    if isinstance(node, list):
        return [_swap_classes(v, counter) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _swap_classes(v, counter) for k, v in node.items()}
    if out.get("class_name") in _REPLACE and out.get("module") == "keras.layers" and "config" in out:
        counter[0] += 1
        name = _REPLACE[out["class_name"]]
        out.update(class_name=name, module=None, registered_name=f"emolib>{name}")
    return out


def half_storage(model: keras.Model) -> keras.Model:
    """A copy of the functional ``model`` (nested models included) with half-stored kernels.

    The copy has the same layers, names and outputs up to float16 rounding of the kernels; it
    carries no optimizer. Raises ``ValueError`` for a model with no ``Conv2D`` or ``Dense`` layer,
    where half storage would save nothing.
    """
    counter = [0]
    config = _swap_classes(keras.saving.serialize_keras_object(model), counter)
    if not counter[0]:
        raise ValueError(f"model {model.name!r}: no Conv2D or Dense layer to store in half precision")
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(model.get_weights())
    return copy
