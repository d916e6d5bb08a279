"""load_clips: the sample profile's drawn clips, or an AFEW folder, or a clear error."""
import cv2
import numpy as np
import pytest

from emolib.config import profile
from emolib.errors import DataNotFoundError
from emolib.video.clips import load_clips


def write_afew(root, layout):
    """An AFEW-layout folder: {split: {emotion: n_clips}}, each clip two black MJPEG frames."""
    for split, emotions in layout.items():
        for emotion, n in emotions.items():
            folder = root / split / emotion
            folder.mkdir(parents=True)
            for k in range(n):
                writer = cv2.VideoWriter(str(folder / f"{k:03d}.avi"), cv2.VideoWriter_fourcc(*"MJPG"),
                                         10, (16, 16))
                for _ in range(2):
                    writer.write(np.zeros((16, 16, 3), np.uint8))
                writer.release()
    return root


def test_sample_profile_writes_its_clips_in_dest(tmp_path):
    clips = load_clips(profile("sample", n_clips=7), None, dest=tmp_path)
    assert len(clips) == 7
    assert clips.root == tmp_path
    assert all(p.is_file() and tmp_path in p.parents for p in clips.paths)


def test_sample_clips_are_the_same_for_the_same_seed(tmp_path):
    a = load_clips(profile("sample", n_clips=6), None, dest=tmp_path / "a")
    b = load_clips(profile("sample", n_clips=6), None, dest=tmp_path / "b")
    assert a.labels.tolist() == b.labels.tolist() and a.splits.tolist() == b.splits.tolist()


def test_full_profile_reads_afew_from_data_dir(tmp_path):
    write_afew(tmp_path / "AFEW", {"Train": {"Happy": 2, "Sad": 1}, "Val": {"Angry": 1}})
    clips = load_clips(profile("full"), tmp_path)
    assert clips.class_counts()["Happy"] == 2
    assert sorted(clips.splits.tolist()) == ["Train", "Train", "Train", "Val"]


def test_full_profile_without_data_dir_names_what_to_set():
    with pytest.raises(DataNotFoundError, match="DATA_DIR.*Train/"):
        load_clips(profile("full"), None)


def test_full_profile_with_an_empty_folder_names_the_missing_split(tmp_path):
    with pytest.raises(DataNotFoundError, match="Train"):
        load_clips(profile("full"), tmp_path)
