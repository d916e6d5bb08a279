"""One face crop per frame, with NTechLab's fallback: when no face is found, use the whole frame."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["ClipFaces", "clip_faces", "DETECTORS"]

DETECTORS = ("centre", "box", "haar", "hog", "mtcnn")


@dataclass(frozen=True)
class ClipFaces:
    """Per-frame crops (``T x size x size x 3`` uint8), the box used in each frame (x, y, w, h;
    the whole frame where no face was found) and whether a face was found there."""

    crops: np.ndarray
    boxes: np.ndarray
    found: np.ndarray

    @property
    def n_missing(self) -> int:
        """Frames in which no face was found (their crop is the fallback)."""
        return int((~self.found).sum())

    def __len__(self) -> int:
        return len(self.crops)


def _box_of(face) -> tuple[int, int, int, int]:
    box = getattr(face, "box", face)
    x, y, w, h = (int(round(float(v))) for v in box)
    return x, y, w, h


def _detector_fn(detector) -> Callable:
    if callable(detector):
        return detector
    try:
        from ..faces import detect
    except ImportError as err:  # pragma: no cover - emolib.faces ships with the package
        raise ImportError(f"detector={detector!r} needs emolib.faces.detect: {err}") from None
    return lambda frame: detect(frame, method=detector)


def _crop(frame: np.ndarray, box, margin: float, size: int) -> np.ndarray:
    import cv2

    H, W = frame.shape[:2]
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)                 # square crop around the box centre
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = int(round(cx + side / 2)), int(round(cy + side / 2))
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if x1 - x0 < 2 or y1 - y0 < 2:
        x0, y0, x1, y1 = 0, 0, W, H
    return cv2.resize(frame[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)


def clip_faces(frames: np.ndarray, *, detector: str | Callable = "centre", size: int = 64,
               margin: float = 0.0, box: tuple[int, int, int, int] | None = None,
               centre_fraction: float = 0.7, fallback: str = "frame") -> ClipFaces:
    """Crop one face per frame of ``frames`` (``T x H x W x 3`` RGB uint8) to ``size x size``.

    ``detector``:
      - ``"haar"``, ``"hog"`` or ``"mtcnn"``: :func:`emolib.faces.detect` on each frame; the
        largest face is kept;
      - a callable ``frame -> list of Face or (x, y, w, h)``: the same, with your detector;
      - ``"box"``: the known box ``box`` in every frame (e.g. from a tracker, or sample data);
      - ``"centre"``: the central square covering ``centre_fraction`` of the shorter side, for
        clips framed on one face (the sample clips). Every frame then counts as having a face.

    ``margin`` widens each box by that fraction of its side on every edge. Where no face is
    found, ``fallback="frame"`` uses the whole frame ({cite}`knyazev2017convolutional`) and ``"previous"`` the last box
    found in the clip (the whole frame before any). ``ClipFaces.n_missing`` counts those frames.
    """
    import cv2

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0 or frames.dtype != np.uint8:
        raise ValueError(f"frames: expected a non-empty T x H x W x 3 uint8 array, got shape "
                         f"{frames.shape} and dtype {frames.dtype}")
    if not (isinstance(size, (int, np.integer)) and size >= 8):
        raise ValueError(f"size: expected an integer >= 8, got {size!r}")
    if fallback not in ("frame", "previous"):
        raise ValueError(f"fallback: expected 'frame' or 'previous', got {fallback!r}")
    if margin < 0:
        raise ValueError(f"margin: expected >= 0, got {margin}")
    T, H, W = frames.shape[:3]
    if isinstance(detector, str) and detector not in DETECTORS:
        raise ValueError(f"detector: expected one of {DETECTORS} or a callable, got {detector!r}")
    if detector == "box":
        if box is None or len(box) != 4 or box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"box: expected (x, y, w, h) with positive w and h for detector='box', got {box!r}")
        fixed = _box_of(box)
    elif detector == "centre":
        if not 0 < centre_fraction <= 1:
            raise ValueError(f"centre_fraction: expected a value in (0, 1], got {centre_fraction}")
        side = int(round(min(H, W) * centre_fraction))
        fixed = ((W - side) // 2, (H - side) // 2, side, side)
    else:
        fixed = None
        find = _detector_fn(detector)

    crops = np.empty((T, size, size, 3), np.uint8)
    boxes = np.empty((T, 4), np.int64)
    found = np.zeros(T, bool)
    last = None
    whole = (0, 0, W, H)
    for t, frame in enumerate(frames):
        if fixed is not None:
            b, found[t] = fixed, True
        else:
            faces = [_box_of(f) for f in find(frame)]
            faces = [f for f in faces if f[2] > 0 and f[3] > 0]
            if faces:
                b = max(faces, key=lambda f: f[2] * f[3])
                found[t], last = True, b
            else:
                b = last if (fallback == "previous" and last is not None) else None
        if b is None:
            crops[t] = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
            boxes[t] = whole
        else:
            crops[t] = _crop(frame, b, margin, size)
            boxes[t] = b
    return ClipFaces(crops, boxes, found)
