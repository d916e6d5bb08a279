"""68 landmarks, the landmark descriptor and eye-levelling alignment, on skimage's astronaut."""
import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emolib.faces import Face, align, detect, eye_angle, landmark_features, landmarks68
from emolib.faces.landmarks import N_LANDMARK_FEATURES


@pytest.fixture(scope="module")
def hog_face(astronaut):
    return detect(astronaut, "hog")[0]


@pytest.fixture(scope="module")
def points(astronaut, hog_face):
    return landmarks68(astronaut, hog_face)


def _rotated(image, degrees):
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def test_landmarks_fall_inside_the_face_box(hog_face, points):
    assert points.shape == (68, 2)
    x, y, w, h = hog_face.box
    # dlib's HOG box runs from the brows to the lower lip, so the jaw line may cross its lower
    # and side edges slightly: every point lies within the box grown by 15 % on each side...
    mx, my = 0.15 * w, 0.15 * h
    assert ((points[:, 0] >= x - mx) & (points[:, 0] <= x + w + mx)).all()
    assert ((points[:, 1] >= y - my) & (points[:, 1] <= y + h + my)).all()
    # ...and every point except the jaw line (0-16) lies inside the box itself.
    inner = points[17:]
    assert ((inner[:, 0] >= x) & (inner[:, 0] <= x + w) & (inner[:, 1] >= y) & (inner[:, 1] <= y + h)).all()


def test_landmarks_follow_the_face_layout(points):
    left_eye, right_eye = points[36:42].mean(0), points[42:48].mean(0)
    nose_tip, mouth = points[30], points[48:68].mean(0)
    assert left_eye[0] < nose_tip[0] < right_eye[0]
    assert max(left_eye[1], right_eye[1]) < nose_tip[1] < mouth[1]


def test_landmarks_accept_a_plain_box_and_a_file(tmp_path, astronaut, hog_face, points):
    from PIL import Image

    Image.fromarray(astronaut).save(tmp_path / "a.png")
    assert np.allclose(landmarks68(tmp_path / "a.png", hog_face.box), points)


def test_alignment_levels_the_eyes_within_2_degrees(astronaut):
    rotated = _rotated(astronaut, 20)           # tilt the head by 20 degrees
    face = detect(rotated, "hog")[0]
    before = eye_angle(landmarks68(rotated, face))
    assert abs(before) > 15
    aligned = align(rotated, face, 224)
    assert aligned.shape == (224, 224, 3)
    again = detect(aligned, "hog")[0]           # measure the result independently
    assert abs(eye_angle(landmarks68(aligned, again))) < 2.0


def test_alignment_from_mtcnn_keypoints_levels_the_eyes(astronaut):
    # MTCNN's astronaut keypoints (eyes at (204, 100) and (245, 102)), tilted with the image
    h, w = astronaut.shape[:2]
    tilt = cv2.getRotationMatrix2D((w / 2, h / 2), -12, 1.0)
    eyes = np.array([[204.0, 100.0], [245.0, 102.0]]) @ tilt[:, :2].T + tilt[:, 2]
    face = Face((182, 64, 83, 107), 0.999, {"left_eye": tuple(eyes[0]), "right_eye": tuple(eyes[1])},
                "mtcnn")
    _, m = align(_rotated(astronaut, -12), face, 224, return_matrix=True)
    moved = eyes @ m[:, :2].T + m[:, 2]
    angle = np.degrees(np.arctan2(*(moved[1] - moved[0])[::-1]))
    assert abs(angle) < 0.01
    assert moved[0, 0] < moved[1, 0]            # not flipped


def test_fer_style_output_is_48_grey_and_vggface_style_is_224_rgb(astronaut, hog_face, points):
    small = align(astronaut, hog_face, 48, points=points)
    large = align(astronaut, hog_face, 224, points=points)
    assert small.shape == (48, 48) and small.dtype == np.uint8
    assert large.shape == (224, 224, 3) and large.dtype == np.uint8
    assert align(astronaut, hog_face, 48, grey=False, points=points).shape == (48, 48, 3)


def test_margin_widens_the_crop(astronaut, hog_face, points):
    _, tight = align(astronaut, hog_face, 100, margin=0.0, points=points, return_matrix=True)
    _, loose = align(astronaut, hog_face, 100, margin=0.5, points=points, return_matrix=True)
    scale = lambda m: np.hypot(*m[0, :2])   # output pixels per image pixel
    assert scale(tight) / scale(loose) == pytest.approx(1.5)
    assert scale(tight) == pytest.approx(100 / max(hog_face.box[2:]))


def test_align_rejects_bad_arguments(astronaut, hog_face, points):
    with pytest.raises(ValueError, match="size"):
        align(astronaut, hog_face, 4, points=points)
    with pytest.raises(ValueError, match="margin"):
        align(astronaut, hog_face, 48, margin=-1, points=points)


def test_landmark_features_have_2278_values_with_unit_eye_distance(points):
    f = landmark_features(points)
    assert f.shape == (N_LANDMARK_FEATURES,) == (2278,)
    assert landmark_features(np.stack([points, points])).shape == (2, 2278)
    assert (f >= 0).all() and f.max() > 1


@settings(max_examples=30, deadline=None)
@given(angle=st.floats(-180, 180), scale=st.floats(0.2, 5), dx=st.floats(-500, 500),
       dy=st.floats(-500, 500))
def test_landmark_features_ignore_position_rotation_and_scale(points, angle, scale, dx, dy):
    t = np.radians(angle)
    rot = scale * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    moved = points @ rot.T + (dx, dy)
    assert np.allclose(landmark_features(moved), landmark_features(points), atol=1e-9)


def test_landmark_features_reject_wrong_shapes():
    with pytest.raises(ValueError, match="68 x 2"):
        landmark_features(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="eye centres coincide"):
        landmark_features(np.zeros((68, 2)))


def test_landmarks68_rejects_a_bad_box(astronaut):
    with pytest.raises(ValueError, match="w, h > 0"):
        landmarks68(astronaut, (10, 10, 0, 5))
    assert isinstance(Face((1, 2, 3, 4)).box[0], int)
