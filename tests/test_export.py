"""TFLite export: a converted model answers as the Keras model does, and bad input is named."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

from emolib.models.export import tflite_predict, to_tflite  # noqa: E402


@pytest.fixture(scope="module")
def small_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


@pytest.fixture(scope="module")
def batch():
    return np.random.default_rng(1).uniform(-1, 1, (4, 6, 6, 1)).astype("float32")


def test_float_conversion_matches_keras(tmp_path_factory, small_model, batch):
    path = to_tflite(small_model, tmp_path_factory.mktemp("tfl") / "m.tflite")
    assert np.allclose(tflite_predict(path, batch), small_model.predict_on_batch(batch), atol=1e-5)


def test_quantized_file_is_smaller_than_float(tmp_path, small_model):
    big = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256), keras.layers.Dense(3)])
    plain = to_tflite(big, tmp_path / "f.tflite")
    small = to_tflite(big, tmp_path / "q.tflite", quantize=True)
    assert small.stat().st_size < 0.5 * plain.stat().st_size


def test_wrong_input_shape_names_the_file_and_expected_shape(tmp_path, small_model):
    path = to_tflite(small_model, tmp_path / "m.tflite")
    with pytest.raises(ValueError, match=r"m\.tflite: expected input items of shape \(6, 6, 1\)"):
        tflite_predict(path, np.zeros((2, 5, 5, 1), "float32"))
