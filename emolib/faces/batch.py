"""Face crops to a model's input batch: the one resize and colour conversion every model uses.

Training (:mod:`emolib.models.input_pipeline`, :mod:`emolib.models.training`) and serving
(:mod:`emolib.models.pretrained`) both call :func:`to_batch`, so the same face gives the same
pixels at both times. The rule is recorded with saved models as :data:`RESIZE`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ImageReadError

__all__ = ["to_batch", "RESIZE"]

RESIZE = "opencv-area-down-linear-up"
"""How :func:`to_batch` resizes: OpenCV area averaging when shrinking, bilinear when enlarging."""


def _crops(images) -> Sequence:
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise ImageReadError("faces", "a list of crops or an array N x H x W[x C]",
                                 f"an array of shape {images.shape}")
        return images
    if isinstance(images, (list, tuple)):
        return images
    raise ImageReadError("faces", "a list of face crops or an array N x H x W[x C]",
                         type(images).__name__)


def _as_float(crop, i: int) -> np.ndarray:
    crop = np.asarray(crop)
    if crop.ndim == 3 and crop.shape[2] == 1:
        crop = crop[:, :, 0]
    if crop.ndim not in (2, 3) or (crop.ndim == 3 and crop.shape[2] not in (3, 4)):
        raise ImageReadError(f"faces[{i}]", "a grey H x W, H x W x 1 or RGB(A) H x W x 3(4) crop",
                             f"shape {crop.shape}")
    if crop.shape[0] < 1 or crop.shape[1] < 1:
        raise ImageReadError(f"faces[{i}]", "a non-empty crop", f"shape {crop.shape}")
    if crop.dtype != np.uint8:
        if not np.issubdtype(crop.dtype, np.number) or not np.isfinite(crop).all() \
                or crop.min() < 0 or crop.max() > 255:
            raise ImageReadError(f"faces[{i}]", "uint8 pixels or numbers within 0..255",
                                 f"dtype {crop.dtype}")
    if crop.ndim == 3 and crop.shape[2] == 4:
        crop = crop[:, :, :3]
    return np.ascontiguousarray(crop, np.float32)


def to_batch(images, size: int | tuple[int, int], channels: int = 3) -> np.ndarray:
    """Face crops as a float32 batch N x height x width x ``channels`` of 0-255 values.

    Args:
        images: a list of crops (each H x W grey, H x W x 1, H x W x 3 RGB or H x W x 4 RGBA, any
            size) or an array N x H x W or N x H x W x C; uint8, or numbers within 0..255.
        size: the side, or (height, width), of the model input.
        channels: 1 (grey, ITU-R 601 luma of RGB) or 3 (RGB; grey is repeated).

    Crops are converted to float32 first, then to the channels, then resized (:data:`RESIZE`).
    A batch already at the size and channels keeps its values exactly.

    Raises:
        ImageReadError: a crop of the wrong shape, empty, or with values outside 0..255.
    """
    import cv2

    if channels not in (1, 3):
        raise ValueError(f"channels: expected 1 or 3, got {channels}")
    height, width = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    crops = _crops(images)
    if isinstance(crops, np.ndarray):
        whole = crops[..., None] if crops.ndim == 3 else crops
        if whole.shape[1:] == (height, width, channels):   # already the model's layout
            if whole.dtype != np.uint8:
                for i in range(len(whole)):
                    _as_float(whole[i], i)
            return whole.astype(np.float32)
    out = np.empty((len(crops), height, width, channels), np.float32)
    for i, crop in enumerate(crops):
        crop = _as_float(crop, i)
        if channels == 1 and crop.ndim == 3:
            crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        elif channels == 3 and crop.ndim == 2:
            crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB)
        if crop.shape[:2] != (height, width):
            shrink = crop.shape[0] > height or crop.shape[1] > width
            crop = cv2.resize(crop, (width, height),
                              interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        out[i] = crop.reshape(height, width, channels)
    return out
