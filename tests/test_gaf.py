"""The GAF layout reader (train|val/<Positive|Neutral|Negative>/*.jpg) and the group data loader."""
import numpy as np
import pytest

from emolib.data.gaf import load_gaf
from emolib.data.sample import GROUP_CLASSES
from emolib.errors import DataFormatError, DataNotFoundError


def _jpg(path, value=128, size=(40, 60)):
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((*size, 3), value, np.uint8)
    img[:, : size[1] // 2, 0] = 255 - value                  # not uniform: a real decode is checked
    assert cv2.imwrite(str(path), img)


def make_gaf(root, counts=None, names=GROUP_CLASSES, splits=("train", "val")):
    counts = counts or {"train": (3, 2, 1), "val": (1, 1, 2)}
    for split in splits:
        for name, n in zip(names, counts[split]):
            for i in range(n):
                _jpg(root / split / name / f"{name[:3].lower()}_{i}.jpg", value=40 * i + 20)
    return root


def test_load_gaf_lists_every_image_with_its_class_and_split(tmp_path):
    ds = load_gaf(make_gaf(tmp_path))
    assert len(ds) == 10
    assert ds.classes == ("Positive", "Neutral", "Negative")
    assert ds.only("train").class_counts() == {"Positive": 3, "Neutral": 2, "Negative": 1}
    assert ds.only("val").class_counts() == {"Positive": 1, "Neutral": 1, "Negative": 2}
    for path, label in zip(ds.paths, ds.labels):
        assert path.parent.name == GROUP_CLASSES[label]


def test_load_gaf_reads_one_split_on_request(tmp_path):
    ds = load_gaf(make_gaf(tmp_path), split="val")
    assert set(ds.split) == {"val"} and len(ds) == 4


def test_load_gaf_matches_folder_names_case_insensitively(tmp_path):
    make_gaf(tmp_path / "x", names=("positive", "NEUTRAL", "Negative"), splits=("train",),
             counts={"train": (1, 1, 1)})
    (tmp_path / "x" / "train").rename(tmp_path / "x" / "Train")
    ds = load_gaf(tmp_path / "x")
    assert ds.class_counts() == {"Positive": 1, "Neutral": 1, "Negative": 1}


def test_gaf_image_decodes_rgb(tmp_path):
    ds = load_gaf(make_gaf(tmp_path))
    img = ds.image(0)
    assert img.dtype == np.uint8 and img.shape == (40, 60, 3)


def test_load_gaf_missing_root_says_how_to_get_the_data(tmp_path):
    with pytest.raises(DataNotFoundError, match="EmotiW"):
        load_gaf(tmp_path / "nowhere")


def test_load_gaf_missing_class_folder_names_it(tmp_path):
    make_gaf(tmp_path)
    for f in (tmp_path / "val" / "Neutral").iterdir():
        f.unlink()
    (tmp_path / "val" / "Neutral").rmdir()
    with pytest.raises(DataFormatError, match=r"val[/\\]Neutral"):
        load_gaf(tmp_path)


def test_load_gaf_rejects_unknown_class_folders(tmp_path):
    make_gaf(tmp_path)
    _jpg(tmp_path / "train" / "Happy" / "a.jpg")
    with pytest.raises(DataFormatError, match="Happy"):
        load_gaf(tmp_path)


def test_load_gaf_rejects_an_empty_class_folder(tmp_path):
    make_gaf(tmp_path)
    for f in (tmp_path / "train" / "Negative").iterdir():
        f.unlink()
    with pytest.raises(DataFormatError, match="Negative.*image files"):
        load_gaf(tmp_path)


def test_load_gaf_missing_requested_split_names_it(tmp_path):
    make_gaf(tmp_path, splits=("train",), counts={"train": (1, 1, 1)})
    with pytest.raises(DataFormatError, match="val"):
        load_gaf(tmp_path, split="val")


def test_load_gaf_folder_without_splits_is_a_format_error(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(DataFormatError, match="train/ or val/"):
        load_gaf(tmp_path)


def test_load_group_data_full_profile_reads_gaf(tmp_path):
    from emolib.group import load_group_data

    make_gaf(tmp_path, counts={"train": (4, 4, 4), "val": (2, 1, 1)})
    data = load_group_data("full", tmp_path, val_fraction=0.25)
    assert len(data.train[0]) == 9 and len(data.val[0]) == 3 and len(data.test[0]) == 4
    assert all(str(p).endswith(".jpg") for p in data.test[0])
    assert data.counts().loc["test"].tolist() == [2, 1, 1]


def test_load_group_data_full_profile_needs_a_data_dir():
    from emolib.group import load_group_data

    with pytest.raises(ValueError, match="DATA_DIR"):
        load_group_data("full")


def test_load_group_data_sample_profile_splits_the_scenes():
    from emolib.group import load_group_data

    data = load_group_data("sample")
    sizes = [len(s[0]) for s in (data.train, data.val, data.test)]
    assert sum(sizes) == 120 and sizes == [60, 30, 30]
    assert all(len(s.boxes) == len(s.face_labels) for s in data.train[0])
