"""Downloads with sha256 checks, and instructions for datasets that need an account."""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import urllib.request
from pathlib import Path

from ..config import emolib_home
from ..errors import DownloadError
from .cache import file_sha256

__all__ = ["fetch", "download_ferplus_labels", "instructions", "FERPLUS_URL", "FERPLUS_SHA256"]

FERPLUS_URL = "https://raw.githubusercontent.com/microsoft/FERPlus/master/fer2013new.csv"
FERPLUS_SHA256 = "9206e20d62f56475939f516847d61753e4860caeac9718b560129541b776fc2c"

_INSTRUCTIONS = {
    "fer2013": (
        "FER2013 cannot be downloaded without a Kaggle account.\n"
        "  1. Sign in at kaggle.com and accept the rules of 'Challenges in Representation Learning:\n"
        "     Facial Expression Recognition Challenge'.\n"
        "  2. Download fer2013.tar.gz (it holds fer2013.csv, 35,887 rows) or run\n"
        "     `kaggle competitions download -c challenges-in-representation-learning-facial-expression-recognition-challenge`.\n"  # noqa: E501
        "  3. Pass its path, the tarball itself or the CSV inside: load_fer2013('/path/to/fer2013.tar.gz'),\n"
        "     or set DATA_DIR in a notebook."),
    "ferplus": "Run emolib.data.download_ferplus_labels() (MIT licence, sha256-checked).",
    "gaf": (
        "EmotiW GAF (Group Affect Database 3.0) is given on request by the EmotiW organisers\n"
        "  (https://sites.google.com/view/emotiw2020) and may not be redistributed. Unpack it as\n"
        "  DATA_DIR/train|val/<Positive|Neutral|Negative>/*.jpg and set DATA_DIR."),
    "afew": (
        "EmotiW AFEW is given on request by the EmotiW organisers after signing its licence.\n"
        "  Unpack it as DATA_DIR/Train|Val/<Angry|Disgust|Fear|Happy|Neutral|Sad|Surprise>/*.avi."),
}


def instructions(dataset: str) -> str:
    """How to obtain ``dataset`` ("fer2013", "ferplus", "gaf", "afew")."""
    try:
        return _INSTRUCTIONS[dataset.lower()]
    except KeyError:
        raise ValueError(f"dataset {dataset!r}: expected one of {sorted(_INSTRUCTIONS)}") from None


def fetch(url: str, sha256: str, dest: str | os.PathLike, *, progress: bool = True,
          timeout: float = 60) -> Path:
    """Download ``url`` to ``dest`` unless a file with the right sha256 is already there.

    Writes to a temporary file and renames it only after the hash matches, so a failed or
    corrupt download never replaces an existing file.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    if dest.exists() and file_sha256(dest) == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress,
                      file=sys.stderr) as bar:
                while block := response.read(1 << 16):
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"{url}: download failed ({e}); {dest} was left as it was") from e
    if h.hexdigest() != sha256:
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"{url}: expected sha256 {sha256}, got {h.hexdigest()}; "
                            f"{dest} was left as it was")
    shutil.move(tmp, dest)
    return dest


def download_ferplus_labels(dest: str | os.PathLike | None = None, *, progress: bool = True) -> Path:
    """Fetch FER+'s ``fer2013new.csv`` (microsoft/FERPlus, MIT) into the cache, sha256-checked."""
    dest = Path(dest) if dest else emolib_home() / "datasets" / "ferplus" / "fer2013new.csv"
    return fetch(FERPLUS_URL, FERPLUS_SHA256, dest, progress=progress)
