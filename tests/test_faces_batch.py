"""emolib.faces.batch.to_batch: the one way face crops become a model's input, at training and serving."""
import numpy as np
import pytest

from emolib.errors import ImageReadError
from emolib.faces.batch import RESIZE, to_batch


def test_a_batch_already_at_the_size_keeps_its_values_exactly():
    grey = np.random.default_rng(0).integers(0, 256, (3, 8, 8)).astype(np.uint8)
    out = to_batch(grey, 8, 1)
    assert out.shape == (3, 8, 8, 1) and out.dtype == np.float32
    np.testing.assert_array_equal(out[..., 0], grey)


def test_grey_becomes_rgb_by_repeating_the_channel():
    grey = np.random.default_rng(1).integers(0, 256, (2, 6, 6)).astype(np.uint8)
    out = to_batch(grey, 6, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)


def test_rgb_becomes_grey_by_itu_r_601_luma():
    rgb = np.zeros((1, 4, 4, 3), np.uint8)
    rgb[..., 0] = 100                                   # pure red 100
    np.testing.assert_allclose(to_batch(rgb, 4, 1), 29.9, atol=0.01)


def test_shrinking_averages_areas():
    img = np.zeros((1, 4, 4), np.uint8)
    img[0, :2, :2] = 200                               # top-left 2x2 block
    out = to_batch(img, 2, 1)[0, ..., 0]
    np.testing.assert_allclose(out, [[200, 0], [0, 0]])


def test_crops_of_different_sizes_and_rgba_share_one_batch():
    crops = [np.full((10, 20, 3), 200, np.uint8), np.full((5, 5), 50, np.uint8),
             np.full((7, 7, 4), 90, np.uint8)]
    out = to_batch(crops, (16, 12), 3)
    assert out.shape == (3, 16, 12, 3)
    np.testing.assert_allclose(out[0], 200)
    np.testing.assert_allclose(out[1], 50)
    np.testing.assert_allclose(out[2], 90)


@pytest.mark.parametrize("faces, message", [
    ([np.zeros((4, 4, 2), np.uint8)], r"faces\[0\]"),
    ([np.full((4, 4), 300.0)], "within 0..255"),
    ([np.zeros((0, 4), np.uint8)], "non-empty"),
    ("face.png", "list of face crops"),
])
def test_bad_crops_raise_a_clear_error(faces, message):
    with pytest.raises(ImageReadError, match=message):
        to_batch(faces, 4, 1)


def test_channels_other_than_1_or_3_are_refused():
    with pytest.raises(ValueError, match="channels"):
        to_batch(np.zeros((1, 4, 4), np.uint8), 4, 2)


# --- training-time and serving-time inputs agree ---------------------------------------------------

keras = pytest.importorskip("keras")


def _dense_model(size, channels, n_classes=3, seed=0):
    """A model whose output depends on every input pixel, so equal outputs mean equal inputs."""
    keras.utils.set_random_seed(seed)
    x_in = keras.Input((size, size, channels))
    out = keras.layers.Dense(n_classes, activation="softmax")(
        keras.layers.Flatten()(keras.layers.Rescaling(1 / 2550.0)(x_in)))
    return keras.Model(x_in, out)


def test_fine_tuning_batches_and_served_crops_give_the_same_input(tmp_path):
    from emolib.data.sample import sample_faces
    from emolib.models.input_pipeline import make_dataset
    from emolib.models.pretrained import load_model
    from emolib.models.saving import read_metadata, save_model

    faces = sample_faces(8, seed=1)
    model = _dense_model(32, 3)
    path = save_model(model, tmp_path / "m.keras", classes=("a", "b", "c"), preprocessing="vggface1",
                      input_size=32)
    assert read_metadata(path)["resize"] == RESIZE
    x_train, _ = next(iter(make_dataset(faces, image_size=32, preprocessing="vggface1", batch_size=8)))
    served = load_model(path).predict_proba(list(faces.images))
    np.testing.assert_allclose(served, np.asarray(model(x_train)), atol=1e-6)


def test_compact_training_inputs_and_served_crops_are_the_same_pixels(tmp_path):
    from emolib.data.sample import sample_faces
    from emolib.models.pretrained import load_model
    from emolib.models.saving import save_model
    from emolib.models.training import model_input

    faces = sample_faces(8, seed=2)
    model = _dense_model(24, 1)          # FER2013's 48 x 48 faces shrink to 24 x 24
    path = save_model(model, tmp_path / "c.keras", classes=("a", "b", "c"), preprocessing="none",
                      input_size=24)
    x_train = model_input(model, faces.images)
    rgb_crops = [np.repeat(img[..., None], 3, axis=-1) for img in faces.images]   # served as RGB
    served = load_model(path).predict_proba(rgb_crops)
    np.testing.assert_allclose(served, np.asarray(model(x_train)), atol=1e-6)
