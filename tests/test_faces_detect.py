"""Detection with Haar, HOG and MTCNN on skimage's real photographs, plus the bad inputs."""
import itertools

import numpy as np
import pytest
from PIL import Image
from skimage import data

from emolib.errors import ImageReadError
from emolib.faces import METHODS, Face, detect, detect_batch, iou

# MTCNN's box for the astronaut, as mtcnn 1.0.0 reports it
ASTRONAUT_FACE = (182, 64, 83, 107)


@pytest.fixture(scope="module")
def astronaut_faces(astronaut):
    return {m: detect(astronaut, m) for m in METHODS}


def test_every_detector_finds_the_astronaut(astronaut_faces):
    for method, faces in astronaut_faces.items():
        assert faces, method
        # the top-scoring detection is the face (HOG also returns a weaker false positive)
        assert faces[0].iou(ASTRONAUT_FACE) >= 0.5, (method, faces[0].box)


def test_top_detections_overlap_pairwise(astronaut_faces):
    # The face is each method's most confident detection: faces come sorted by score.
    tops = {m: faces[0] for m, faces in astronaut_faces.items()}
    for a, b in itertools.combinations(METHODS, 2):
        assert tops[a].iou(tops[b]) >= 0.5, (a, tops[a].box, b, tops[b].box)


def test_faces_are_sorted_by_score_and_carry_their_method(astronaut_faces):
    for method, faces in astronaut_faces.items():
        scores = [f.score for f in faces]
        assert scores == sorted(scores, reverse=True)
        assert all(f.method == method for f in faces)


def test_mtcnn_gives_five_keypoints_inside_its_box(astronaut_faces):
    face = astronaut_faces["mtcnn"][0]
    assert face.box == ASTRONAUT_FACE and face.score > 0.99
    assert set(face.keypoints) == {"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}
    x, y, w, h = face.box
    for px, py in face.keypoints.values():
        assert x <= px <= x + w and y <= py <= y + h
    assert face.keypoints["left_eye"][0] < face.keypoints["right_eye"][0]   # image left / right
    assert astronaut_faces["haar"][0].keypoints is None


def test_path_grey_and_rgba_inputs_find_the_same_face(tmp_path, astronaut, astronaut_faces):
    Image.fromarray(astronaut).save(tmp_path / "astronaut.png")
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    reference = astronaut_faces["haar"][0]
    for src in (tmp_path / "astronaut.png", rgba):
        assert detect(src, "haar")[0].box == reference.box
    grey = np.asarray(Image.fromarray(astronaut).convert("L"))
    assert detect(grey, "haar")[0].iou(reference) > 0.9


def test_upscale_maps_boxes_back_to_the_original_image(astronaut):
    import cv2

    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    face = detect(small, "haar", upscale=2.0)[0]
    assert face.iou(tuple(v / 2 for v in ASTRONAUT_FACE)) >= 0.5


def test_detect_batch_returns_one_list_per_image(astronaut):
    blank = np.zeros((64, 64), np.uint8)
    out = detect_batch([astronaut, blank, astronaut], "haar")
    assert [len(faces) > 0 for faces in out] == [True, False, True]


def test_mtcnn_min_size_rescales_instead_of_crashing():
    # mtcnn 1.0 raises on some image sizes when min_face_size != 20; emolib rescales instead.
    assert detect(np.full((48, 48), 128, np.uint8), "mtcnn", min_size=30) == []


def test_iou_of_boxes():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0


# --- bad and odd inputs --------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_image_without_a_face_gives_an_empty_list(method):
    rng = np.random.default_rng(1)
    assert detect(rng.integers(0, 256, (120, 160), dtype=np.uint8), method) == []
    assert detect(np.full((120, 160, 3), 90, np.uint8), method) == []


@pytest.mark.parametrize("method", METHODS)
def test_tiny_image_gives_an_empty_list(method):
    assert detect(np.zeros((1, 1), np.uint8), method) == []
    assert detect(np.zeros((12, 12, 3), np.uint8), method) == []


def test_camera_man_is_found_by_mtcnn():
    faces = detect(data.camera(), "mtcnn")
    assert len(faces) == 1 and faces[0].iou((197, 116, 58, 81)) > 0.8


def test_empty_array_raises_image_read_error():
    with pytest.raises(ImageReadError, match="empty array"):
        detect(np.zeros((0, 0, 3), np.uint8))


def test_wrong_dtype_raises_image_read_error():
    with pytest.raises(ImageReadError, match="dtype int32"):
        detect(np.zeros((50, 50), np.int32))


def test_corrupt_file_raises_image_read_error(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageReadError, match="broken.png"):
        detect(tmp_path / "broken.png", "hog")


def test_unknown_method_and_bad_options_raise_value_error():
    img = np.zeros((50, 50), np.uint8)
    with pytest.raises(ValueError, match="method='cnn': expected one of"):
        detect(img, "cnn")
    with pytest.raises(ValueError, match="upscale"):
        detect(img, upscale=0)
    with pytest.raises(ValueError, match="box"):
        Face((0, 0, 0, 5))


@pytest.mark.parametrize("option, value, allowed", [
    ("upscale", -1, r"\(0, 8\]"), ("upscale", 100, r"\(0, 8\]"), ("upscale", float("nan"), "finite"),
    ("upscale", "2", "finite number"), ("min_size", 0, ">= 1"), ("min_size", 2.5, "whole number"),
    ("min_size", "40", "finite number"), ("min_confidence", float("inf"), "finite"),
    ("threshold", "x", "finite number"), ("max_pixels", -5, ">= 1")])
def test_bad_option_values_raise_value_error_naming_the_option(option, value, allowed):
    with pytest.raises(ValueError, match=rf"^{option}=.*expected .*{allowed}"):
        detect(np.zeros((50, 50), np.uint8), "haar", **{option: value})


def test_upscale_beyond_the_pixel_limit_is_refused_naming_upscale():
    with pytest.raises(ValueError, match=r"upscale=4.0: .* more than max_pixels=10,000"):
        detect(np.zeros((50, 50), np.uint8), "haar", upscale=4.0, max_pixels=10_000)


def test_image_over_max_pixels_names_a_real_parameter():
    with pytest.raises(ImageReadError, match="at most 100 pixels.*max_pixels") as info:
        detect(np.zeros((20, 20), np.uint8), "haar", max_pixels=100)
    import inspect
    assert "max_pixels" in inspect.signature(detect).parameters
    assert "--max-pixels" in str(info.value)


def test_min_size_counts_pixels_of_the_input_image(astronaut):
    # the astronaut's face is about 95 px: kept at 80, dropped at 120, whatever the upscale
    for upscale in (0.5, 1.0, 2.0):
        assert detect(astronaut, "haar", upscale=upscale, min_size=80), upscale
        assert detect(astronaut, "haar", upscale=upscale, min_size=120) == [], upscale


def test_min_confidence_drops_weaker_detections(astronaut):
    faces = detect(astronaut, "hog")          # the face and a weaker false positive
    assert len(faces) >= 2
    cut = (faces[0].score + faces[1].score) / 2
    kept = detect(astronaut, "hog", min_confidence=cut)
    assert [f.box for f in kept] == [faces[0].box]


def test_whole_number_floats_are_accepted_for_min_size(astronaut):
    assert detect(astronaut, "haar", min_size=80.0)[0].box == detect(astronaut, "haar", min_size=80)[0].box
