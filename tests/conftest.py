"""Shared test setup: quiet TensorFlow, headless plots, and a private EMOLIB_HOME per session."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_emolib_home(tmp_path_factory):
    """Tests never read or write the user's cache."""
    home = tmp_path_factory.mktemp("emolib_home")
    old = os.environ.get("EMOLIB_HOME")
    os.environ["EMOLIB_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("EMOLIB_HOME", None)
    else:
        os.environ["EMOLIB_HOME"] = old
