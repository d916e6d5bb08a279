"""Half-stored kernels: float16 on disk and in memory, float32 arithmetic, same predictions."""
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

from emolib.models.half_storage import HalfStoredConv2D, HalfStoredDense, half_storage  # noqa: E402


def small_cnn(seed: int = 0) -> keras.Model:
    """Conv -> BN -> nested Dense model, so nesting and BatchNormalization are both covered."""
    keras.utils.set_random_seed(seed)
    inner_in = keras.Input((8,))
    inner = keras.Model(inner_in, keras.layers.Dense(3, activation="softmax", name="out")(inner_in), name="head")
    inp = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(8, activation="relu", name="fc")(x)
    return keras.Model(inp, inner(x), name="small")


def pixels(n=6, seed=1):
    return np.random.default_rng(seed).uniform(0, 255, (n, 12, 12, 1)).astype("float32")


def test_half_storage_keeps_kernels_in_float16_and_everything_else_in_float32():
    model = half_storage(small_cnn())
    kinds = {(v.path.split("/")[-1], v.dtype) for v in model.weights}
    assert ("kernel", "float16") in kinds and ("kernel", "float32") not in kinds
    assert {d for name, d in kinds if name != "kernel"} == {"float32"}
    classes = {type(layer) for layer in model.layers} | {type(layer) for layer in model.get_layer("head").layers}
    assert HalfStoredConv2D in classes and HalfStoredDense in classes


def test_half_storage_predicts_what_the_float32_model_predicts_up_to_rounding():
    model = small_cnn()
    half = half_storage(model)
    x = pixels()
    full, approx = model.predict(x, verbose=0), half.predict(x, verbose=0)
    assert approx.dtype == np.float32
    np.testing.assert_allclose(approx, full, atol=2e-3)
    stored = keras.ops.convert_to_numpy(half.get_layer("conv")._kernel)
    np.testing.assert_array_equal(stored, keras.ops.convert_to_numpy(model.get_layer("conv").kernel).astype("float16"))


def test_saved_half_model_holds_float16_kernels_and_reloads_the_same(tmp_path):
    model = small_cnn()
    half = half_storage(model)
    path = tmp_path / "half.keras"
    half.save(path)
    with zipfile.ZipFile(path) as z:
        z.extract("model.weights.h5", tmp_path)
    dtypes = []
    with h5py.File(tmp_path / "model.weights.h5") as f:
        f.visititems(lambda name, obj: dtypes.append(str(obj.dtype)) if isinstance(obj, h5py.Dataset) else None)
    assert "float16" in dtypes
    back = keras.models.load_model(path, compile=False)
    x = pixels()
    np.testing.assert_array_equal(back.predict(x, verbose=0), half.predict(x, verbose=0))


def test_half_storage_refuses_a_model_with_nothing_to_halve():
    inp = keras.Input((4,))
    with pytest.raises(ValueError, match="no Conv2D or Dense"):
        half_storage(keras.Model(inp, keras.layers.Softmax()(inp)))
