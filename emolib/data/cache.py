"""Cache of parsed arrays under EMOLIB_HOME, keyed by the source file's sha256."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from pathlib import Path

import numpy as np

from ..config import emolib_home

__all__ = ["file_sha256", "cache_dir", "load_cached", "save_cached", "remove_cached"]

log = logging.getLogger(__name__)


def cache_dir(kind: str = "arrays") -> Path:
    d = emolib_home() / kind
    d.mkdir(parents=True, exist_ok=True)
    return d


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """sha256 of a file. Memoised by (path, size, mtime), so an unchanged file is hashed once."""
    path = Path(path).resolve()
    st = path.stat()
    memo = cache_dir("hashes") / (hashlib.sha1(str(path).encode()).hexdigest() + ".json")
    stamp = [st.st_size, st.st_mtime_ns]
    try:
        saved = json.loads(memo.read_text())
        if saved["stamp"] == stamp:
            return saved["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    digest = h.hexdigest()
    _atomic_write(memo, json.dumps({"path": str(path), "stamp": stamp, "sha256": digest}).encode())
    return digest


def _atomic_write(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def load_cached(key: str) -> dict[str, np.ndarray] | None:
    """Arrays saved under ``key``, or None.

    A damaged entry (truncated, or not an ``.npz`` of plain arrays) is logged as a warning and
    deleted, so the caller rebuilds it.
    """
    path = cache_dir() / f"{key}.npz"
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, AttributeError) as e:
        log.warning("damaged cache file %s (%s: %s); deleting it, it will be rebuilt",
                    path, type(e).__name__, e)
        remove_cached(key)
        return None


def remove_cached(key: str) -> None:
    """Delete the entry saved under ``key``, if any."""
    (cache_dir() / f"{key}.npz").unlink(missing_ok=True)


def save_cached(key: str, **arrays: np.ndarray) -> Path:
    """Save arrays under ``key`` (uncompressed, so reloads are fast), atomically."""
    path = cache_dir() / f"{key}.npz"
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return path
