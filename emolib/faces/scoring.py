"""Scoring a face detector against annotated boxes: greedy IoU matching, recall and precision."""
from __future__ import annotations

from collections.abc import Sequence

from .detect import iou

__all__ = ["match_detections", "recall_precision"]


def match_detections(found: Sequence, truth: Sequence, *, min_iou: float = 0.3) -> tuple[int, int, int]:
    """``(true positives, false positives, misses)`` of ``found`` boxes against ``truth`` boxes.

    Boxes are (x, y, w, h); ``found`` may also hold :class:`~emolib.faces.Face` objects and
    should come most confident first. Each found box takes the unmatched true box it overlaps
    most, if that overlap reaches ``min_iou``. The default 0.3 allows for detectors that draw
    the face differently (square HOG boxes, brow-to-chin MTCNN boxes).
    """
    if not 0 < min_iou <= 1:
        raise ValueError(f"min_iou={min_iou!r}: expected a number in (0, 1]")
    free = [tuple(t) for t in truth]
    tp = 0
    for f in found:
        box = getattr(f, "box", f)
        best = max(free, key=lambda t: iou(box, t), default=None)
        if best is not None and iou(box, best) >= min_iou:
            free.remove(best)
            tp += 1
    return tp, len(found) - tp, len(free)


def recall_precision(tp: int, fp: int, fn: int) -> tuple[float, float]:
    """Recall and precision from counts (1.0 where nothing could be missed or found wrongly)."""
    recall = tp / (tp + fn) if tp + fn else 1.0
    precision = tp / (tp + fp) if tp + fp else 1.0
    return recall, precision
