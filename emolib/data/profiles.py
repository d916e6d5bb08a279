"""One loader per notebook: the embedded sample faces, or the real FER2013 under DATA_DIR."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..config import Profile
from ..config import profile as get_profile
from ..errors import DataNotFoundError
from .dataset import FaceDataset

__all__ = ["load_faces", "find_fer2013", "find_ferplus_votes"]

_CANDIDATES = ("fer2013.csv.gz", "fer2013.csv", "fer2013/fer2013.csv.gz", "fer2013/fer2013.csv",
               "fer2013.tar.gz", "fer2013.zip", "fer2013", "FERPlus", "ferplus")   # the Kaggle tarball too


def find_fer2013(data_dir: str | os.PathLike) -> Path:
    """The FER2013 file or folder in ``data_dir`` (or ``data_dir`` itself when it is one)."""
    data_dir = Path(data_dir).expanduser()
    if data_dir.is_file():
        return data_dir
    for name in _CANDIDATES:
        if (data_dir / name).exists():
            return data_dir / name
    if (data_dir / "train").is_dir() or (data_dir / "FER2013Train").is_dir():
        return data_dir
    from .fer2013 import FER2013_HINT

    raise DataNotFoundError(data_dir / "fer2013.csv.gz", FER2013_HINT)


def load_faces(profile: str | Profile = "sample", data_dir: str | os.PathLike | None = None,
               *, usage=None, seed: int | None = None) -> FaceDataset:
    """The faces a notebook works on: procedural sample faces, or FER2013 from ``data_dir``."""
    p = get_profile(profile) if isinstance(profile, str) else profile
    if p.data == "embedded":
        from .sample import sample_faces

        ds = sample_faces(p.n_faces, seed=p.seed if seed is None else seed)
        return ds if usage is None else ds.subset(np.isin(ds.usage, [usage] if isinstance(usage, str) else usage))
    if data_dir is None:
        raise ValueError(f"profile {p.name!r} reads real data: set DATA_DIR to the folder holding "
                         "fer2013.csv(.gz)")
    from .fer2013 import load_fer2013

    ds = load_fer2013(find_fer2013(data_dir), usage=usage, progress=p.progress)
    return ds.subset(slice(0, p.n_faces)) if p.n_faces else ds


def find_ferplus_votes(data_dir: str | os.PathLike) -> Path:
    """FER+'s ``fer2013new.csv`` in ``data_dir`` (or its ``ferplus/`` folder, or the cache)."""
    from ..config import emolib_home

    data_dir = Path(data_dir).expanduser()
    for candidate in (data_dir / "fer2013new.csv", data_dir / "ferplus" / "fer2013new.csv",
                      data_dir.parent / "ferplus" / "fer2013new.csv",
                      emolib_home() / "datasets" / "ferplus" / "fer2013new.csv"):
        if candidate.is_file():
            return candidate
    raise DataNotFoundError(data_dir / "fer2013new.csv",
                            "Get it with emolib.data.download_ferplus_labels()")
