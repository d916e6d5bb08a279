"""One way in for every image: a path, raw bytes, a PIL image or an array becomes RGB uint8.

Grey, grey+alpha, RGB and RGBA inputs are accepted, 8- or 16-bit (16-bit is scaled to 8 bits),
or floating point, and the EXIF orientation of files and PIL images is applied. Pixel values map
to 0..255 as follows:

- uint8 as is; uint16 (and 16-bit PNG/TIFF files) divided by 257, so 65535 becomes 255;
- float values in [0, 1] (arrays, 32-bit float TIFFs) multiplied by 255;
- float *files* whose values exceed 1 but lie within [0, 255] are taken as 0..255 values (a float
  TIFF written from 8-bit data); any other float range (negative, above 255, NaN or infinite) is
  refused with the range found, never stretched silently.

Anything else raises :class:`~emolib.errors.ImageReadError`, naming the source and what was
expected.
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
                             else "a directory" if path.is_dir() else "not a regular file")
    if path.stat().st_size == 0:
        raise ImageReadError(path, "an image file (PNG, JPEG, BMP, TIFF, ...)", got="an empty file")
    try:
        fh = open(path, "rb")
    except OSError as err:                       # permissions, a file vanished meanwhile
        raise ImageReadError(path, "a readable image file",
                             got=f"{type(err).__name__}: {err.strerror or err}") from None
    with fh:
        return _from_pil_source(fh, path, max_pixels)


def _from_pil_source(fh, source, max_pixels: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(fh) as im:          # reads the header only
            _check_pixels(source, im.width, im.height, max_pixels)
            return _from_pil(im, source, max_pixels)
    except UnidentifiedImageError:
        fh.seek(0)
        if fh.read(4) in _TIFF_MAGIC:            # float RGB TIFFs, which Pillow cannot read
            fh.seek(0)
            return _from_tiff(fh, source, max_pixels)
        raise ImageReadError(source, "an image file (PNG, JPEG, BMP, TIFF, ...)",
                             got="bytes no image decoder recognises") from None
    except Image.DecompressionBombError as err:
        raise ImageReadError(source, f"at most {max_pixels:,} pixels", got=str(err)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        if isinstance(err, ImageReadError):
            raise
        raise ImageReadError(source, "a complete, decodable image file",
                             got=f"{type(err).__name__}: {err}") from None


_TIFF_MAGIC = (b"II*\0", b"MM\0*")


def _from_tiff(fh, source, max_pixels: int) -> np.ndarray:
    """A TIFF that Pillow cannot decode (e.g. 3-channel float32), read with tifffile."""
    import tifffile

    try:
        with tifffile.TiffFile(fh) as tif:
            page = tif.pages[0]
            shape = page.shape
            if len(shape) == 3 and shape[0] in (3, 4) and shape[2] not in (3, 4):
                shape = shape[1:] + shape[:1]    # planar: channels first
            if len(shape) >= 2:
                _check_pixels(source, shape[1], shape[0], max_pixels)
            arr = page.asarray()
    except ImageReadError:
        raise
    except Exception as err:                     # tifffile raises many types for bad files
        raise ImageReadError(source, "a complete, decodable TIFF file",
                             got=f"{type(err).__name__}: {err}") from None
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[2] not in (3, 4):
        arr = np.moveaxis(arr, 0, 2)
    if np.issubdtype(arr.dtype, np.floating):
        arr = _float_file_to_uint8(arr, source)
    return _from_array(arr, source, max_pixels)


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
            return _from_array(_float_file_to_uint8(arr, source), source, max_pixels)
        if mode == "I" and (arr.min() < 0 or arr.max() > 65535):
            raise ImageReadError(source, "pixel values in 0..65535 for a 32-bit integer image",
                                 got=f"{arr.min()}..{arr.max()}")
        return _from_array(arr.astype(np.uint16), source, max_pixels)
    try:
        converted = im.convert("RGBA" if "A" in mode or "transparency" in im.info else "RGB")
    except (ValueError, OSError) as err:
        raise ImageReadError(source, "an image mode convertible to RGB", got=f"mode {mode}: {err}") from None
    return _from_array(np.asarray(converted), source, max_pixels)


def _float_file_to_uint8(arr: np.ndarray, source) -> np.ndarray:
    """A float image file (PIL mode F): [0, 1] scales by 255, (1, 255] is taken as 0..255."""
    finite = bool(np.isfinite(arr).all())
    lo, hi = (float(arr.min()), float(arr.max())) if finite else (np.nan, np.nan)
    if not finite or lo < 0 or hi > 255:
        raise ImageReadError(source, "float pixel values in [0, 1] (or within 0..255)",
                             got=f"values in {lo:.4g}..{hi:.4g}" if finite else "NaN or infinite values")
    if hi <= 1.0:
        return _to_uint8(arr, source)
    return np.round(arr).astype(np.uint8)


def _check_pixels(source, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageReadError(source, f"at most {max_pixels:,} pixels (the max_pixels limit; "
                                     "--max-pixels on the command line)",
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
