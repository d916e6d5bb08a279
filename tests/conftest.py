"""Shared test setup: quiet TensorFlow, headless plots, and a private EMOLIB_HOME per session."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest

from emolib.config import quiet_tensorflow

quiet_tensorflow()


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


@pytest.fixture(scope="session")
def astronaut():
    """The astronaut photo scikit-image ships (a real face, RGB uint8, 512 x 512)."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def make_faces():
    """Build a :class:`FaceDataset` from images and labels: ``make_faces(images, labels,
    classes=None, usage="Training")`` (classes default to FER2013's; usage a string or array)."""
    import numpy as np

    from emolib.data import FaceDataset

    def build(images, labels, classes=None, usage="Training", **kwargs):
        labels = np.asarray(labels, np.int64)
        usage = np.full(len(labels), usage, dtype="U11") if isinstance(usage, str) else np.asarray(usage)
        if classes is None:
            return FaceDataset(np.asarray(images), labels, usage, **kwargs)
        return FaceDataset(np.asarray(images), labels, usage, tuple(classes), **kwargs)

    return build


@pytest.fixture(scope="session")
def stripes_task():
    """An easy 2-class image task: ``stripes_task(n, seed=0, size=16) -> (images, labels)``,
    horizontal (0) or vertical (1) stripes with random phase, contrast and noise."""
    import numpy as np

    def stripes(n, seed=0, size=16):
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, 2, n)
        yy, xx = np.mgrid[0:size, 0:size]
        images = np.empty((n, size, size), np.uint8)
        for i, c in enumerate(labels):
            coord = yy if c == 0 else xx
            wave = np.sin(coord * rng.uniform(0.8, 1.2) + rng.uniform(0, 6.3))
            images[i] = np.clip(128 + rng.uniform(40, 100) * wave + rng.normal(0, 10, (size, size)), 0, 255)
        return images, labels

    return stripes
