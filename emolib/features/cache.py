"""Frozen-backbone features of face images, computed once and cached under ``EMOLIB_HOME/features``.

:func:`extract_features` runs a frozen network (FaceNet, dlib's face-ID ResNet, or any Keras
model) over a face array and stores the result. The cache key is the sha256 of everything the
numbers depend on: the face data (bytes, shape, dtype), the backbone's name, the sha256 of its
weights, the layer, the input size and the augmentation. Any change misses; a cache file that
cannot be read, or holds another key or the wrong number of rows, is logged and rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import emolib_home
from ..errors import ImageReadError

__all__ = [
    "AUGMENTS",
    "CACHE_SUBDIR",
    "Extractor",
    "extract_features",
    "feature_cache_key",
    "get_extractor",
]

log = logging.getLogger(__name__)
CACHE_SUBDIR = "features"
AUGMENTS = (None, "flip")      # deterministic only, so that the features can be cached
_FORMAT = 1                    # bump when the stored layout or the preprocessing changes


@dataclass(frozen=True)
class Extractor:
    """A frozen network: RGB uint8 batch ``N x size x size x 3`` -> float32 ``N x d``."""

    name: str
    weights_sha256: str
    fn: Callable[[np.ndarray], np.ndarray]

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn(batch), dtype=np.float32)


def _keras_weights_sha256(model) -> str:
    h = hashlib.sha256()
    for w in model.weights:
        h.update(np.ascontiguousarray(np.asarray(w)).tobytes())
    return h.hexdigest()


def _keras_fn(model, layer: str | None, preprocess=None):
    import keras

    if layer is not None:
        try:
            out = model.get_layer(layer).output
        except ValueError:
            raise ValueError(f"layer: model {model.name!r} has no layer {layer!r}") from None
        model = keras.Model(model.inputs, out, name=f"{model.name}_{layer}")

    def fn(batch):
        x = preprocess(batch) if preprocess else batch.astype(np.float32)
        y = np.asarray(model.predict_on_batch(x))
        return y.reshape(len(y), -1) if y.ndim == 2 else y.mean(axis=tuple(range(1, y.ndim - 1)))
    return fn


def get_extractor(backbone, *, layer: str | None = None, size: int = 96, weights="pretrained") -> Extractor:
    """Resolve ``backbone`` to an :class:`Extractor`.

    Args:
        backbone: ``"facenet"`` (:func:`emolib.models.facenet.FaceNet`, per-image standardised,
            features of ``layer``, default ``AvgPool``, 1792-d); ``"dlib_resnet"`` (dlib's 128-d
            face-ID network, :class:`emolib.features.face_id.FaceIDExtractor`; its own 150 px
            chip, so ``size`` only sets the resize before it); a ``keras.Model`` taking RGB 0-255
            at ``size`` px; or an :class:`Extractor`. Feature maps are averaged over space.
        weights: for ``"facenet"``: ``"pretrained"`` (the cached real weights) or a file path.
    """
    if isinstance(backbone, Extractor):
        return backbone
    if backbone == "facenet":
        from ..data.cache import file_sha256
        from ..models.facenet import FaceNet, get_weights_file, preprocess_input

        path = get_weights_file() if weights == "pretrained" else Path(weights)
        built = []          # the network is built on the first batch, so a cache hit skips it

        def fn(batch):
            if not built:
                model = FaceNet(include_top=False, weights=path, input_shape=(size, size, 3), pooling="avg")
                built.append(_keras_fn(model, layer, preprocess_input))
            return built[0](batch)
        return Extractor("facenet", file_sha256(path), fn)
    if backbone == "dlib_resnet":
        from ..data.cache import file_sha256
        from .face_id import FaceIDExtractor, face_id_model_paths

        if layer is not None:
            raise ValueError(f"layer: dlib_resnet exposes only its 128-d descriptor, got {layer!r}")
        digest = hashlib.sha256("".join(file_sha256(p) for p in face_id_model_paths().values()).encode())
        ext = FaceIDExtractor().fit()
        return Extractor("dlib_resnet", digest.hexdigest(), ext.transform)
    if hasattr(backbone, "predict_on_batch") and hasattr(backbone, "weights"):
        return Extractor(backbone.name, _keras_weights_sha256(backbone), _keras_fn(backbone, layer))
    raise ValueError(f"backbone: expected 'facenet', 'dlib_resnet', a keras.Model or an Extractor, "
                     f"got {backbone!r}")


def _faces_array(faces) -> np.ndarray:
    x = np.asarray(faces)
    if x.dtype != np.uint8:
        raise ImageReadError("faces", "uint8 images (N x H x W grey or N x H x W x 3 RGB)", got=f"dtype {x.dtype}")
    if not (x.ndim == 3 or (x.ndim == 4 and x.shape[-1] in (1, 3))):
        raise ImageReadError("faces", "N x H x W (grey) or N x H x W x 3 (RGB)", got=f"shape {x.shape}")
    return np.ascontiguousarray(x)


def feature_cache_key(faces: np.ndarray, extractor: Extractor, layer, size: int, augment) -> str:
    """sha256 over the data, backbone name, weights hash, layer, size and augmentation."""
    data = hashlib.sha256(faces.tobytes())
    data.update(f"{faces.shape}{faces.dtype}".encode())
    fields = {"format": _FORMAT, "data": data.hexdigest(), "backbone": extractor.name,
              "weights": extractor.weights_sha256, "layer": layer, "size": size, "augment": augment}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def _batch_rgb(x: np.ndarray, size: int, flip: bool) -> np.ndarray:
    import cv2

    out = np.empty((len(x), size, size, 3), np.uint8)
    for i, img in enumerate(x):
        img = img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img
        if img.shape[:2] != (size, size):
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
        out[i] = img[..., None] if img.ndim == 2 else img
    return out[:, :, ::-1] if flip else out


def _read_cache(path: Path, key: str, n: int) -> np.ndarray | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            stored, features = str(z["key"]), z["features"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        log.warning("feature cache %s is unreadable (%s): rebuilding it", path, e)
        return None
    if stored != key or len(features) != n:
        log.warning("feature cache %s holds another key or %d rows, not %d: rebuilding it",
                    path, len(features), n)
        return None
    return features


def extract_features(backbone, faces, layer: str | None = None, size: int = 96, augment: str | None = None,
                     batch_size: int = 64, progress: bool = True, *, weights="pretrained",
                     cache_dir: str | os.PathLike | None = None, use_cache: bool = True) -> np.ndarray:
    """Features of every face from a frozen ``backbone``, cached on disk.

    Args:
        backbone: ``"facenet"``, ``"dlib_resnet"``, a ``keras.Model`` or an :class:`Extractor`
            (see :func:`get_extractor`).
        faces: uint8 ``N x H x W`` (grey, copied to RGB) or ``N x H x W x 3`` (RGB).
        layer: a layer of a Keras backbone (default: its output; FaceNet's ``AvgPool``).
        size: side the faces are resized to (bilinear) before the network.
        augment: ``None`` or ``"flip"`` (mirror every face; e.g. to average with the plain run).
        batch_size: faces per forward pass.
        progress: show a tqdm bar on stderr.
        weights: FaceNet weights, ``"pretrained"`` or a path.
        cache_dir: default ``EMOLIB_HOME/features``.
        use_cache: False computes without reading or writing the cache.

    Returns:
        float32 ``N x d``.
    """
    from tqdm.auto import tqdm

    if augment not in AUGMENTS:
        raise ValueError(f"augment: expected one of {AUGMENTS}, got {augment!r}")
    if not isinstance(size, int) or size < 16:
        raise ValueError(f"size: expected an integer >= 16, got {size!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    x = _faces_array(faces)
    extractor = get_extractor(backbone, layer=layer, size=size, weights=weights)
    key = feature_cache_key(x, extractor, layer, size, augment)
    folder = Path(cache_dir) if cache_dir else emolib_home() / CACHE_SUBDIR
    path = folder / f"{extractor.name}-{key[:24]}.npz"
    if use_cache and (hit := _read_cache(path, key, len(x))) is not None:
        return hit
    rows = []
    for start in tqdm(range(0, len(x), batch_size), desc=f"{extractor.name} features", unit="batch",
                      disable=not progress, file=sys.stderr):
        rows.append(extractor(_batch_rgb(x[start:start + batch_size], size, augment == "flip")))
    features = np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)
    if use_cache:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, features=features, key=np.array(key))
        os.replace(tmp, path)
    return features
