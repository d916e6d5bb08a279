"""Non-face cleaning: flag dataset images that are not faces (blank frames, text, logos, icons).

Three signals, each cheap:

1. **HOG face score.** Each image is resized to 96 x 96 (48 x 48 FER2013 crops are upscaled
   2x, so a face filling the crop matches the 80 x 80 window of dlib's HOG detector) and the
   detector is run with its threshold lowered to -2.5. The score of the best candidate, or
   ``NO_CANDIDATE`` (-3) when there is none, says how face-like the image is.
2. **Dominant grey level.** The largest share of pixels that fall within 9 consecutive grey
   levels. Text on a page, icons and placeholder graphics are mostly one flat background.
3. **Low variance.** The standard deviation of the pixels: blank and uniform frames.

An image is flagged when its HOG score is below ``hog_threshold``, or its dominant grey level
covers more than ``max_dominant`` of the pixels, or its pixel standard deviation is below
``min_std``. :func:`low_variance` alone is the trivial baseline the cleaner is measured against.

The defaults were chosen on the FER2013 *Training* rows against FER+'s "not a face" majority
votes (``benchmarks/bench_non_face_cleaning.py`` repeats the search and reports PublicTest and
all rows; ``results/non_face_cleaning.json`` holds the figures).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["find_non_faces", "face_signals", "low_variance", "hog_face_scores", "dominant_share",
           "FaceSignals", "flag_metrics", "tune_cleaner", "tune_low_variance", "HOG_THRESHOLD",
           "MAX_DOMINANT", "MIN_STD", "NO_CANDIDATE", "SCORE_SIZE"]

HOG_THRESHOLD = -1.8     # best HOG candidate scoring below this: not a face
MAX_DOMINANT = 0.65      # more than this share of pixels within 9 grey levels: not a face
MIN_STD = 5.0            # pixel standard deviation below this (0-255 scale): blank
NO_CANDIDATE = -3.0      # HOG score of an image without any candidate above -2.5
SCORE_SIZE = 96          # side the images are resized to before HOG detection
_HOG_FLOOR = -2.5
_DOMINANT_WINDOW = 9


class FaceSignals(NamedTuple):
    """Per-image signals behind :func:`find_non_faces` (each an array of N floats)."""

    hog: np.ndarray        # best HOG candidate score (NO_CANDIDATE when none)
    dominant: np.ndarray   # share of pixels within 9 grey levels of the commonest band
    std: np.ndarray        # pixel standard deviation, 0-255 scale


def _grey_images(data) -> list[np.ndarray] | np.ndarray:
    """FaceDataset, N x H x W [x 3] uint8 array, or a sequence of images -> grey uint8 images."""
    from .image import to_grey

    images = getattr(data, "images", data)
    if isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 3:
        return images
    if isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 4 \
            and images.shape[-1] == 3:
        w = np.array([0.299, 0.587, 0.114])
        return np.clip(np.rint(images @ w), 0, 255).astype(np.uint8)
    if isinstance(images, np.ndarray) and images.ndim not in (3, 4):
        raise ValueError(f"images: expected N x H x W or N x H x W x 3, got shape {images.shape}")
    return [to_grey(img) for img in images]


def low_variance(data, min_std: float = MIN_STD) -> np.ndarray:
    """The baseline: flag images whose pixel standard deviation is below ``min_std``."""
    grey = _grey_images(data)
    return _std(grey) < min_std


def _std(grey) -> np.ndarray:
    if isinstance(grey, np.ndarray):
        return grey.reshape(len(grey), -1).std(axis=1) if len(grey) else np.zeros(0)
    return np.array([g.std() for g in grey], dtype=np.float64)


def dominant_share(data, window: int = _DOMINANT_WINDOW) -> np.ndarray:
    """For each image, the largest share of its pixels within ``window`` consecutive grey levels."""
    grey = _grey_images(data)
    if not isinstance(grey, np.ndarray):
        return np.array([dominant_share(g[None], window)[0] for g in grey], dtype=np.float64)
    n, pixels = len(grey), grey[0].size if len(grey) else 1
    flat = grey.reshape(n, -1).astype(np.int64) + 256 * np.arange(n)[:, None]
    hist = np.bincount(flat.ravel(), minlength=256 * n).reshape(n, 256)
    cum = np.concatenate([np.zeros((n, 1), np.int64), hist.cumsum(axis=1)], axis=1)
    return (cum[:, window:] - cum[:, :-window]).max(axis=1) / pixels


def hog_face_scores(data, *, size: int = SCORE_SIZE, progress: bool = False) -> np.ndarray:
    """The best HOG face-candidate score of each image resized to ``size x size``."""
    import cv2
    from tqdm.auto import tqdm

    from .detect import _hog_detector

    detector = _hog_detector()
    grey = _grey_images(data)
    scores = np.empty(len(grey), dtype=np.float64)
    for i, img in enumerate(tqdm(grey, desc="HOG face scores", disable=not progress, leave=False)):
        interp = cv2.INTER_LINEAR if img.shape[0] < size else cv2.INTER_AREA
        big = cv2.resize(img, (size, size), interpolation=interp)
        _, found, _ = detector.run(big, 0, _HOG_FLOOR)
        scores[i] = max(found) if len(found) else NO_CANDIDATE
    return scores


def face_signals(data, *, size: int = SCORE_SIZE, progress: bool = False) -> FaceSignals:
    """All three signals of :func:`find_non_faces`, to inspect or to tune thresholds on."""
    grey = _grey_images(data)
    return FaceSignals(hog_face_scores(grey, size=size, progress=progress), dominant_share(grey),
                       _std(grey))


def find_non_faces(dataset, *, hog_threshold: float = HOG_THRESHOLD, max_dominant: float = MAX_DOMINANT,
                   min_std: float = MIN_STD, signals: FaceSignals | None = None,
                   progress: bool = False) -> np.ndarray:
    """Flag the images of ``dataset`` that are not faces; returns N bools (True = not a face).

    Args:
        dataset: a :class:`~emolib.data.FaceDataset`, an N x H x W [x 3] uint8 array, or a
            sequence of images (anything :func:`~emolib.faces.load_image` takes).
        hog_threshold: flag when the best HOG candidate scores below this.
        max_dominant: flag when more than this share of pixels sit within 9 grey levels.
        min_std: flag when the pixel standard deviation is below this.
        signals: precomputed :func:`face_signals` of the same images (skips the detector).
        progress: show a tqdm bar while scoring.

    Keep the faces with ``dataset.subset(~find_non_faces(dataset))``.
    """
    if not -3.0 <= hog_threshold <= 3.0:
        raise ValueError(f"hog_threshold={hog_threshold!r}: expected a HOG score in [-3, 3]")
    if not 0.0 < max_dominant <= 1.0:
        raise ValueError(f"max_dominant={max_dominant!r}: expected a share in (0, 1]")
    if min_std < 0:
        raise ValueError(f"min_std={min_std!r}: expected a non-negative standard deviation")
    if signals is None:
        signals = face_signals(dataset, progress=progress)
    elif len(signals.hog) != len(getattr(dataset, "images", dataset)):
        raise ValueError(f"signals: expected one value per image ({len(getattr(dataset, 'images', dataset))}), "
                         f"got {len(signals.hog)}")
    return (signals.hog < hog_threshold) | (signals.dominant > max_dominant) | (signals.std < min_std)


# --- measuring and tuning against ground truth -----------------------------------------------------

def flag_metrics(flags, truth) -> dict:
    """Precision, recall and F1 of ``flags`` (True = not a face) against ``truth``, with counts."""
    flags, truth = np.asarray(flags, bool), np.asarray(truth, bool)
    if flags.shape != truth.shape:
        raise ValueError(f"flags and truth: expected the same shape, got {flags.shape} and {truth.shape}")
    tp = int((flags & truth).sum())
    fp = int((flags & ~truth).sum())
    fn = int((~flags & truth).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": int(flags.size), "positives": int(truth.sum()), "flagged": int(flags.sum()),
            "tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


def tune_low_variance(std, truth, grid=None) -> float:
    """The ``min_std`` of the baseline with the best F1 on (std, truth); the largest on ties, which
    is the most generous to the baseline when it meets new data."""
    std, truth = np.asarray(std, float), np.asarray(truth, bool)
    grid = np.arange(0.5, 40.01, 0.5) if grid is None else np.asarray(grid, float)
    f1 = np.array([flag_metrics(std < t, truth)["f1"] for t in grid])
    return float(grid[np.flatnonzero(f1 == f1.max())[-1]])


def tune_cleaner(signals: FaceSignals, truth, *, min_std: float = MIN_STD, hog_grid=None,
                 dominant_grid=None) -> dict:
    """Grid-search ``hog_threshold`` and ``max_dominant`` for the best F1 on ``truth``.

    Returns ``{"hog_threshold", "max_dominant", "min_std", "f1"}``. On ties the stricter setting
    (fewer flags) wins. Tune on one split and measure on another.
    """
    truth = np.asarray(truth, bool)
    hog_grid = np.round(np.arange(-2.5, -0.99, 0.05), 2) if hog_grid is None else np.asarray(hog_grid)
    dominant_grid = (np.round(np.arange(0.40, 1.001, 0.02), 2) if dominant_grid is None
                     else np.asarray(dominant_grid))
    base = signals.std < min_std
    best = (-1.0, 0, 0.0, 0.0)
    for h in hog_grid:
        by_hog = base | (signals.hog < h)
        for d in dominant_grid:
            flags = by_hog | (signals.dominant > d)
            f1 = flag_metrics(flags, truth)["f1"]
            key = (f1, -int(flags.sum()))
            if key > best[:2]:
                best = (f1, -int(flags.sum()), float(h), float(d))
    return {"hog_threshold": best[2], "max_dominant": best[3], "min_std": float(min_std), "f1": best[0]}
