"""The AFEW layout (EmotiW audio-video sub-challenge): ``Train|Val/<Emotion>/*.avi``.

AFEW is obtained on request from the EmotiW organisers and never redistributed; the sample
profile writes clips in the same layout with :func:`emolib.data.sample.write_sample_clips`.
The NTechLab paper (Knyazev et al. 2017) gives the counts: 773 train, 383 val and 653 test clips.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataFormatError, DataNotFoundError
from .classes import AFEW_CLASSES

__all__ = ["AFEW_CLASSES", "AFEW_SPLITS", "AFEW_COUNTS", "AfewClips", "load_afew", "find_afew",
           "AFEW_HINT"]

AFEW_SPLITS = ("Train", "Val")
# Seed 001, Table 5 (EmotiW 2017), in AFEW_CLASSES order: An Di Fe Ha Ne Sa Su.
AFEW_COUNTS = {
    "Train": (133, 74, 81, 150, 144, 117, 74),
    "Val": (64, 40, 46, 63, 63, 61, 46),
    "Test": (98, 40, 70, 144, 193, 80, 28),
}
AFEW_HINT = ("AFEW is available on request from the EmotiW organisers; unpack it so that "
             "DATA_DIR holds Train/<Emotion>/*.avi and Val/<Emotion>/*.avi")
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".mov", ".webm")
# Folder spellings seen in AFEW releases, lower-cased.
_SPLIT_NAMES = {"Train": ("train", "train_afew", "training"), "Val": ("val", "val_afew", "valid", "validation")}


@dataclass(frozen=True)
class AfewClips:
    """An index of clips: ``paths``, ``labels`` (into ``classes``) and ``splits``, one entry per clip."""

    paths: tuple[Path, ...]
    labels: np.ndarray
    splits: np.ndarray
    classes: tuple[str, ...] = AFEW_CLASSES
    root: Path | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def split(self, name: str) -> AfewClips:
        """The clips of one split ("Train" or "Val")."""
        if name not in AFEW_SPLITS:
            raise ValueError(f"split: expected one of {AFEW_SPLITS}, got {name!r}")
        keep = np.flatnonzero(self.splits == name)
        return AfewClips(tuple(self.paths[i] for i in keep), self.labels[keep], self.splits[keep],
                         self.classes, self.root)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, counts)}


def _split_dir(root: Path, split: str) -> Path | None:
    names = _SPLIT_NAMES[split]
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.lower() in names:
            return child
    return None


def load_afew(root: str | os.PathLike, splits: tuple[str, ...] | str = AFEW_SPLITS,
              extensions: tuple[str, ...] = VIDEO_EXTENSIONS) -> AfewClips:
    """Index the clips under ``root`` in the AFEW layout ``Train|Val/<Emotion>/*.avi``.

    Split folders may also be spelt ``Train_AFEW``/``Val_AFEW`` (any case); emotion folders must be
    the seven AFEW names (any case). Files are sorted by path so the index is deterministic.
    Raises ``DataNotFoundError`` when ``root`` or a requested split is missing and
    ``DataFormatError`` for an unknown emotion folder or a split without clips.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataNotFoundError(root, AFEW_HINT)
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    bad = [s for s in splits if s not in AFEW_SPLITS]
    if bad:
        raise ValueError(f"splits {bad}: expected some of {AFEW_SPLITS}")
    lower = {c.lower(): i for i, c in enumerate(AFEW_CLASSES)}
    ext = tuple(e.lower() for e in extensions)
    paths, labels, split_of = [], [], []
    for split in splits:
        folder = _split_dir(root, split)
        if folder is None:
            raise DataNotFoundError(root / split, AFEW_HINT)
        n_before = len(paths)
        for emotion_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            if emotion_dir.name.lower() not in lower:
                raise DataFormatError(emotion_dir, f"an emotion folder named one of {AFEW_CLASSES}",
                                      got=emotion_dir.name)
            for f in sorted(emotion_dir.iterdir()):
                if f.is_file() and f.suffix.lower() in ext:
                    paths.append(f)
                    labels.append(lower[emotion_dir.name.lower()])
                    split_of.append(split)
        if len(paths) == n_before:
            raise DataFormatError(folder, f"video files ({', '.join(ext)}) in <Emotion>/ sub-folders",
                                  got="no clips")
    return AfewClips(tuple(paths), np.array(labels, np.int64), np.array(split_of), AFEW_CLASSES, root)


def find_afew(data_dir: str | os.PathLike) -> Path:
    """The AFEW root in ``data_dir``: ``data_dir`` itself or its ``AFEW``/``afew`` sub-folder."""
    data_dir = Path(data_dir).expanduser()
    for cand in (data_dir, data_dir / "AFEW", data_dir / "afew"):
        if cand.is_dir() and _split_dir(cand, "Train") is not None:
            return cand
    raise DataNotFoundError(data_dir / "Train", AFEW_HINT)
