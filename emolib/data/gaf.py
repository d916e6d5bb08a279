"""Reader for the EmotiW Group Affect (GAF) layout: ``train|val/<Positive|Neutral|Negative>/*.jpg``.

GAF is obtained on request from the EmotiW organisers and never redistributed, so emolib only
reads a copy the user points at. Images are listed, not decoded: a GAF split holds thousands of
full-size photos, and the group pipeline loads each one when it needs it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataFormatError, DataNotFoundError
from .classes import GROUP_CLASSES

__all__ = ["GafDataset", "load_gaf", "GAF_SPLITS", "GAF_HINT"]

GAF_SPLITS = ("train", "val")
GAF_HINT = ("the EmotiW Group Affect (GAF) database is available on request from the EmotiW "
            "organisers; point DATA_DIR at the folder holding train/ and val/, each with Positive/, "
            "Neutral/ and Negative/ image folders (see data/README.md)")
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


@dataclass(frozen=True, eq=False)
class GafDataset:
    """Group photos listed from a GAF copy.

    Attributes:
        paths: N image paths.
        labels: int64 array of N class indices into ``classes`` (Positive, Neutral, Negative).
        split: N split names ("train" or "val").
        classes: class names in index order (``GROUP_CLASSES``).
        root: the folder the dataset was read from.
    """

    paths: tuple[Path, ...]
    labels: np.ndarray
    split: np.ndarray
    classes: tuple[str, ...] = GROUP_CLASSES
    root: Path | None = None

    def __post_init__(self):
        n = len(self.paths)
        if len(self.labels) != n or len(self.split) != n:
            raise ValueError(f"labels/split: expected {n} entries (one per path), "
                             f"got {len(self.labels)} and {len(self.split)}")

    def __len__(self) -> int:
        return len(self.paths)

    def __repr__(self) -> str:
        counts = {str(s): int(k) for s, k in zip(*np.unique(self.split, return_counts=True))}
        return f"GafDataset(n={len(self)}, splits={counts}, root={str(self.root)!r})"

    def subset(self, index) -> GafDataset:
        """Rows selected by a boolean mask or integer index."""
        idx = np.arange(len(self))[index]
        return GafDataset(tuple(self.paths[i] for i in idx), self.labels[idx], self.split[idx],
                          self.classes, self.root)

    def only(self, split: str) -> GafDataset:
        """The rows of one split, e.g. ``ds.only("val")``."""
        if split not in set(self.split):
            raise ValueError(f"split {split!r} not in this dataset: expected one of {sorted(set(self.split))}")
        return self.subset(self.split == split)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(k) for c, k in zip(self.classes, counts)}

    def image(self, i: int) -> np.ndarray:
        """Image ``i`` decoded as RGB uint8 (via ``emolib.faces.load_image``)."""
        from ..faces import load_image

        return load_image(self.paths[i])


def _find_child(parent: Path, name: str) -> Path | None:
    """The sub-folder of ``parent`` named ``name``, matched case-insensitively."""
    exact = parent / name
    if exact.is_dir():
        return exact
    for child in parent.iterdir():
        if child.is_dir() and child.name.lower() == name.lower():
            return child
    return None


def load_gaf(root: str | os.PathLike, split: str | list[str] | None = None) -> GafDataset:
    """List a GAF copy: ``root/train|val/<Positive|Neutral|Negative>/*.jpg``.

    Args:
        root: the folder holding ``train/`` and/or ``val/`` (folder names match case-insensitively).
        split: "train", "val", a list of them, or None for every split present.

    Raises:
        DataNotFoundError: ``root`` does not exist.
        DataFormatError: a split or class folder is missing, a class folder has an unexpected
            name, or a class folder holds no images; the message names the folder.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DataNotFoundError(root, GAF_HINT)
    if not root.is_dir():
        raise DataFormatError(root, "a folder holding train/ and val/ (the GAF layout)", got="a file")
    wanted = GAF_SPLITS if split is None else ([split] if isinstance(split, str) else list(split))
    bad = [s for s in wanted if s not in GAF_SPLITS]
    if bad:
        raise ValueError(f"split {bad}: expected some of {GAF_SPLITS}")
    present = {s: _find_child(root, s) for s in wanted}
    if split is None:
        present = {s: d for s, d in present.items() if d is not None}
        if not present:
            raise DataFormatError(root, "a train/ or val/ folder (the GAF layout "
                                  "train|val/<Positive|Neutral|Negative>/*.jpg)",
                                  got=sorted(p.name for p in root.iterdir())[:8])
    else:
        for s, d in present.items():
            if d is None:
                raise DataFormatError(root / s, "a split folder (the GAF layout "
                                      "train|val/<Positive|Neutral|Negative>/*.jpg)")
    paths, labels, splits = [], [], []
    for s, folder in present.items():
        known = {c.lower() for c in GROUP_CLASSES}
        extra = [d.name for d in folder.iterdir() if d.is_dir() and d.name.lower() not in known]
        if extra:
            raise DataFormatError(folder, f"only class folders {list(GROUP_CLASSES)}", got=sorted(extra))
        for k, name in enumerate(GROUP_CLASSES):
            class_dir = _find_child(folder, name)
            if class_dir is None:
                raise DataFormatError(folder / name, f"a class folder of images for {name!r}")
            files = sorted(p for p in class_dir.iterdir()
                           if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES)
            if not files:
                raise DataFormatError(class_dir, f"image files ({', '.join(sorted(_IMAGE_SUFFIXES))})",
                                      got="none")
            paths += files
            labels += [k] * len(files)
            splits += [s] * len(files)
    return GafDataset(tuple(paths), np.array(labels, np.int64), np.array(splits, dtype="U5"),
                      GROUP_CLASSES, root)
