"""Downloads: sha256-checked, atomic, never touching the network in tests."""
import hashlib
import io
import urllib.request

import pytest

from emolib.data import download_ferplus_labels, fetch, instructions
from emolib.data.download import FERPLUS_URL
from emolib.errors import DownloadError


class FakeResponse(io.BytesIO):
    headers = {"Content-Length": None}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def served(monkeypatch):
    """Serve ``payload`` for any URL and record the requested URLs."""
    state = {"payload": b"", "urls": []}

    def urlopen(url, timeout=None):
        state["urls"].append(url)
        return FakeResponse(state["payload"])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return state


def test_fetch_writes_the_file_when_the_hash_matches(tmp_path, served):
    served["payload"] = b"votes"
    out = fetch("https://example.invalid/x", hashlib.sha256(b"votes").hexdigest(), tmp_path / "x.csv",
                progress=False)
    assert out.read_bytes() == b"votes"


def test_fetch_rejects_a_wrong_hash_and_keeps_the_old_file(tmp_path, served):
    dest = tmp_path / "x.csv"
    dest.write_bytes(b"the user's file")
    served["payload"] = b"tampered"
    with pytest.raises(DownloadError, match="expected sha256"):
        fetch("https://example.invalid/x", "0" * 64, dest, progress=False)
    assert dest.read_bytes() == b"the user's file"
    assert not list(tmp_path.glob(".*part"))


def test_fetch_skips_the_network_when_the_file_is_already_there(tmp_path, served):
    dest = tmp_path / "x.csv"
    dest.write_bytes(b"votes")
    fetch("https://example.invalid/x", hashlib.sha256(b"votes").hexdigest(), dest, progress=False)
    assert served["urls"] == []


def test_ferplus_download_asks_for_the_ferplus_url(tmp_path, served):
    served["payload"] = b"not the real file"
    with pytest.raises(DownloadError):
        download_ferplus_labels(tmp_path / "fer2013new.csv", progress=False)
    assert served["urls"] == [FERPLUS_URL]


def test_network_failure_is_a_download_error(tmp_path, monkeypatch):
    def refuse(url, timeout=None):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(DownloadError, match="download failed"):
        fetch("https://example.invalid/x", "0" * 64, tmp_path / "x", progress=False)


def test_instructions_cover_the_account_only_datasets():
    assert "Kaggle" in instructions("fer2013")
    assert "EmotiW" in instructions("gaf") and "EmotiW" in instructions("afew")
    with pytest.raises(ValueError):
        instructions("imagenet")
