"""dlib's 128-d face-recognition descriptor, as a scikit-learn transformer.

The network is dlib's ``dlib_face_recognition_resnet_model_v1``: a 29-layer ResNet trained with
a metric loss on about 3 million faces to tell identities apart (99.38 % on the LFW benchmark,
per dlib's documentation). Its weights ship in the ``face-recognition-models`` package, so it runs
offline. Used as a group-pipeline member it is the idea of the systems this book follows, transfer from face
identification to emotion, on a real face-ID network with its real weights.

Each face crop is aligned first: dlib's 5-point landmark predictor runs on the crop, and
``dlib.get_face_chip`` cuts the 150 x 150 chip the network expects. On the 2 CPU cores this
project was measured on, one face takes about 0.4 s (dlib's wheel has no BLAS), so the sample
profile runs it on few faces.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import ImageReadError, WeightsError

__all__ = ["FaceIDExtractor", "face_id_model_paths", "FACE_ID_DIM", "CHIP_SIZE"]

FACE_ID_DIM = 128
CHIP_SIZE = 150
_FILES = {"recognition": "dlib_face_recognition_resnet_model_v1.dat",
          "landmarks5": "shape_predictor_5_face_landmarks.dat"}


def face_id_model_paths() -> dict[str, Path]:
    """Paths of the face-ID network and the 5-point predictor inside ``face_recognition_models``.

    The package is located without importing it (its ``__init__`` imports the deprecated
    ``pkg_resources``, which prints a warning).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError("face_recognition_models", "package not installed: "
                           "pip install face-recognition-models (it ships dlib's model files)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    paths = {k: folder / name for k, name in _FILES.items()}
    for path in paths.values():
        if not path.is_file():
            raise WeightsError(path, "model file missing: reinstall face-recognition-models")
    return paths


@functools.cache
def _load_models(recognition: str, landmarks5: str):
    import dlib

    return dlib.face_recognition_model_v1(recognition), dlib.shape_predictor(landmarks5)


def _as_rgb_crop(face, i: int) -> np.ndarray:
    x = np.asarray(face)
    if x.dtype != np.uint8:
        raise ImageReadError(f"faces[{i}]", "a uint8 image", got=f"dtype {x.dtype}")
    if x.ndim == 2:
        x = np.stack([x] * 3, axis=-1)
    if x.ndim != 3 or x.shape[2] != 3:
        raise ImageReadError(f"faces[{i}]", "H x W (grey) or H x W x 3 (RGB)", got=f"shape {x.shape}")
    if min(x.shape[:2]) < 16:
        raise ImageReadError(f"faces[{i}]", "a face crop at least 16 pixels on each side",
                             got=f"shape {x.shape}")
    return np.ascontiguousarray(x)


class FaceIDExtractor(TransformerMixin, BaseEstimator):
    """dlib's 128-d face-ID descriptor of each face crop.

    Args:
        align: "5point" (default): find dlib's 5 landmarks inside the crop and cut an aligned
            150 x 150 chip; "none": resize the crop to 150 x 150 as it is (for crops that are
            already aligned, e.g. from ``emolib.faces.align``).
        padding: extra border around the aligned chip, as a fraction of the face (dlib's default 0.25).
        num_jitters: if > 0, average the descriptor over this many randomly jittered copies
            (dlib's option; slower, slightly more stable).
        batch_size: chips per call to the network.

    ``transform`` takes a list (or N x H x W [x 3] array) of uint8 face crops, grey or RGB,
    and returns an N x 128 float32 array.
    """

    def __init__(self, align: str = "5point", padding: float = 0.25, num_jitters: int = 0,
                 batch_size: int = 32):
        self.align = align
        self.padding = padding
        self.num_jitters = num_jitters
        self.batch_size = batch_size

    def fit(self, X=None, y=None):
        if self.align not in ("5point", "none"):
            raise ValueError(f"align={self.align!r}: expected '5point' or 'none'")
        if self.num_jitters < 0 or self.batch_size < 1:
            raise ValueError("num_jitters must be >= 0 and batch_size >= 1")
        self.model_paths_ = {k: str(v) for k, v in face_id_model_paths().items()}
        self.n_features_out_ = FACE_ID_DIM
        return self

    def chips(self, X) -> list[np.ndarray]:
        """The 150 x 150 RGB chips the network sees, one per face crop."""
        import cv2
        import dlib

        if not hasattr(self, "model_paths_"):
            self.fit()
        _, predictor = _load_models(self.model_paths_["recognition"], self.model_paths_["landmarks5"])
        out = []
        for i, face in enumerate(X):
            crop = _as_rgb_crop(face, i)
            if self.align == "none":
                out.append(np.ascontiguousarray(cv2.resize(crop, (CHIP_SIZE, CHIP_SIZE),
                                                           interpolation=cv2.INTER_AREA)))
                continue
            h, w = crop.shape[:2]
            shape = predictor(crop, dlib.rectangle(0, 0, w - 1, h - 1))
            out.append(dlib.get_face_chip(crop, shape, size=CHIP_SIZE, padding=self.padding))
        return out

    def transform(self, X) -> np.ndarray:
        if not hasattr(self, "model_paths_"):
            self.fit()
        X = list(X)
        if len(X) == 0:
            return np.zeros((0, FACE_ID_DIM), np.float32)
        network, _ = _load_models(self.model_paths_["recognition"], self.model_paths_["landmarks5"])
        chips = self.chips(X)
        rows = []
        for start in range(0, len(chips), self.batch_size):
            batch = chips[start:start + self.batch_size]
            rows += [np.asarray(d) for d in network.compute_face_descriptor(batch, self.num_jitters)]
        return np.stack(rows).astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        return np.array([f"face_id{i}" for i in range(FACE_ID_DIM)], dtype=object)
