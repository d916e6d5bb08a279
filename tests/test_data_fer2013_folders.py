"""Image-folder layouts of FER2013: every Pillow image type, bit depth, and bad file, named."""
import logging

import numpy as np
import pytest
from PIL import Image

from emolib.data import ferplus_targets, load_fer2013
from emolib.data.ferplus import MODES
from emolib.errors import DataFormatError


def class_folder(root, cls="happy", top="train"):
    folder = root / top / cls
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_16_bit_png_is_scaled_to_8_bits(tmp_path):
    a = np.random.default_rng(0).integers(0, 65536, (48, 48)).astype(np.uint16)
    Image.fromarray(a).save(class_folder(tmp_path) / "Training_1.png")
    ds = load_fer2013(tmp_path)
    assert np.array_equal(ds.images[0], np.rint(a / 257).astype(np.uint8))


def test_mid_grey_16_bit_png_stays_mid_grey(tmp_path):
    Image.fromarray(np.full((48, 48), 127 * 257, np.uint16)).save(class_folder(tmp_path) / "Training_1.png")
    assert load_fer2013(tmp_path).images.mean() == 127


@pytest.mark.parametrize("scale", [1.0, 255.0])
def test_float_tiff_in_unit_or_byte_range_is_scaled(tmp_path, scale):
    a = np.random.default_rng(1).integers(0, 256, (48, 48))
    Image.fromarray((a / 255 * scale).astype(np.float32)).save(class_folder(tmp_path) / "Training_1.tif")
    assert np.abs(load_fer2013(tmp_path).images[0].astype(int) - a).max() <= 1


def test_float_tiff_with_negative_values_is_named(tmp_path):
    Image.fromarray(np.full((48, 48), -3.0, np.float32)).save(class_folder(tmp_path) / "Training_1.tif")
    with pytest.raises(DataFormatError, match="Training_1.tif.*0-255"):
        load_fer2013(tmp_path)


def test_decompression_bomb_is_named(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((120, 120), np.uint8)).save(class_folder(tmp_path) / "Training_bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(DataFormatError, match="Training_bomb.png.*decompression bomb"):
        load_fer2013(tmp_path)


def test_gif_and_webp_are_read_and_other_files_are_counted_and_logged(tmp_path, caplog):
    folder = class_folder(tmp_path)
    Image.fromarray(np.full((48, 48), 60, np.uint8)).save(folder / "Training_1.gif")
    Image.fromarray(np.full((48, 48), 90, np.uint8)).save(folder / "Training_2.webp", lossless=True)
    (folder / "notes.txt").write_text("not an image")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    with caplog.at_level(logging.WARNING, logger="emolib"):
        ds = load_fer2013(tmp_path)
    assert len(ds) == 2 and sorted(ds.images.mean(axis=(1, 2)).tolist()) == [60, 90]
    assert any("skipped 2 files" in r.getMessage() and "notes.txt" in r.getMessage() for r in caplog.records)


def ferplus_tree(tmp_path, label_bytes, names=("fer0000001.png",)):
    folder = tmp_path / "FER2013Train"
    folder.mkdir()
    for name in names:
        Image.fromarray(np.full((48, 48), 5, np.uint8)).save(folder / name)
    (folder / "label.csv").write_bytes(label_bytes)
    return tmp_path


def test_ferplus_row_without_votes_is_unknown_not_neutral(tmp_path):
    root = ferplus_tree(tmp_path, b'fer0000001.png,"(0, 0, 48, 48)",0,0,0,0,0,0,0,0,0,0\n')
    ds = load_fer2013(root)
    assert ds.classes[ds.labels[0]] == "unknown"


@pytest.mark.parametrize("mode", MODES)
def test_rows_without_votes_are_dropped_by_every_label_mode(mode):
    votes = np.array([[0] * 10, [9, 1] + [0] * 8])
    assert ferplus_targets(votes, mode).keep.tolist() == [False, True]


def test_ferplus_label_csv_with_bom_is_read(tmp_path):
    root = ferplus_tree(tmp_path, b'\xef\xbb\xbffer0000001.png,"(0, 0, 48, 48)",0,8,1,0,0,0,0,0,1,0\n')
    assert load_fer2013(root).votes.tolist() == [[0, 8, 1, 0, 0, 0, 0, 0, 1, 0]]


def test_latin1_label_csv_is_read_with_a_warning_naming_the_offset(tmp_path, caplog):
    name = "visage_é.png"
    line = f'{name},"(0, 0, 48, 48)",0,8,1,0,0,0,0,0,1,0\n'.encode("latin-1")
    root = ferplus_tree(tmp_path, line, names=(name,))
    with caplog.at_level(logging.WARNING, logger="emolib"):
        ds = load_fer2013(root)
    assert len(ds) == 1
    assert any("label.csv" in r.getMessage() and "offset 7" in r.getMessage() for r in caplog.records)


def test_label_agreement_counts_a_row_without_votes_as_unknown():
    from emolib.data import label_agreement

    result = label_agreement(np.array([6, 6]), np.array([[0] * 10, [10] + [0] * 9]))   # 6: neutral
    assert result["argmax"] == 0.5
    assert result["crosstab"].loc["neutral", "unknown"] == 1
