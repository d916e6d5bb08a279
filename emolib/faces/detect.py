"""Face detection three ways: OpenCV Haar cascades, dlib's HOG detector and MTCNN.

All three ship their weights inside their packages, so detection runs offline. Each detector is
built once per process and cached. Scores are not comparable across methods:

- ``haar``: the cascade's level weight (about 0-10 for default, higher = more confident);
- ``hog``: the SVM margin of dlib's detector (> 0 is a detection at dlib's default threshold);
- ``mtcnn``: the O-Net probability in [0, 1]; MTCNN also gives 5 keypoints.

Keypoint names follow MTCNN: ``left_eye`` is the eye on the image's left (the person's right eye).
"""
from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass

import numpy as np

from .image import MAX_PIXELS, load_image, to_grey

__all__ = ["Face", "detect", "detect_batch", "METHODS", "MAX_UPSCALE", "iou"]

METHODS = ("haar", "hog", "mtcnn")
_DEFAULT_THRESHOLD = {"haar": None, "hog": 0.0, "mtcnn": None}


@dataclass(frozen=True)
class Face:
    """One detected face.

    Attributes:
        box: (x, y, w, h) in pixels of the image it was found in, clipped to the image.
        score: the detector's confidence (scale depends on ``method``, see the module docstring).
        keypoints: 5 points ``{"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}`` as
            (x, y) floats (MTCNN), else None.
        method: the detector that found it.
    """

    box: tuple[int, int, int, int]
    score: float = 1.0
    keypoints: dict[str, tuple[float, float]] | None = None
    method: str = ""

    def __post_init__(self):
        box = tuple(int(round(float(v))) for v in self.box)
        if len(box) != 4 or box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"box: expected (x, y, w, h) with w, h > 0, got {self.box!r}")
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "score", float(self.score))

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2

    def iou(self, other: Face | tuple) -> float:
        """Intersection over union of the two boxes."""
        return iou(self.box, other.box if isinstance(other, Face) else other)


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = map(float, a)
    bx, by, bw, bh = map(float, b)
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


MAX_UPSCALE = 8.0


def detect(image, method: str = "haar", *, threshold: float | None = None, upscale: float = 1.0,
           min_size: int | None = None, min_confidence: float | None = None,
           max_pixels: int = MAX_PIXELS) -> list[Face]:
    """Find the faces in ``image``, most confident first.

    Args:
        image: anything :func:`~emolib.faces.load_image` takes (path, bytes, PIL image, array).
        method: ``"haar"`` (OpenCV ``haarcascade_frontalface_default``), ``"hog"`` (dlib's
            frontal face detector, one pyramid upsampling) or ``"mtcnn"`` (the mtcnn package).
        threshold: the detector's own cut. Defaults: haar none, hog 0.0 (dlib's own; a negative
            value also returns weaker candidates), mtcnn none (the package's O-Net cut of 0.8
            applies; a lower value lowers that cut). Faces scoring below it are dropped.
        upscale: resize the image by this factor, in (0, 8], before detecting (boxes are mapped
            back). Small images such as 48x48 FER2013 crops need 2-4: the detectors look for faces
            of 20-80 px; large photos can be shrunk (e.g. 0.5) to save time.
        min_size: smallest face, in pixels of ``image`` (before ``upscale``), on the longer side
            of its box: smaller detections are dropped, and haar and mtcnn do not search below it.
            Default: the detector's own smallest window (haar 24, mtcnn 20, hog about 40 px of the
            upscaled image). An integer >= 1.
        min_confidence: drop faces scoring below this, after detection (scores are on each
            method's scale, see the module docstring). Default: keep all.
        max_pixels: refuse larger images (and upscaled images) before decoding or resizing them.

    Returns:
        A list of :class:`Face`; empty when there is no face, or the image is too small to hold one.

    Raises:
        ValueError: a bad ``method``, ``upscale``, ``min_size``, ``min_confidence``,
            ``threshold`` or ``max_pixels``, naming the argument and the allowed values.
        emolib.errors.ImageReadError: the image cannot be read, or has more than ``max_pixels``.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r}: expected one of {METHODS}")
    upscale = _number("upscale", upscale)
    if not 0 < upscale <= MAX_UPSCALE:
        raise ValueError(f"upscale={upscale!r}: expected a number in (0, {MAX_UPSCALE:g}]")
    if min_size is not None:
        min_size = _positive_int("min_size", min_size)
    if min_confidence is not None:
        min_confidence = _number("min_confidence", min_confidence)
    if threshold is not None:
        threshold = _number("threshold", threshold)
    max_pixels = _positive_int("max_pixels", max_pixels)
    rgb = load_image(image, max_pixels=max_pixels)
    h, w = rgb.shape[:2]
    if upscale != 1.0:
        import cv2

        size = (max(1, int(round(w * upscale))), max(1, int(round(h * upscale))))
        if size[0] * size[1] > max_pixels:
            raise ValueError(f"upscale={upscale!r}: the {w} x {h} image would become "
                             f"{size[0]} x {size[1]} pixels, more than max_pixels={max_pixels:,}")
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR if upscale > 1 else cv2.INTER_AREA)
    sx, sy = rgb.shape[1] / w, rgb.shape[0] / h
    if min(rgb.shape[:2]) < 12:         # smaller than any detector window: no face can be found
        return []
    if threshold is None:
        threshold = _DEFAULT_THRESHOLD[method]
    search = None if min_size is None else max(1, int(min_size * min(sx, sy)))
    raw = _DETECTORS[method](rgb, search, threshold)
    faces = []
    for (x, y, bw, bh), score, kps in raw:
        if threshold is not None and score < threshold:
            continue
        if min_confidence is not None and score < min_confidence:
            continue
        x0, y0 = max(0.0, x / sx), max(0.0, y / sy)
        x1, y1 = min(float(w), (x + bw) / sx), min(float(h), (y + bh) / sy)
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        if min_size is not None and max(bw / sx, bh / sy) < min_size:
            continue
        if kps is not None:
            kps = {k: (float(px) / sx, float(py) / sy) for k, (px, py) in kps.items()}
        faces.append(Face((x0, y0, x1 - x0, y1 - y0), score, kps, method))
    return sorted(faces, key=lambda f: -f.score)


def _number(name: str, value) -> float:
    """``value`` as a finite float, or a ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value):
        raise ValueError(f"{name}={value!r}: expected a finite number")
    return float(value)


def _positive_int(name: str, value) -> int:
    """``value`` as an int >= 1 (whole floats such as 40.0 are accepted), or a ValueError."""
    number = _number(name, value)
    if number < 1 or number != int(number):
        raise ValueError(f"{name}={value!r}: expected a whole number >= 1")
    return int(number)


def detect_batch(images, method: str = "haar", *, progress: bool = False, **options) -> list[list[Face]]:
    """:func:`detect` over a sequence of images (or an N x H x W [x C] array): one list per image."""
    from tqdm.auto import tqdm

    return [detect(img, method, **options)
            for img in tqdm(images, desc=f"detect ({method})", disable=not progress, leave=False)]


# --- the three back ends: each returns [((x, y, w, h), score, keypoints or None), ...] -------------

@functools.cache
def _haar_cascade():
    import cv2

    path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"{path}: expected an OpenCV Haar cascade (opencv-python-headless<5 ships it)")
    return cascade


def _haar(rgb: np.ndarray, min_size: int | None, threshold: float | None):
    grey = to_grey(rgb)
    kwargs = {"minSize": (min_size, min_size)} if min_size else {}
    boxes, _, weights = _haar_cascade().detectMultiScale3(
        grey, scaleFactor=1.1, minNeighbors=5, outputRejectLevels=True, **kwargs)
    return [(tuple(b), float(s), None) for b, s in zip(np.reshape(boxes, (-1, 4)), np.ravel(weights))]


@functools.cache
def _hog_detector():
    import dlib

    return dlib.get_frontal_face_detector()


def _hog(rgb: np.ndarray, min_size: int | None, threshold: float | None):
    adjust = 0.0 if threshold is None else min(0.0, threshold)
    rects, scores, _ = _hog_detector().run(rgb, 1, adjust)
    return [((r.left(), r.top(), r.width(), r.height()), float(s), None) for r, s in zip(rects, scores)]


@functools.cache
def _mtcnn_detector():
    from emolib.config import quiet_tensorflow

    quiet_tensorflow()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mtcnn import MTCNN

        return MTCNN()


def _mtcnn(rgb: np.ndarray, min_size: int | None, threshold: float | None):
    # mtcnn 1.0 builds a broken scale pyramid (a PNet input below 12 px, which raises) for some
    # image sizes when min_face_size is not its default of 20; shrinking the image by
    # 20 / min_size instead searches the same face sizes safely. (Below 20 px, ``upscale`` is
    # the way: enlarging here could exhaust memory.)
    scale = 1.0
    if min_size and min_size > 20:
        import cv2

        scale = 20.0 / min_size
        h, w = rgb.shape[:2]
        size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
        if min(size) < 12:
            return []
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        scale = rgb.shape[1] / w
    kwargs = {"threshold_onet": threshold} if threshold is not None and threshold < 0.8 else {}
    found = _mtcnn_detector().detect_faces(rgb, **kwargs)
    return [(tuple(v / scale for v in f["box"]), float(f["confidence"]),
             {k: (float(x) / scale, float(y) / scale) for k, (x, y) in f["keypoints"].items()})
            for f in found]


_DETECTORS = {"haar": _haar, "hog": _hog, "mtcnn": _mtcnn}
