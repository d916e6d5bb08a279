"""Embedded sample data: deterministic, FER2013-shaped, and learnable."""
import cv2
import numpy as np
import pytest

from emolib.data.sample import (
    AFEW_CLASSES,
    FER2013_TRAIN_FRACTIONS,
    sample_faces,
    sample_group_scenes,
    sample_votes,
    write_sample_clips,
)


def test_faces_are_deterministic_by_seed():
    a, b, c = sample_faces(60, seed=3), sample_faces(60, seed=3), sample_faces(60, seed=4)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.images, c.images)


def test_faces_follow_fer2013_imbalance_and_splits():
    ds = sample_faces(3000, seed=0)
    assert ds.images.shape == (3000, 48, 48) and ds.images.dtype == np.uint8
    shares = np.bincount(ds.labels, minlength=7) / len(ds)
    assert np.abs(shares - FER2013_TRAIN_FRACTIONS).max() < 0.03
    assert shares[1] < 0.03 and shares[3] > 0.2           # disgust rare, happy common
    assert {u: int((ds.usage == u).sum()) for u in ("Training", "PublicTest", "PrivateTest")} == \
        {"Training": 2400, "PublicTest": 300, "PrivateTest": 300}


def test_balanced_faces_cover_every_class_equally():
    counts = np.bincount(sample_faces(700, seed=1, balanced=True).labels)
    assert counts.min() > 70 and counts.max() < 130


def test_votes_mostly_agree_with_the_label():
    from emolib.data import ferplus_targets, ferplus_to_fer2013_labels

    ds = sample_faces(400, seed=2)
    votes = sample_votes(ds.labels, seed=2, ambiguous=0.0)
    assert votes.shape == (400, 10) and (votes.sum(axis=1) == 10).all()
    t = ferplus_targets(votes, "majority")
    agree = ferplus_to_fer2013_labels(t.distribution.argmax(axis=1)) == ds.labels[t.keep]
    assert 0.8 < agree.mean() < 1.0                       # confusions exist, but rarely win
    noisy = ferplus_targets(sample_votes(ds.labels, seed=2, ambiguous=0.3), "majority")
    agree_noisy = ferplus_to_fer2013_labels(noisy.distribution.argmax(axis=1)) == ds.labels[noisy.keep]
    assert agree_noisy.mean() < agree.mean() - 0.15       # ambiguous faces lower agreement


def test_not_face_rows_get_an_nf_majority():
    votes = sample_votes(np.zeros(50, int), seed=0, not_face=np.ones(50, bool))
    assert (votes.argmax(axis=1) == 9).mean() > 0.9


def test_group_scenes_have_non_overlapping_boxes_inside_the_image():
    scenes = sample_group_scenes(30, seed=5, max_faces=6)
    assert {s.label for s in scenes} == {0, 1, 2}
    for s in scenes:
        h, w = s.image.shape[:2]
        assert s.image.dtype == np.uint8 and len(s.boxes) == len(s.face_labels)
        for i, (x, y, bw, bh) in enumerate(s.boxes):
            assert x >= 0 and y >= 0 and x + bw <= w and y + bh <= h
            for (x2, y2, w2, h2) in s.boxes[i + 1:]:
                assert not (x < x2 + w2 and x2 < x + bw and y < y2 + h2 and y2 < y + bh)


@pytest.mark.parametrize("n_faces", [0, 1, 7, 50])
def test_crowd_scenes_hold_exactly_the_faces_asked_for(n_faces):
    from emolib.data.sample import crowd_scene

    scene = crowd_scene(n_faces, seed=3, label=2)
    h, w = scene.image.shape[:2]
    assert scene.boxes.shape == (n_faces, 4) and len(scene.face_labels) == n_faces and scene.label == 2
    for x, y, bw, bh in scene.boxes:
        assert x + bw <= w and y + bh <= h and scene.image[y:y + bh, x:x + bw].std() > 5  # a face, not background
    assert np.array_equal(crowd_scene(n_faces, seed=3).image, scene.image)


def test_clips_are_real_videos_opencv_reads_back(tmp_path):
    clips = write_sample_clips(tmp_path, n=8, seed=0, frames=(5, 9))
    assert len(clips) == 8 and {AFEW_CLASSES[c] for _, c in clips} == set(AFEW_CLASSES)
    for path, cls in clips:
        assert path.parent.name == AFEW_CLASSES[cls] and path.parent.parent.name in ("Train", "Val")
        cap = cv2.VideoCapture(str(path))
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
        cap.release()
        assert 5 <= len(frames) <= 9 and frames[0].shape == (96, 96, 3)


def test_a_small_cnn_learns_the_sample_faces_well_above_chance():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    train, test = sample_faces(840, seed=10, balanced=True), sample_faces(210, seed=11, balanced=True)
    layers = keras.layers
    model = keras.Sequential([
        layers.Input((48, 48, 1)), layers.Rescaling(1 / 127.5, offset=-1),
        layers.Conv2D(16, 5, strides=2, activation="relu", padding="same"),
        layers.Conv2D(32, 3, activation="relu", padding="same"), layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu", padding="same"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(32, activation="relu"), layers.Dense(7, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train.images[..., None], train.labels, epochs=7, batch_size=32, verbose=0)
    accuracy = model.evaluate(test.images[..., None], test.labels, verbose=0)[1]
    assert accuracy > 0.4                                 # chance is 1/7 = 0.14 (0.6 seen here)
