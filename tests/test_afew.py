"""The AFEW layout reader: Train|Val/<Emotion>/*.avi."""
import numpy as np
import pytest

from emolib.data.afew import AFEW_CLASSES, AFEW_COUNTS, find_afew, load_afew
from emolib.data.sample import write_sample_clips
from emolib.errors import DataFormatError, DataNotFoundError


def _touch(root, split, emotion, name):
    folder = root / split / emotion
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"not decoded by the index")


def test_reads_the_layout_with_labels_and_splits(tmp_path):
    _touch(tmp_path, "Train", "Happy", "b.avi")
    _touch(tmp_path, "Train", "Happy", "a.avi")
    _touch(tmp_path, "Train", "Angry", "c.avi")
    _touch(tmp_path, "Train", "Angry", "notes.txt")              # not a video: ignored
    _touch(tmp_path, "Val", "Surprise", "d.mp4")
    clips = load_afew(tmp_path)
    assert [p.name for p in clips.paths] == ["c.avi", "a.avi", "b.avi", "d.mp4"]
    assert clips.labels.tolist() == [0, 3, 3, 6]
    assert clips.splits.tolist() == ["Train", "Train", "Train", "Val"]
    assert clips.split("Train").class_counts()["Happy"] == 2
    assert len(clips.split("Val")) == 1


def test_accepts_afew_release_folder_spellings(tmp_path):
    _touch(tmp_path, "Train_AFEW", "neutral", "x.avi")
    _touch(tmp_path, "Val_AFEW", "SAD", "y.avi")
    clips = load_afew(tmp_path)
    assert [AFEW_CLASSES[i] for i in clips.labels] == ["Neutral", "Sad"]
    assert find_afew(tmp_path) == tmp_path


def test_matches_the_clips_written_by_the_sample_data(tmp_path):
    written = write_sample_clips(tmp_path, 12, seed=1)
    clips = load_afew(tmp_path)
    expected = {p: c for p, c in written}
    assert len(clips) == 12
    assert all(expected[p] == c for p, c in zip(clips.paths, clips.labels))


def test_unknown_emotion_folder_is_named(tmp_path):
    _touch(tmp_path, "Train", "Contempt", "x.avi")
    with pytest.raises(DataFormatError, match="Contempt.*expected an emotion folder"):
        load_afew(tmp_path, splits="Train")


def test_missing_root_or_split_says_how_to_get_afew(tmp_path):
    with pytest.raises(DataNotFoundError, match="EmotiW organisers"):
        load_afew(tmp_path / "nowhere")
    _touch(tmp_path, "Train", "Fear", "x.avi")
    with pytest.raises(DataNotFoundError, match="Val"):
        load_afew(tmp_path)
    with pytest.raises(DataNotFoundError):
        find_afew(tmp_path / "Train" / "Fear")


def test_split_without_clips_is_an_error(tmp_path):
    (tmp_path / "Train" / "Fear").mkdir(parents=True)
    with pytest.raises(DataFormatError, match="no clips"):
        load_afew(tmp_path, splits="Train")


def test_seed_counts_add_up_to_the_published_totals():
    assert {k: sum(v) for k, v in AFEW_COUNTS.items()} == {"Train": 773, "Val": 383, "Test": 653}
    assert np.argmax(AFEW_COUNTS["Test"]) == AFEW_CLASSES.index("Neutral")
