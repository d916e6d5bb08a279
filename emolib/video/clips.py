"""Which clips a video chapter reads: the sample profile's drawn clips, or AFEW from ``data_dir``."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..config import Profile
from ..data.afew import AFEW_HINT, AfewClips, find_afew, load_afew
from ..data.sample import write_sample_clips
from ..errors import DataNotFoundError

__all__ = ["load_clips"]


def load_clips(profile: Profile, data_dir: str | os.PathLike | None = None, *,
               dest: str | os.PathLike | None = None) -> AfewClips:
    """Index the clips a profile trains and validates on.

    The sample profile writes ``profile.n_clips`` drawn clips (seeded by ``profile.seed``) in the
    AFEW layout under ``dest`` (default: a new temporary folder) and ignores ``data_dir``. Every
    other profile reads AFEW from ``data_dir`` (the folder itself or its ``AFEW`` sub-folder).
    The returned index's ``root`` is the folder the clips are in.

    Raises:
        DataNotFoundError: a non-sample profile without ``data_dir``, or no AFEW layout there.
    """
    if profile.is_sample:
        root = Path(dest) if dest is not None else Path(tempfile.mkdtemp(prefix="afew_sample_"))
        write_sample_clips(root, profile.n_clips, seed=profile.seed)
        return load_afew(root)
    if data_dir is None:
        raise DataNotFoundError(f"DATA_DIR (profile {profile.name!r})",
                                "set it to the folder holding AFEW's Train/ and Val/. " + AFEW_HINT)
    return load_afew(find_afew(data_dir))
