"""One way in for every image: a path, raw bytes, a PIL image or an array becomes RGB uint8.

Grey, grey+alpha, RGB and RGBA inputs are accepted, 8- or 16-bit (16-bit is scaled to 8 bits),
and the EXIF orientation of files and PIL images is applied. Anything else raises
:class:`~emolib.errors.ImageReadError`, naming the source and what was expected.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from ..errors import ImageReadError

__all__ = ["load_image", "to_grey", "MAX_PIXELS"]

# Larger images are refused before they are decoded (a 50-megapixel RGB image is 150 MB).
MAX_PIXELS = 50_000_000

_ARRAY_EXPECTED = ("a non-empty H x W, H x W x 1, H x W x 2, H x W x 3 or H x W x 4 array "
                   "of uint8, uint16 or float in [0, 1]")


def load_image(src, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Return ``src`` as a C-contiguous RGB ``uint8`` array of shape H x W x 3.

    Args:
        src: a file path (str or PathLike), the encoded bytes of a file, a ``PIL.Image.Image`` or a
            numpy array (H x W grey, H x W x 1, H x W x 2 grey+alpha, H x W x 3 RGB, H x W x 4
            RGBA; dtype uint8, uint16, or float with values in [0, 1]).
        max_pixels: images with more than this many pixels are refused before decoding.

    Alpha is dropped (the colour channels are kept as they are); 16-bit values are divided by
    257 so 65535 maps to 255. An array that is already RGB uint8 and contiguous is returned
    as is, without a copy.

    Raises:
        ImageReadError: missing or undecodable file, unsupported dtype or shape, empty array,
            or more than ``max_pixels`` pixels.
    """
    if isinstance(src, (str, os.PathLike)):
        return _from_file(Path(src), max_pixels)
    if isinstance(src, (bytes, bytearray, memoryview)):
        return _from_pil_source(io.BytesIO(bytes(src)), "<bytes>", max_pixels)
    if isinstance(src, np.ndarray):
        return _from_array(src, "<array>", max_pixels)
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        Image = None
    if Image is not None and isinstance(src, Image.Image):
        return _from_pil(src, f"<PIL {src.mode} image>", max_pixels)
    raise ImageReadError(f"<{type(src).__name__}>", "a path, bytes, a PIL image or a numpy array",
                         got=type(src).__name__)


def to_grey(image) -> np.ndarray:
    """``image`` (anything :func:`load_image` takes) as an H x W uint8 grey array (ITU-R 601 luma)."""
    if isinstance(image, np.ndarray) and image.ndim == 2 and image.dtype == np.uint8 and image.size:
        return image
    import cv2

    return cv2.cvtColor(load_image(image), cv2.COLOR_RGB2GRAY)


def _from_file(path: Path, max_pixels: int) -> np.ndarray:
    if not path.is_file():
        raise ImageReadError(path, "an existing image file", got="no such file" if not path.exists()
                             else "a directory")
    if path.stat().st_size == 0:
        raise ImageReadError(path, "an image file (PNG, JPEG, BMP, TIFF, ...)", got="an empty file")
    with open(path, "rb") as fh:
        return _from_pil_source(fh, path, max_pixels)


def _from_pil_source(fh, source, max_pixels: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(fh) as im:          # reads the header only
            _check_pixels(source, im.width, im.height, max_pixels)
            return _from_pil(im, source, max_pixels)
    except UnidentifiedImageError:
        raise ImageReadError(source, "an image file (PNG, JPEG, BMP, TIFF, ...)",
                             got="bytes no image decoder recognises") from None
    except Image.DecompressionBombError as err:
        raise ImageReadError(source, f"at most {max_pixels:,} pixels", got=str(err)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        if isinstance(err, ImageReadError):
            raise
        raise ImageReadError(source, "a complete, decodable image file",
                             got=f"{type(err).__name__}: {err}") from None


def _from_pil(im, source, max_pixels: int) -> np.ndarray:
    from PIL import ImageOps

    _check_pixels(source, im.width, im.height, max_pixels)
    im = ImageOps.exif_transpose(im)  # decodes the pixels; rotates when EXIF says so
    mode = im.mode
    if mode in ("RGB", "L", "LA", "RGBA"):
        return _from_array(np.asarray(im), source, max_pixels)
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im)
        if mode == "F":
            return _from_array(np.clip(arr, 0, 255).astype(np.uint8), source, max_pixels)
        if mode == "I" and (arr.min() < 0 or arr.max() > 65535):
            raise ImageReadError(source, "pixel values in 0..65535 for a 32-bit integer image",
                                 got=f"{arr.min()}..{arr.max()}")
        return _from_array(arr.astype(np.uint16), source, max_pixels)
    try:
        converted = im.convert("RGBA" if "A" in mode or "transparency" in im.info else "RGB")
    except (ValueError, OSError) as err:
        raise ImageReadError(source, "an image mode convertible to RGB", got=f"mode {mode}: {err}") from None
    return _from_array(np.asarray(converted), source, max_pixels)


def _check_pixels(source, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageReadError(source, f"at most {max_pixels:,} pixels (raise max_pixels to allow more)",
                             got=f"{width} x {height} = {width * height:,} pixels")


def _from_array(arr: np.ndarray, source, max_pixels: int) -> np.ndarray:
    if arr.size == 0:
        raise ImageReadError(source, _ARRAY_EXPECTED, got=f"an empty array of shape {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (2, 3, 4))):
        raise ImageReadError(source, _ARRAY_EXPECTED, got=f"shape {arr.shape}")
    _check_pixels(source, arr.shape[1], arr.shape[0], max_pixels)
    arr = _to_uint8(arr, source)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif arr.shape[2] == 2:                      # grey + alpha
        arr = np.repeat(arr[..., :1], 3, axis=2)
    elif arr.shape[2] == 4:                      # RGBA
        arr = arr[..., :3]
    return np.ascontiguousarray(arr)


def _to_uint8(arr: np.ndarray, source) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.uint16:
        return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        lo, hi = (float(arr.min()), float(arr.max())) if np.isfinite(arr).all() else (np.nan, np.nan)
        if not (0.0 <= lo and hi <= 1.0):
            raise ImageReadError(source, "float pixel values in [0, 1] (or use uint8 for 0..255)",
                                 got=f"{arr.dtype} values in {lo:.4g}..{hi:.4g}")
        return np.round(arr * 255).astype(np.uint8)
    raise ImageReadError(source, _ARRAY_EXPECTED + " (convert with .astype(np.uint8) if values are 0..255)",
                         got=f"dtype {arr.dtype}")
