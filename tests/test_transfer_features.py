"""benchmarks/transfer_common.py: the heads' features from the frozen or the fine-tuned FaceNet."""
import importlib.util
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

keras = pytest.importorskip("keras")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def tc(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOLIB_HOME", str(tmp_path / "home"))
    for name in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS"):   # the module sets defaults: keep ours
        monkeypatch.setenv(name, os.environ.get(name, "0"))
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("transfer_common", ROOT / "benchmarks" / "transfer_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("transfer_common", None)


def small_classifier(path: Path) -> keras.Model:
    """A classifier with a nested convolutional backbone, saved as a fine-tuned model would be."""
    keras.utils.set_random_seed(0)
    backbone = keras.Sequential([keras.Input((96, 96, 3)), keras.layers.Conv2D(4, 3, strides=4, activation="relu")],
                                name="facenet")
    inputs = keras.Input((96, 96, 3))
    x = keras.layers.GlobalAveragePooling2D()(backbone(inputs))
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))
    model.save(path)
    return backbone


def test_finetuned_features_are_the_saved_backbones_maps_averaged_over_space(tc, tmp_path):
    backbone = small_classifier(tmp_path / "tuned.keras")
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    tc.use_features(tmp_path / "tuned.keras")
    got = tc.facenet_features(SimpleNamespace(images=faces))
    import cv2

    rgb = np.stack([np.repeat(cv2.resize(f, (96, 96), interpolation=cv2.INTER_LINEAR)[..., None], 3, -1)
                    for f in faces]).astype("float32")
    expected = np.asarray(backbone(rgb)).mean(axis=(1, 2))
    assert got.shape == (5, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_finetuned_features_are_recorded_with_the_models_hash_and_note(tc, tmp_path):
    small_classifier(tmp_path / "tuned.keras")
    tc.use_features(tmp_path / "tuned.keras")
    ds = SimpleNamespace(classes=("a", "b"))
    result = tc.base_result(ds, np.arange(9), np.arange(1))
    assert result["features"]["facenet"]["kind"] == "finetuned"
    assert len(result["features"]["facenet"]["model_sha256"]) == 64
    assert result["note"] == tc.FINETUNED_NOTE
    assert tc.facenet_word() == "fine-tuned"


def test_no_finetuned_model_selects_the_frozen_facenet(tc):
    tc.use_features(None)
    assert tc.FEATURES == {"kind": "frozen"}
    assert tc.feature_note() == tc.FROZEN_NOTE


def test_a_missing_finetuned_model_stops_with_its_path(tc, tmp_path):
    with pytest.raises(SystemExit, match="nope.keras: no such file"):
        tc.use_features(tmp_path / "nope.keras")
