"""preprocess_input values, and the weight download with the network mocked (no real request)."""
import hashlib
import io
import urllib.error
import urllib.request

import numpy as np
import pytest

from emolib.errors import DownloadError
from emolib.models import vggface
from emolib.models.vggface import get_weights_file, preprocess_input, weights_url

# --------------------------------------------------------------------------------------------
# preprocess_input: RGB -> BGR, minus the means, no scaling (VGGFace, Parkhi et al. 2015)

def test_preprocess_version_1_matches_hand_computed_values():
    rgb = np.array([[[10, 20, 30]]], np.uint8)
    # B = 30 - 93.5940, G = 20 - 104.7624, R = 10 - 129.1863
    np.testing.assert_allclose(preprocess_input(rgb, 1), [[[-63.5940, -84.7624, -119.1863]]], atol=1e-4)


def test_preprocess_version_2_matches_hand_computed_values():
    rgb = np.array([[255.0, 0.0, 128.0]])
    # B = 128 - 91.4953, G = 0 - 103.8827, R = 255 - 131.0912
    np.testing.assert_allclose(preprocess_input(rgb, 2), [[36.5047, -103.8827, 123.9088]], atol=1e-4)


def test_preprocess_leaves_the_input_alone_and_does_not_wrap_uint8():
    rgb = np.zeros((2, 4, 4, 3), np.uint8)
    out = preprocess_input(rgb, 1)
    assert out.dtype == np.float32 and out.shape == rgb.shape
    assert (rgb == 0).all() and out.max() < 0


@pytest.mark.parametrize("x, version, message", [
    (np.zeros((4, 4, 3)), 3, "version"), (np.zeros((4, 4)), 1, "3 channels")])
def test_preprocess_rejects_bad_arguments(x, version, message):
    with pytest.raises(ValueError, match=message):
        preprocess_input(x, version)


def test_pipeline_preprocessing_matches_preprocess_input():
    from emolib.models.input_pipeline import prepare_batch, preprocess

    rgb = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    for version, name in ((1, "vggface1"), (2, "vggface2")):
        np.testing.assert_allclose(preprocess(rgb, name), preprocess_input(rgb, version), atol=1e-4)
        np.testing.assert_allclose(prepare_batch(rgb, 8, name), preprocess_input(rgb, version), atol=1e-4)


# --------------------------------------------------------------------------------------------
# download through keras.utils.get_file, network mocked at urllib.request.urlopen

class FakeResponse(io.BytesIO):
    def __init__(self, payload):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}

    def info(self):
        return self.headers

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


@pytest.fixture
def served(monkeypatch, tmp_path):
    """Serve ``payload`` for any URL, record requested URLs, and give a fresh EMOLIB_HOME."""
    state = {"payload": b"", "urls": [], "error": None}

    def urlopen(url, *args, **kwargs):
        url = getattr(url, "full_url", url)
        state["urls"].append(url)
        if state["error"]:
            raise state["error"]
        return FakeResponse(state["payload"])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setenv("EMOLIB_HOME", str(tmp_path / "home"))
    for key in list(__import__("os").environ):
        if key.startswith("EMOLIB_VGGFACE_SHA256_"):
            monkeypatch.delenv(key)
    return state


def test_download_requests_the_rcmalli_url_into_emolib_home(served, tmp_path):
    served["payload"] = b"weights"
    path = get_weights_file("resnet50", include_top=False)
    assert served["urls"] == [
        "https://github.com/rcmalli/keras-vggface/releases/download/v2.0/rcmalli_vggface_tf_notop_resnet50.h5"]
    assert path == tmp_path / "home" / "models" / "vggface" / "rcmalli_vggface_tf_notop_resnet50.h5"
    assert path.read_bytes() == b"weights"


def test_the_first_download_is_pinned_and_the_cache_is_reused(served):
    served["payload"] = b"weights"
    path = get_weights_file("vgg16")
    pin = path.with_name(path.name + ".sha256")
    assert pin.read_text().split()[0] == hashlib.sha256(b"weights").hexdigest()
    get_weights_file("vgg16")
    assert len(served["urls"]) == 1


def test_a_cached_file_that_no_longer_matches_its_pin_is_refused(served):
    served["payload"] = b"weights"
    path = get_weights_file("senet50")
    path.write_bytes(b"tampered")
    with pytest.raises(DownloadError, match="pinned"):
        get_weights_file("senet50")


def test_a_known_hash_that_does_not_match_fails_and_leaves_no_file(served, monkeypatch):
    served["payload"] = b"not the weights"
    monkeypatch.setitem(vggface.WEIGHTS_SHA256, "rcmalli_vggface_tf_vgg16.h5", "0" * 64)
    with pytest.raises(DownloadError, match="rcmalli_vggface_tf_vgg16.h5"):
        get_weights_file("vgg16")
    assert not list((vggface.emolib_home() / "models" / "vggface").glob("*.h5"))


def test_the_hash_can_come_from_the_environment(served, monkeypatch):
    served["payload"] = b"weights"
    monkeypatch.setenv("EMOLIB_VGGFACE_SHA256_RCMALLI_VGGFACE_TF_NOTOP_VGG16_H5",
                       hashlib.sha256(b"weights").hexdigest())
    path = get_weights_file("vgg16", include_top=False)
    assert path.read_bytes() == b"weights" and not path.with_name(path.name + ".sha256").exists()


def test_a_network_error_is_a_download_error_naming_the_url(served):
    served["error"] = urllib.error.URLError("no route to host")
    with pytest.raises(DownloadError, match="rcmalli_vggface_tf_resnet50.h5"):
        get_weights_file("resnet50")


def test_vggface_weights_vggface_downloads_and_loads_the_file(served, tmp_path):
    """The whole path: VGGFace(weights="vggface") -> get_file -> (mocked) request -> loader."""
    from test_vggface import assert_reproduced, spec, write_keras2_file

    layers = spec("vgg16", False)
    served["payload"] = write_keras2_file(tmp_path / "served.h5", layers, seed=5).read_bytes()
    net = vggface.VGGFace("vgg16", include_top=False, weights="vggface", input_shape=(48, 48, 3))
    assert served["urls"] == [weights_url("vgg16", include_top=False)]
    assert_reproduced(net, vggface.emolib_home() / "models" / "vggface" /
                      "rcmalli_vggface_tf_notop_vgg16.h5", layers)
