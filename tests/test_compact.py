"""The compact CPU-track CNN: architecture, bad arguments, saving."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from emolib import FER2013_CLASSES  # noqa: E402
from emolib.models.compact import compact_cnn  # noqa: E402

TINY = dict(widths=(8, 16), convs=(1, 1), dense_units=16, dropout=0.0, augment=False)


# --- architecture ------------------------------------------------------------------------------------

def test_default_model_has_the_documented_size_and_fits_the_10mb_budget():
    model = compact_cnn()
    assert model.count_params() == 1_720_743
    assert model.count_params() * 4 < 10 * 2**20
    assert model.input_shape == (None, 48, 48, 1) and model.output_shape == (None, 7)


def test_output_is_a_softmax_over_the_classes():
    model = compact_cnn(8, (48, 48, 3), **TINY)
    x = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 3)).astype("float32")
    proba = np.asarray(model(x, training=False))
    assert proba.shape == (4, 8)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert model.layers[-1].get_config()["activation"] == "softmax"


def test_rescaling_inside_the_model_takes_raw_pixels():
    model = compact_cnn(**TINY)
    rescale = model.get_layer("rescale")
    assert rescale.get_config()["scale"] == pytest.approx(1 / 255)
    assert model.layers[1] is rescale  # the first layer after the input


def test_augmentation_acts_in_training_only():
    model = compact_cnn(widths=(8, 16), convs=(1, 1), dense_units=16, dropout=0.0)
    assert any(layer.name.startswith("aug_") for layer in model.layers)
    x = np.random.default_rng(1).integers(0, 256, (3, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(model(x, training=False), model(x, training=False))
    np.testing.assert_allclose(model(x, training=False), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    # training mode draws a random flip/rotation/shift/zoom: the first features change
    feats = keras.Model(model.input, model.get_layer("block1_conv1").output)
    assert not np.allclose(feats(x, training=True), feats(x, training=True))


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_classes=1), "num_classes"),
    (dict(input_shape=(48, 48, 2)), "input_shape"),
    (dict(input_shape=(50, 50, 1)), "divisible"),
    (dict(widths=(8, 16), convs=(1,)), "equal-length"),
    (dict(dropout=1.0), "dropout"),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compact_cnn(**kwargs)


def test_saved_model_loads_with_plain_keras_and_predicts_the_same(tmp_path):
    from emolib.models.saving import load_model_with_metadata, save_model

    model = compact_cnn(**TINY)
    path = save_model(model, tmp_path / "m.keras", classes=FER2013_CLASSES, preprocessing="none",
                      input_size=48, tta_flip=True)
    x = np.random.default_rng(2).integers(0, 256, (5, 48, 48, 1)).astype("uint8")
    plain = keras.models.load_model(path, compile=False)  # no custom objects needed
    np.testing.assert_allclose(plain.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)
    _, meta = load_model_with_metadata(path)
    assert meta["classes"] == list(FER2013_CLASSES) and meta["tta_flip"] is True
