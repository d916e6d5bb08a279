"""emolib.models.facenet: the Inception-ResNet-v1 port, its weight loading and preprocessing."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from emolib.data.cache import file_sha256  # noqa: E402
from emolib.errors import WeightsError  # noqa: E402
from emolib.models import facenet  # noqa: E402
from emolib.models.facenet import FaceNet, preprocess_input  # noqa: E402

SIZE = facenet.MIN_SIZE  # the smallest input keeps the tests fast; weight shapes do not depend on it

# Measured once on the real facenet_keras.h5 (sha256 6acdd8fb...a0af) by summing the sizes of every
# dataset under its model_weights group with h5py (BatchNorm moving statistics included).
ORIGINAL_PARAMETERS = 22_808_144
# The same file's weights, as sha256(json.dumps(sorted([layer, weight, shape] ...))) with the weight
# name cut to its last part ("Conv2d_1a_3x3_BatchNorm/beta:0" -> "beta"): 490 tensors, so every
# layer name, weight and shape of the port is the original's (random-weight fixtures cannot show it).
ORIGINAL_WEIGHTS_FINGERPRINT = "43ed19e07c9c71ef80f85cc5d4edbf006f9f75c6849c068cb526af95e5247993"


def write_keras2_file(model, path, *, whole_model: bool = True, seed: int = 0, shape_override=None):
    """Write random weights for ``model`` in Keras 2.1.2's HDF5 layout; return {layer: arrays}.

    ``whole_model`` puts them under ``model_weights`` beside a ``model_config`` attribute, as in
    the original FaceNet file; otherwise ``layer_names`` sits at the root (``save_weights``).
    ``shape_override`` = (layer, index, shape) writes one array with a wrong shape.
    """
    rng = np.random.default_rng(seed)
    written = {}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.1.2"
        f.attrs["backend"] = b"tensorflow"
        if whole_model:
            f.attrs["model_config"] = json.dumps({"class_name": "Model", "config": {}}).encode()
            group = f.create_group("model_weights")
        else:
            group = f
        group.attrs["layer_names"] = np.array([layer.name.encode() for layer in model.layers])
        for layer in model.layers:
            g = group.create_group(layer.name)
            names, arrays = [], []
            for i, var in enumerate(layer.weights):
                shape = tuple(var.shape)
                if shape_override and shape_override[:2] == (layer.name, i):
                    shape = shape_override[2]
                arr = rng.standard_normal(shape).astype(np.float32)
                if "variance" in var.name:
                    arr = np.abs(arr) + 0.5
                name = f"{layer.name}/{var.name}:0"
                g.create_dataset(name, data=arr)
                names.append(name.encode())
                arrays.append(arr)
            g.attrs["weight_names"] = np.array(names, dtype="S") if names else np.array([], dtype="S")
            if arrays:
                written[layer.name] = arrays
    return written


@pytest.fixture(scope="module")
def small_model():
    return FaceNet(include_top=True, weights=None, input_shape=(SIZE, SIZE, 3))


@pytest.fixture(scope="module")
def original_layout_file(small_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("facenet") / "facenet_keras.h5"
    return path, write_keras2_file(small_model, path, whole_model=True)


def test_loads_every_tensor_of_a_whole_model_file_exactly(original_layout_file):
    path, written = original_layout_file
    model = FaceNet(include_top=True, weights=path, input_shape=(SIZE, SIZE, 3))
    loaded = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
    assert loaded.keys() == written.keys()
    for name, arrays in written.items():
        for got, want in zip(loaded[name], arrays, strict=True):
            np.testing.assert_array_equal(got, want, err_msg=name)


def test_loads_a_weights_only_file(small_model, tmp_path):
    path = tmp_path / "weights_only.h5"
    written = write_keras2_file(small_model, path, whole_model=False, seed=1)
    model = FaceNet(include_top=True, weights=path, input_shape=(SIZE, SIZE, 3))
    np.testing.assert_array_equal(model.get_layer("Block8_6_Conv2d_1x1").get_weights()[0],
                                  written["Block8_6_Conv2d_1x1"][0])


def test_model_without_top_loads_from_a_file_with_top(original_layout_file):
    path, written = original_layout_file
    model = FaceNet(include_top=False, weights=path, input_shape=(SIZE, SIZE, 3))
    np.testing.assert_array_equal(model.get_layer("Conv2d_1a_3x3").get_weights()[0], written["Conv2d_1a_3x3"][0])


def test_truncated_file_raises_weights_error_naming_the_file(original_layout_file, tmp_path):
    path, _ = original_layout_file
    cut = tmp_path / "cut.h5"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="cut.h5"):
        FaceNet(weights=cut, input_shape=(SIZE, SIZE, 3))


def test_shape_mismatch_names_the_layer_and_both_shapes(small_model, tmp_path):
    path = tmp_path / "bad.h5"
    write_keras2_file(small_model, path, shape_override=("Conv2d_2b_3x3", 0, (3, 3, 32, 63)))
    with pytest.raises(WeightsError) as err:
        FaceNet(weights=path, input_shape=(SIZE, SIZE, 3))
    msg = str(err.value)
    assert "bad.h5" in msg and "Conv2d_2b_3x3" in msg
    assert "(3, 3, 32, 64)" in msg and "(3, 3, 32, 63)" in msg


def test_failed_load_leaves_the_model_untouched(small_model, tmp_path):
    path = tmp_path / "bad.h5"
    write_keras2_file(small_model, path, shape_override=("Block8_6_Conv2d_1x1", 0, (1, 1, 384, 1)))
    from emolib.models.h5weights import load_keras2_weights

    before = small_model.get_layer("Conv2d_1a_3x3").get_weights()[0].copy()
    with pytest.raises(WeightsError):
        load_keras2_weights(small_model, path)
    np.testing.assert_array_equal(small_model.get_layer("Conv2d_1a_3x3").get_weights()[0], before)


def test_parameter_count_equals_the_original_file(small_model):
    assert small_model.count_params() == ORIGINAL_PARAMETERS


def test_layer_names_weights_and_shapes_are_those_of_the_original_file(small_model):
    import hashlib

    items = sorted([layer.name, var.name, list(var.shape)] for layer in small_model.layers for var in layer.weights)
    assert len(items) == 490
    assert hashlib.sha256(json.dumps(items).encode()).hexdigest() == ORIGINAL_WEIGHTS_FINGERPRINT


def test_only_the_last_block_has_no_activation(small_model):
    names = {layer.name for layer in small_model.layers}
    assert "Block8_5_Activation" in names and "Block8_6_Activation" not in names


def test_has_the_21_scaled_residual_layers_of_the_original(small_model):
    scaled = [layer for layer in small_model.layers if isinstance(layer, facenet.ScaledResidual)]
    assert len(scaled) == 21
    assert {layer.scale for layer in scaled} == {0.17, 0.1, 0.2, 1.0}


def test_embedding_has_unit_length(small_model):
    x = preprocess_input(np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)))
    e = small_model.predict(x, verbose=0)
    assert e.shape == (2, facenet.EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("pooling, shape", [("avg", (None, 1792)), ("max", (None, 1792)),
                                            (None, (None, 1, 1, 1792))])
def test_pooling_without_top_gives_features(pooling, shape):
    model = FaceNet(include_top=False, input_shape=(SIZE, SIZE, 3), pooling=pooling)
    assert model.output_shape == shape


def test_avg_pooling_ends_with_the_original_avgpool_layer():
    assert FaceNet(include_top=False, input_shape=(SIZE, SIZE, 3)).layers[-1].name == "AvgPool"


@pytest.mark.parametrize("kwargs", [
    {"include_top": "yes"}, {"weights": "imagenet"}, {"weights": 3}, {"pooling": "sum"},
    {"input_shape": (74, 74, 3)}, {"input_shape": (96, 96)}, {"input_shape": (96, 96, 1)},
])
def test_rejects_bad_arguments_up_front(kwargs):
    with pytest.raises(ValueError):
        FaceNet(**kwargs)


def test_scaled_residual_round_trips_through_its_config():
    layer = facenet.ScaledResidual(0.17, name="Block35_1_ScaleSum")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(clone, facenet.ScaledResidual) and clone.scale == pytest.approx(0.17)
    x, up = np.ones((1, 2), np.float32), np.full((1, 2), 2.0, np.float32)
    np.testing.assert_allclose(clone([x, up]), 1.34, rtol=1e-6)


def test_preprocess_input_standardises_each_image():
    rng = np.random.default_rng(0)
    x = np.stack([rng.uniform(0, 255, (8, 8, 3)), rng.uniform(100, 120, (8, 8, 3))]).astype(np.uint8)
    y = preprocess_input(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(1, 2, 3)), 1, rtol=1e-4)


def test_preprocess_input_floors_the_std_of_a_flat_image():
    y = preprocess_input(np.full((4, 4, 3), 7, np.uint8))   # std 0: divided by 1/sqrt(48), no NaN
    np.testing.assert_array_equal(y, 0)


def test_preprocess_input_rejects_grey_images():
    with pytest.raises(ValueError, match="RGB"):
        preprocess_input(np.zeros((2, 8, 8)))


def test_standardization_layer_matches_preprocess_input():
    x = np.random.default_rng(1).uniform(0, 255, (3, 10, 10, 3)).astype(np.float32)
    got = np.asarray(facenet.PerImageStandardization()(x))
    np.testing.assert_allclose(got, preprocess_input(x), rtol=1e-4, atol=1e-5)


def test_weights_facenet_loads_the_verified_cached_file(original_layout_file, monkeypatch, tmp_path):
    path, written = original_layout_file
    monkeypatch.setenv("EMOLIB_HOME", str(tmp_path))
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "facenet_keras.h5").write_bytes(path.read_bytes())
    monkeypatch.setattr(facenet, "WEIGHTS_SHA256", file_sha256(path))
    model = FaceNet(weights="facenet", input_shape=(SIZE, SIZE, 3))
    np.testing.assert_array_equal(model.get_layer("Bottleneck").get_weights()[0], written["Bottleneck"][0])


def test_cached_weight_file_with_another_hash_is_refused(original_layout_file, monkeypatch, tmp_path):
    path, _ = original_layout_file
    monkeypatch.setenv("EMOLIB_HOME", str(tmp_path))
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "facenet_keras.h5").write_bytes(path.read_bytes())
    with pytest.raises(WeightsError, match="expected 6acdd8fb"):
        facenet.get_weights_file()
