"""Load Keras 2 HDF5 weight files (such as keras-vggface's) into Keras 3 models, all or nothing.

The Keras 2 layout (``save_weights``, or ``model_weights`` inside a full-model save):

* the attribute ``layer_names`` lists every layer in ``model.layers`` order (long lists are split
  over ``layer_names0``, ``layer_names1``, ...);
* each layer is a group named after the layer (``/`` in a name makes nested groups) whose
  attribute ``weight_names`` lists its datasets, e.g. ``conv1_1/kernel:0``, ``conv1_1/bias:0``;
  BatchNormalization stores gamma, beta, moving_mean, moving_variance, in that order.

:func:`load_keras2_weights` maps the model's weighted layers to the file's, by name (Keras 3
names with ``__`` are looked up with ``/``) or by the order of weighted layers, checks every
shape and only then assigns, so a mismatched or truncated file never leaves a half-loaded model.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import WeightsError

__all__ = ["FileLayer", "LoadReport", "read_keras2_layout", "load_keras2_weights", "MAPPINGS",
           "check_weights_argument", "check_pooling_argument"]

MAPPINGS = ("auto", "name", "order")


@dataclass(frozen=True)
class FileLayer:
    """One weighted layer of a Keras 2 weight file (names as in the file)."""

    name: str
    weight_names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_keras2_weights` did."""

    path: str
    mapping: str                       # "name" or "order"
    layers: int                        # weighted layers loaded
    tensors: int                       # arrays assigned
    parameters: int                    # numbers assigned
    pairs: tuple[tuple[str, str], ...] = field(repr=False)   # (model layer, file layer)
    unused: tuple[str, ...] = ()       # weighted file layers the model has no use for


def _decode(values) -> list[str]:
    return [v.decode("utf8") if isinstance(v, (bytes, np.bytes_)) else str(v) for v in values]


def _read_attr(group, name: str) -> list[str] | None:
    """A string-list attribute, joined again if Keras split it into ``name0``, ``name1``, ..."""
    if name in group.attrs:
        return _decode(np.atleast_1d(group.attrs[name]))
    if f"{name}0" in group.attrs:
        out, i = [], 0
        while f"{name}{i}" in group.attrs:
            out += _decode(np.atleast_1d(group.attrs[f"{name}{i}"]))
            i += 1
        return out
    return None


def _open(path):
    import h5py

    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise WeightsError(path, "no such file") from None
    except OSError as e:
        raise WeightsError(path, f"not a readable HDF5 file (truncated or corrupt download?): {e}") from e


def _weights_group(f, path):
    if _read_attr(f, "layer_names") is not None:
        return f
    if "model_weights" in f and _read_attr(f["model_weights"], "layer_names") is not None:
        return f["model_weights"]
    raise WeightsError(path, "expected a Keras 2 weight file: attribute 'layer_names' at the root "
                             "or on the group 'model_weights', found neither")


def _layers(group, path) -> list[FileLayer]:
    import h5py

    out = []
    for name in _read_attr(group, "layer_names"):
        if name not in group or not isinstance(group[name], h5py.Group):
            raise WeightsError(path, f"layer {name!r} is listed in layer_names but its group is "
                                     f"missing (truncated file?)")
        weight_names = _read_attr(group[name], "weight_names") or []
        shapes = []
        for w in weight_names:
            obj = group[name].get(w)
            if not isinstance(obj, h5py.Dataset):
                raise WeightsError(path, f"layer {name!r}: weight {w!r} is listed in weight_names "
                                         f"but its dataset is missing (truncated file?)")
            shapes.append(tuple(obj.shape))
        if weight_names:
            out.append(FileLayer(name, tuple(weight_names), tuple(shapes)))
    return out


def read_keras2_layout(path: str | os.PathLike) -> list[FileLayer]:
    """The weighted layers of a Keras 2 HDF5 weight file, in file order, without reading data.

    Raises:
        WeightsError: not an HDF5 file, no ``layer_names``, or a listed group/dataset is missing.
    """
    with _open(path) as f:
        return _layers(_weights_group(f, path), path)


def _model_layers(model) -> list:
    return [layer for layer in model.layers if layer.weights]


def _pair_by_name(model_layers, file_layers, name_map) -> tuple[list, list[str]]:
    by_name = {fl.name: fl for fl in file_layers}
    pairs, missing = [], []
    for layer in model_layers:
        candidates = [name_map[layer.name]] if layer.name in name_map else \
            [layer.name.replace("__", "/"), layer.name]
        found = next((by_name[c] for c in candidates if c in by_name), None)
        (pairs.append((layer, found)) if found else missing.append(candidates[0]))
    return pairs, missing


def _check_pair(path, layer, fl) -> None:
    if len(layer.weights) != len(fl.weight_names):
        raise WeightsError(path, f"layer {layer.name!r} (file layer {fl.name!r}): the model has "
                                 f"{len(layer.weights)} weights ({', '.join(_short(w) for w in layer.weights)}), "
                                 f"the file has {len(fl.weight_names)} ({', '.join(fl.weight_names)})")
    for var, wname, shape in zip(layer.weights, fl.weight_names, fl.shapes):
        if tuple(var.shape) != tuple(shape):
            raise WeightsError(path, f"layer {layer.name!r} (file layer {fl.name!r}), weight "
                                     f"{_short(var)!r} (file {wname!r}): the model expects shape "
                                     f"{tuple(var.shape)}, the file has {tuple(shape)}")


def _short(var) -> str:
    return getattr(var, "path", None) or var.name


def load_keras2_weights(model, path: str | os.PathLike, *, mapping: str = "auto",
                        name_map: dict[str, str] | None = None) -> LoadReport:
    """Load a Keras 2 HDF5 weight file into ``model``: every weighted layer, or none at all.

    Args:
        model: a built ``keras.Model``. Its weighted layers (``model.layers`` with weights) are
            filled; nested models count as layers, so pass the backbone itself.
        path: the ``.h5`` file (``save_weights`` layout, or a full-model save with
            ``model_weights``).
        mapping: ``"name"`` matches each model layer to the file layer of the same name (``__``
            in Keras 3 names stands for ``/``); ``"order"`` pairs the i-th weighted layer of the
            model with the i-th weighted layer of the file, as Keras 2 does by default;
            ``"auto"`` uses names when every model layer is found in the file, else order.
        name_map: optional ``{model layer name: file layer name}`` overrides.

    Returns:
        A :class:`LoadReport`. With ``mapping="name"``, weighted file layers the model does not
        have (e.g. the top of a ``with top`` file loaded into a model without it) are listed in
        ``unused``; every model layer must still be found.

    Raises:
        WeightsError: a model layer is missing from the file, the numbers of weighted layers
            differ (by order), or a shape differs; the message names the layer and both shapes.
            The model is left untouched.
        ValueError: ``mapping`` is not one of :data:`MAPPINGS`.
    """
    if mapping not in MAPPINGS:
        raise ValueError(f"mapping: expected one of {MAPPINGS}, got {mapping!r}")
    name_map = dict(name_map or {})
    model_layers = _model_layers(model)
    if not model_layers:
        raise ValueError(f"model {model.name!r} has no weighted layers to load")
    with _open(path) as f:
        group = _weights_group(f, path)
        file_layers = _layers(group, path)
        pairs, missing = _pair_by_name(model_layers, file_layers, name_map)
        used = "name"
        if missing and mapping == "name":
            raise WeightsError(path, f"layer {missing[0]!r} of model {model.name!r} is not in the file "
                                     f"({len(missing)} of {len(model_layers)} weighted layers missing); "
                                     f"file layers start {[fl.name for fl in file_layers[:4]]}")
        if mapping == "order" or (mapping == "auto" and missing):
            used = "order"
            if len(file_layers) != len(model_layers):
                hint = f"; by name, layer {missing[0]!r} is not in the file" if missing else ""
                raise WeightsError(path, f"the file has {len(file_layers)} weighted layers, model "
                                         f"{model.name!r} has {len(model_layers)}: cannot pair them "
                                         f"by order{hint}")
            pairs = list(zip(model_layers, file_layers))
        for layer, fl in pairs:     # every shape first ...
            _check_pair(path, layer, fl)
        values = []
        for layer, fl in pairs:     # ... then every array is read ...
            try:
                arrays = [np.asarray(group[fl.name][w]) for w in fl.weight_names]
            except (OSError, KeyError) as e:
                raise WeightsError(path, f"layer {fl.name!r}: could not read its data ({e}); "
                                         f"the file is truncated or corrupt") from e
            for _var, arr, w in zip(layer.weights, arrays, fl.weight_names):
                if not np.issubdtype(arr.dtype, np.floating):
                    raise WeightsError(path, f"layer {fl.name!r}, weight {w!r}: expected floating-point "
                                             f"values, got dtype {arr.dtype}")
            values.append(arrays)
    for (layer, _), arrays in zip(pairs, values):   # ... and only then assigned.
        layer.set_weights(arrays)
    paired_files = {fl.name for _, fl in pairs}
    return LoadReport(
        path=str(path), mapping=used, layers=len(pairs),
        tensors=sum(len(a) for a in values), parameters=int(sum(a.size for arrs in values for a in arrs)),
        pairs=tuple((layer.name, fl.name) for layer, fl in pairs),
        unused=tuple(fl.name for fl in file_layers if fl.name not in paired_files))


def check_weights_argument(weights, name: str) -> None:
    """Validate a builder's ``weights``: None, the published weights' ``name`` or a file path."""
    if not (weights is None or weights == name or isinstance(weights, (str, os.PathLike))):
        raise ValueError(f"weights: expected None, {name!r} or a file path, got {weights!r}")
    if isinstance(weights, (str, os.PathLike)) and weights != name and not Path(weights).is_file():
        raise ValueError(f"weights: {weights} is neither {name!r} nor an existing file")


def check_pooling_argument(pooling) -> None:
    """Validate a builder's ``pooling``: None, ``"avg"`` or ``"max"``."""
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling: expected None, 'avg' or 'max', got {pooling!r}")
