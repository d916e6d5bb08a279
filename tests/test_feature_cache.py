"""emolib.features.cache: cached frozen-backbone features (hits, misses on every key field, repair)."""
from __future__ import annotations

import numpy as np
import pytest

from emolib.errors import ImageReadError
from emolib.features.cache import Extractor, extract_features


class Counting:
    """A fake frozen network: per-channel means of the batch, counting its calls."""

    def __init__(self, name="fake", weights="w" * 64):
        self.calls = 0
        self.extractor = Extractor(name, weights, self)

    def __call__(self, batch):
        self.calls += 1
        assert batch.dtype == np.uint8 and batch.ndim == 4 and batch.shape[-1] == 3
        return batch.reshape(len(batch), -1, 3).mean(axis=1) + batch.shape[1]


@pytest.fixture
def faces():
    return np.random.default_rng(0).integers(0, 256, (10, 48, 48), dtype=np.uint8)


@pytest.fixture
def net():
    return Counting()


def run(net, faces, tmp_path, **kw):
    kw = {"size": 32, "batch_size": 4, "progress": False, "cache_dir": tmp_path, **kw}
    return extract_features(net.extractor, faces, **kw)


def test_features_have_one_row_per_face(net, faces, tmp_path):
    assert run(net, faces, tmp_path).shape == (10, 3)
    assert net.calls == 3            # 10 faces in batches of 4


def test_cache_hit_returns_the_identical_array_without_calling_the_network(net, faces, tmp_path):
    first = run(net, faces, tmp_path)
    calls = net.calls
    second = run(net, faces, tmp_path)
    assert net.calls == calls
    np.testing.assert_array_equal(second, first)
    assert second.dtype == first.dtype == np.float32


@pytest.mark.parametrize("change", ["data", "backbone", "weights", "layer", "size", "augment"])
def test_any_key_change_misses_the_cache(change, faces, tmp_path):
    base = Counting()
    run(base, faces, tmp_path)
    other, kw, data = base, {}, faces
    if change == "data":
        data = faces.copy()
        data[0, 0, 0] ^= 1
    elif change in ("backbone", "weights"):
        other = Counting(name="other") if change == "backbone" else Counting(weights="v" * 64)
    elif change == "layer":
        kw = {"layer": "AvgPool"}
    elif change == "size":
        kw = {"size": 40}
    else:
        kw = {"augment": "flip"}
    calls = other.calls
    run(other, data, tmp_path, **kw)
    assert other.calls > calls


def test_corrupt_cache_file_is_rebuilt(net, faces, tmp_path, caplog):
    first = run(net, faces, tmp_path)
    (path,) = tmp_path.glob("fake-*.npz")
    path.write_bytes(b"not an npz file")
    calls = net.calls
    again = run(net, faces, tmp_path)
    assert net.calls > calls and "unreadable" in caplog.text
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(run(net, faces, tmp_path), first)   # and the rebuilt file is read


def test_flip_augmentation_mirrors_the_faces(faces, tmp_path):
    seen = []
    ext = Extractor("mirror", "w" * 64, lambda b: (seen.append(b.copy()), b.reshape(len(b), -1)[:, :2])[1])
    extract_features(ext, faces[:2], size=48, augment="flip", progress=False, cache_dir=tmp_path)
    np.testing.assert_array_equal(seen[0][0, :, :, 0], faces[0][:, ::-1])


def test_grey_faces_are_resized_and_copied_to_rgb(faces, tmp_path):
    seen = []
    ext = Extractor("shape", "w" * 64, lambda b: (seen.append(b.shape), np.zeros((len(b), 1)))[1])
    extract_features(ext, faces, size=20, batch_size=16, progress=False, cache_dir=tmp_path)
    assert seen == [(10, 20, 20, 3)]


def test_progress_bar_goes_to_stderr_only_when_asked(net, faces, tmp_path, capsys):
    run(net, faces, tmp_path / "a", progress=True)
    assert "fake features" in capsys.readouterr().err
    run(net, faces, tmp_path / "b", progress=False)
    assert capsys.readouterr().err == ""


def test_keras_model_backbone_is_cached_by_its_weights(faces, tmp_path):
    keras = pytest.importorskip("keras")
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, name="conv")(inputs), name="tiny")
    a = extract_features(model, faces, size=32, progress=False, cache_dir=tmp_path)
    assert a.shape == (10, 4)                      # the feature map is averaged over space
    model.get_layer("conv").set_weights([w + 1 for w in model.get_layer("conv").get_weights()])
    b = extract_features(model, faces, size=32, progress=False, cache_dir=tmp_path)
    assert not np.allclose(a, b) and len(list(tmp_path.glob("tiny-*.npz"))) == 2


@pytest.mark.parametrize("kwargs, error", [({"augment": "rotate"}, ValueError), ({"size": 8}, ValueError),
                                           ({"batch_size": 0}, ValueError)])
def test_rejects_bad_arguments(net, faces, tmp_path, kwargs, error):
    with pytest.raises(error):
        run(net, faces, tmp_path, **kwargs)


def test_rejects_float_faces_naming_the_dtype(net, tmp_path):
    with pytest.raises(ImageReadError, match="float64"):
        run(net, np.zeros((2, 48, 48)), tmp_path)


def test_unknown_backbone_name_is_refused(faces, tmp_path):
    with pytest.raises(ValueError, match="backbone"):
        extract_features("vggface", faces, progress=False, cache_dir=tmp_path)


def test_dlib_resnet_gives_cached_128_d_descriptors(tmp_path):
    pytest.importorskip("dlib")
    from skimage import data

    crop = np.ascontiguousarray(data.astronaut()[64:171, 182:265][:100, :80])
    faces = np.stack([crop, crop[:, ::-1]])
    a = extract_features("dlib_resnet", faces, size=100, progress=False, cache_dir=tmp_path)
    assert a.shape == (2, 128) and np.isfinite(a).all()
    assert len(list(tmp_path.glob("dlib_resnet-*.npz"))) == 1
