"""load_fer2013: the three real formats, caching, and clear errors on bad input."""
import gzip
import time

import numpy as np
import pytest
from PIL import Image

from emolib.data import FER2013_CLASSES, load_fer2013
from emolib.errors import DataFormatError, DataNotFoundError

HEADER = "emotion,pixels,Usage\n"


def pixel_string(seed, n=2304, replace=None):
    tokens = list(map(str, np.random.default_rng(seed).integers(0, 256, n)))
    if replace is not None:
        tokens[10] = replace
    return " ".join(tokens)


def write_csv(path, rows, header=HEADER, gz=False):
    text = header + "".join(f"{e},{p},{u}\n" for e, p, u in rows)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture
def rows():
    usages = ["Training"] * 5 + ["PublicTest"] * 2 + ["PrivateTest"]
    return [(i % 7, pixel_string(i), u) for i, u in enumerate(usages)]


def test_csv_round_trips_pixels_labels_and_usage(tmp_path, rows):
    ds = load_fer2013(write_csv(tmp_path / "f.csv", rows), progress=False)
    assert ds.images.shape == (8, 48, 48) and ds.images.dtype == np.uint8
    assert ds.labels.tolist() == [r[0] for r in rows]
    assert ds.usage.tolist() == [r[2] for r in rows]
    assert ds.images[3].ravel().tolist() == list(map(int, rows[3][1].split()))
    assert ds.classes == FER2013_CLASSES


def test_gzip_csv_gives_the_same_dataset(tmp_path, rows):
    plain = load_fer2013(write_csv(tmp_path / "f.csv", rows), progress=False, cache=False)
    packed = load_fer2013(write_csv(tmp_path / "f.csv.gz", rows, gz=True), progress=False, cache=False)
    assert np.array_equal(plain.images, packed.images) and np.array_equal(plain.labels, packed.labels)


def test_usage_filter_keeps_only_that_split(tmp_path, rows):
    ds = load_fer2013(write_csv(tmp_path / "f.csv", rows), usage="PublicTest", progress=False)
    assert len(ds) == 2 and set(ds.usage) == {"PublicTest"}


def test_threaded_parse_matches_single_thread_parse(tmp_path):
    from emolib.data.fer2013 import parse_fer2013_csv

    many = [(i % 7, pixel_string(i), "Training") for i in range(40)]
    path = write_csv(tmp_path / "f.csv", many)
    serial = parse_fer2013_csv(path, progress=False, workers=1, chunk_bytes=20000)
    parallel = parse_fer2013_csv(path, progress=False, workers=2, chunk_bytes=20000)
    for a, b in zip(serial, parallel):
        assert np.array_equal(a, b)


def test_reload_comes_from_the_cache_keyed_by_content(tmp_path, rows, monkeypatch):
    import emolib.data.fer2013 as fer

    path = write_csv(tmp_path / "f.csv", rows)
    first = load_fer2013(path, progress=False)
    calls = []
    monkeypatch.setattr(fer, "parse_fer2013_csv", lambda *a, **k: calls.append(1))
    again = load_fer2013(path, progress=False)
    assert calls == [] and np.array_equal(first.images, again.images)
    # A changed file has another hash, so it is parsed again, not served stale.
    monkeypatch.undo()
    time.sleep(0.01)
    write_csv(path, rows[:3])
    assert len(load_fer2013(path, progress=False)) == 3


def test_class_folder_tree_reads_classes_and_usage_from_names(tmp_path):
    for top, cls, name in [("train", "happy", "Training_1.jpg"), ("train", "angry", "Training_2.jpg"),
                           ("test", "neutral", "PrivateTest_3.jpg"), ("test", "sad", "PublicTest_4.jpg")]:
        (tmp_path / top / cls).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((48, 48), 100, np.uint8)).save(tmp_path / top / cls / name)
    ds = load_fer2013(tmp_path)
    assert len(ds) == 4
    assert sorted(zip(ds.usage.tolist(), [ds.classes[i] for i in ds.labels])) == [
        ("PrivateTest", "neutral"), ("PublicTest", "sad"), ("Training", "angry"), ("Training", "happy")]


def test_ferplus_png_layout_reads_votes(tmp_path):
    folder = tmp_path / "FER2013Valid"
    folder.mkdir()
    Image.fromarray(np.full((48, 48), 7, np.uint8)).save(folder / "fer0000001.png")
    (folder / "label.csv").write_text('fer0000001.png,"(0, 0, 48, 48)",0,8,1,0,0,0,0,0,1,0\n')
    ds = load_fer2013(tmp_path)
    assert ds.usage.tolist() == ["PublicTest"]
    assert ds.votes.tolist() == [[0, 8, 1, 0, 0, 0, 0, 0, 1, 0]]
    assert ds.classes[ds.labels[0]] == "happiness" and ds.images[0, 0, 0] == 7


# --- bad input: each gets an error naming the file, the row or field, and what was expected ---

def bad_csv(tmp_path, line, header=HEADER):
    path = tmp_path / "bad.csv"
    path.write_text(header + f"0,{pixel_string(0)},Training\n" + line)
    return path


@pytest.mark.parametrize("line, row, field, expected", [
    (f"9,{pixel_string(1)},Training\n", 2, "emotion", "class 0-6"),
    (f"x,{pixel_string(1)},Training\n", 2, "emotion", "class 0-6"),
    (f"1,{pixel_string(1, 2303)},Training\n", 2, "pixels", "2304"),
    (f"1,{pixel_string(1, 2305)},Training\n", 2, "pixels", "2304"),
    (f"1,{pixel_string(1, replace='abc')},Training\n", 2, "pixels", "0-255"),
    (f"1,{pixel_string(1, replace='1.5')},Training\n", 2, "pixels", "0-255"),
    (f"1,{pixel_string(1, replace='300')},Training\n", 2, "pixels", "0-255"),
    (f"1,{pixel_string(1, replace='-4')},Training\n", 2, "pixels", "0-255"),
    (f"1,{pixel_string(1)},Validation\n", 2, "Usage", "Usage in"),
    (f"1,{pixel_string(1)}\n", 2, None, "3 comma-separated fields"),
])
def test_bad_rows_name_the_row_and_field(tmp_path, line, row, field, expected):
    with pytest.raises(DataFormatError) as err:
        load_fer2013(bad_csv(tmp_path, line), progress=False)
    assert err.value.row == row and err.value.field == field
    assert "bad.csv" in str(err.value) and expected in str(err.value)


def test_wrong_header_is_rejected(tmp_path):
    with pytest.raises(DataFormatError, match="header"):
        load_fer2013(bad_csv(tmp_path, "", header="label,image,split\n"), progress=False)


def test_empty_file_is_rejected(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataFormatError, match="empty file"):
        load_fer2013(tmp_path / "empty.csv", progress=False)


def test_header_without_rows_is_rejected(tmp_path):
    (tmp_path / "h.csv").write_text(HEADER)
    with pytest.raises(DataFormatError, match="at least one data row"):
        load_fer2013(tmp_path / "h.csv", progress=False)


def test_missing_path_says_how_to_get_the_data(tmp_path):
    with pytest.raises(DataNotFoundError, match="Kaggle"):
        load_fer2013(tmp_path / "nope.csv")


def test_truncated_gzip_is_rejected(tmp_path, rows):
    path = write_csv(tmp_path / "f.csv.gz", rows, gz=True)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataFormatError, match="gzip"):
        load_fer2013(path, progress=False)


def test_unknown_class_folder_is_rejected(tmp_path):
    (tmp_path / "train" / "contempt").mkdir(parents=True)
    with pytest.raises(DataFormatError, match="class folder"):
        load_fer2013(tmp_path)


def test_corrupt_image_file_is_named(tmp_path):
    (tmp_path / "train" / "happy").mkdir(parents=True)
    (tmp_path / "train" / "happy" / "Training_1.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(DataFormatError, match="Training_1.jpg"):
        load_fer2013(tmp_path)


def test_folder_of_another_layout_is_rejected(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(DataFormatError, match="train/ and test/"):
        load_fer2013(tmp_path)


def test_ferplus_label_csv_with_wrong_field_count_is_rejected(tmp_path):
    folder = tmp_path / "FER2013Train"
    folder.mkdir()
    (folder / "label.csv").write_text("fer0000001.png,1,2\n")
    with pytest.raises(DataFormatError, match="12 fields"):
        load_fer2013(tmp_path)


def test_unknown_usage_argument_is_rejected(tmp_path, rows):
    with pytest.raises(ValueError, match="usage"):
        load_fer2013(write_csv(tmp_path / "f.csv", rows), usage="Test", progress=False)


def test_errors_from_parsing_threads_name_row_and_field(tmp_path):
    good = [(i % 7, pixel_string(i), "Training") for i in range(6)]
    path = write_csv(tmp_path / "f.csv", good + [(3, pixel_string(9, 100), "Training")])
    from emolib.data.fer2013 import parse_fer2013_csv

    with pytest.raises(DataFormatError) as err:
        parse_fer2013_csv(path, progress=False, workers=2, chunk_bytes=9000)
    assert err.value.row == 7 and err.value.field == "pixels"


@pytest.mark.parametrize("chunk_bytes", [1, 30000, 1 << 22])
def test_streamed_gzip_pieces_keep_row_order_and_numbers(tmp_path, chunk_bytes):
    from emolib.data.fer2013 import parse_fer2013_csv

    many = [(i % 7, pixel_string(i), ("Training", "PublicTest")[i % 2]) for i in range(13)]
    images, labels, usage = parse_fer2013_csv(write_csv(tmp_path / "f.csv.gz", many, gz=True),
                                              progress=False, workers=1, chunk_bytes=chunk_bytes)
    assert labels.tolist() == [r[0] for r in many] and usage.tolist() == [r[2] for r in many]
    assert [img.ravel().tolist() for img in images] == [list(map(int, r[1].split())) for r in many]

    bad = many[:11] + [(2, pixel_string(2, replace="x7"), "Training")] + many[12:]
    with pytest.raises(DataFormatError) as err:
        parse_fer2013_csv(write_csv(tmp_path / "g.csv.gz", bad, gz=True), progress=False,
                          workers=1, chunk_bytes=chunk_bytes)
    assert err.value.row == 12 and "x7" in str(err.value)


def test_crlf_and_trailing_blank_lines_are_accepted_but_inner_blank_lines_are_not(tmp_path, rows):
    from emolib.data.fer2013 import parse_fer2013_csv

    text = HEADER + "".join(f"{e},{p},{u}\n" for e, p, u in rows)
    path = tmp_path / "crlf.csv"
    path.write_bytes(text.replace("\n", "\r\n").encode() + b"\r\n\r\n  \n")
    _, labels, usage = parse_fer2013_csv(path, progress=False, workers=1, chunk_bytes=5000)
    assert labels.tolist() == [r[0] for r in rows] and usage.tolist() == [r[2] for r in rows]

    lines = text.splitlines(keepends=True)
    path.write_text("".join(lines[:4] + ["\n"] + lines[4:]))
    with pytest.raises(DataFormatError) as err:
        parse_fer2013_csv(path, progress=False, workers=1, chunk_bytes=5000)
    assert err.value.row == 4


def test_gzip_cut_after_some_pieces_is_still_rejected(tmp_path):
    many = [(i % 7, pixel_string(i), "Training") for i in range(30)]
    path = write_csv(tmp_path / "f.csv.gz", many, gz=True)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) * 2 // 3])
    from emolib.data.fer2013 import parse_fer2013_csv

    with pytest.raises(DataFormatError, match="gzip"):
        parse_fer2013_csv(path, progress=False, workers=2, chunk_bytes=5000)
