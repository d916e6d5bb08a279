"""FER2013 as image folders: the Kaggle class-folder tree ("msambare") and the FER+ PNG layout.

Images are decoded by Pillow to 48x48 uint8 grey. Readable types: jpg, jpeg, png, bmp, gif
(first frame), webp, tif/tiff, pgm/ppm/pnm. Other files in a class folder (notes, ``.DS_Store``)
are skipped, counted and logged as one warning per folder. 16-bit images are scaled to 8 bits
(x / 257, rounded); float images in [0, 1] are scaled by 255, those in [0, 255] are rounded.
"""
from __future__ import annotations

import csv
import io
import logging
import warnings
from pathlib import Path

import numpy as np

from .. import FER2013_CLASSES
from ..errors import DataFormatError
from .dataset import FaceDataset
from .textio import read_small_text

__all__ = ["read_class_folders", "read_ferplus_tree", "read_image_grey48", "IMAGE_SUFFIXES",
           "FERPLUS_SPLITS"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff",
                            ".pgm", ".ppm", ".pnm"})
FERPLUS_SPLITS = {"FER2013Train": "Training", "FER2013Valid": "PublicTest", "FER2013Test": "PrivateTest"}
_FOLDER_CLASSES = {name: i for i, name in enumerate(FER2013_CLASSES)}
_EXPECTED = "a readable image file (" + "/".join(sorted(s[1:] for s in IMAGE_SUFFIXES)) + ")"


def _to_uint8(file: Path, im) -> np.ndarray:
    """One grey uint8 array from a decoded image of any Pillow mode."""
    if im.mode.startswith("I;16"):
        return np.rint(np.asarray(im, np.float64) / 257).astype(np.uint8)
    if im.mode in ("I", "F"):
        a = np.asarray(im, np.float64)
        if not np.isfinite(a).all():
            raise DataFormatError(file, "finite grey values", got=f"mode {im.mode} with NaN or infinity")
        if a.min() < 0:
            raise DataFormatError(file, "grey values 0-255, 0-65535 or 0.0-1.0",
                                  got=f"mode {im.mode} values {a.min()}..{a.max()}")
        top = a.max()
        if im.mode == "F" and top <= 1.0:
            a = a * 255
        elif top > 255:
            if top > 65535:
                raise DataFormatError(file, "grey values 0-255, 0-65535 or 0.0-1.0",
                                      got=f"mode {im.mode} values up to {top}")
            a = a / 257
        return np.rint(a).astype(np.uint8)
    return np.asarray(im.convert("L"), np.uint8)


def read_image_grey48(file: Path) -> np.ndarray:
    """A 48x48 uint8 grey image from ``file``; any decoding failure names the file."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as im:
                im.seek(0)
                grey = _to_uint8(file, im)
    except DataFormatError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataFormatError(file, "a 48x48 face image (Pillow refuses images this large: a "
                              "possible decompression bomb)", got=str(e)) from e
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as e:
        raise DataFormatError(file, _EXPECTED, got=f"{type(e).__name__}: {e}") from e
    if grey.shape != (48, 48):
        grey = np.asarray(Image.fromarray(grey).resize((48, 48), Image.BILINEAR), np.uint8)
    return grey


def _usage_from_name(file: Path, top: str) -> str:
    prefix = file.stem.split("_", 1)[0]
    if prefix in FERPLUS_SPLITS.values():
        return prefix
    return "Training" if top == "train" else "PublicTest"


def read_class_folders(root: Path) -> FaceDataset:
    """``root/train|test/<class>/*.jpg`` (Kaggle msambare); the split comes from the top folder,
    or from a ``Training_``/``PublicTest_``/``PrivateTest_`` name prefix."""
    images, labels, usages = [], [], []
    for top in ("train", "test"):
        if not (root / top).is_dir():
            continue
        for folder in sorted(p for p in (root / top).iterdir() if p.is_dir()):
            if folder.name.lower() not in _FOLDER_CLASSES:
                raise DataFormatError(folder, f"a class folder named one of {sorted(_FOLDER_CLASSES)}",
                                      got=folder.name)
            skipped = []
            for file in sorted(folder.iterdir()):
                if file.suffix.lower() not in IMAGE_SUFFIXES or file.name.startswith("."):
                    skipped.append(file.name)
                    continue
                images.append(read_image_grey48(file))
                labels.append(_FOLDER_CLASSES[folder.name.lower()])
                usages.append(_usage_from_name(file, top))
            if skipped:
                log.warning("%s: skipped %d files that are not images (%s)", folder, len(skipped),
                            ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else ""))
    if not images:
        raise DataFormatError(root, "image files under train/<class>/ or test/<class>/", got="none")
    return FaceDataset(np.stack(images), np.array(labels, np.int64), np.array(usages, "U11"),
                       FER2013_CLASSES, str(root))


def read_ferplus_tree(root: Path) -> FaceDataset:
    """``root/FER2013Train|Valid|Test/`` with PNGs and ``label.csv`` (name, box, 10 votes).

    Labels are the vote argmax over the 10 FER+ columns; a row without any vote is labelled
    ``unknown`` (never ``neutral``, the first column), so FER+'s label modes drop it.
    """
    from .ferplus import FERPLUS_COLUMNS, UNKNOWN

    images, votes, usages = [], [], []
    for folder, usage in FERPLUS_SPLITS.items():
        split = root / folder
        if not split.is_dir():
            continue
        label_csv = split / "label.csv"
        if not label_csv.exists():
            raise DataFormatError(label_csv, "a label.csv beside the PNGs (name,box,10 votes)",
                                  got="no such file")
        for row_no, row in enumerate(csv.reader(io.StringIO(read_small_text(label_csv))), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 12:
                raise DataFormatError(label_csv, "12 fields: name, box, 10 vote counts",
                                      row=row_no, got=f"{len(row)} fields")
            try:
                v = [int(x) for x in row[2:]]
            except ValueError:
                raise DataFormatError(label_csv, "integer vote counts", row=row_no,
                                      field="votes", got=row[2:]) from None
            if min(v) < 0:
                raise DataFormatError(label_csv, "vote counts >= 0", row=row_no, field="votes", got=v)
            images.append(read_image_grey48(split / row[0].strip()))
            votes.append(v)
            usages.append(usage)
    if not images:
        raise DataFormatError(root, "PNG files listed in FER2013*/label.csv", got="none")
    votes = np.array(votes, np.int64)
    labels = np.where(votes.sum(axis=1) > 0, votes.argmax(axis=1), UNKNOWN)
    return FaceDataset(np.stack(images), labels, np.array(usages, "U11"), FERPLUS_COLUMNS, str(root),
                       votes=votes)
