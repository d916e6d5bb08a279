"""FER+ votes: reading fer2013new.csv and joining it to FER2013 by row position."""
import numpy as np
import pytest

from emolib.data import FaceDataset, attach_ferplus_votes, load_ferplus_votes
from emolib.errors import DataFormatError, DataNotFoundError

HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"


def write_votes(path, rows):
    path.write_text(HEADER + "".join(f"{u},{n}," + ",".join(map(str, v)) + "\n" for u, n, v in rows))
    return path


def test_votes_keep_row_order_not_image_names(tmp_path):
    # Names deliberately out of order and one empty: position is what joins the files.
    path = write_votes(tmp_path / "v.csv", [("Training", "fer0000003.png", [10] + [0] * 9),
                                           ("Training", "", [0] * 9 + [10]),
                                           ("PublicTest", "fer0000001.png", [0, 9, 0, 0, 0, 0, 0, 0, 0, 0])])
    votes, usage = load_ferplus_votes(path, return_usage=True)
    assert votes.shape == (3, 10) and votes[0, 0] == 10 and votes[1, 9] == 10 and votes[2].sum() == 9
    assert usage.tolist() == ["Training", "Training", "PublicTest"]


def test_attach_checks_usage_row_by_row(tmp_path):
    path = write_votes(tmp_path / "v.csv", [("Training", "a", [10] + [0] * 9),
                                           ("PublicTest", "b", [10] + [0] * 9)])
    ds = FaceDataset(np.zeros((2, 48, 48), np.uint8), np.array([6, 6]), np.array(["Training", "Training"]))
    with pytest.raises(DataFormatError) as err:
        attach_ferplus_votes(ds, path)
    assert err.value.row == 2 and err.value.field == "Usage"
    ok = FaceDataset(ds.images, ds.labels, np.array(["Training", "PublicTest"]))
    assert attach_ferplus_votes(ok, path).votes.shape == (2, 10)


@pytest.mark.parametrize("body, match", [
    ("Training,a,1,2,3\n", "columns"),
    ("", "at least one data row"),
])
def test_malformed_vote_files_are_rejected(tmp_path, body, match):
    path = tmp_path / "v.csv"
    path.write_text((HEADER if match != "columns" else "Usage,name,a\n") + body)
    with pytest.raises(DataFormatError, match=match):
        load_ferplus_votes(path)


def test_non_integer_vote_names_row_and_column(tmp_path):
    path = write_votes(tmp_path / "v.csv", [("Training", "a", [10] + [0] * 9),
                                           ("Training", "b", [0, 0, "x", 0, 0, 0, 0, 0, 0, 0])])
    with pytest.raises(DataFormatError) as err:
        load_ferplus_votes(path)
    assert err.value.row == 2 and err.value.field == "surprise"


def test_more_than_ten_votes_is_rejected(tmp_path):
    path = write_votes(tmp_path / "v.csv", [("Training", "a", [10, 5] + [0] * 8)])
    with pytest.raises(DataFormatError, match="at most 10"):
        load_ferplus_votes(path)


def test_missing_vote_file_says_how_to_get_it(tmp_path):
    with pytest.raises(DataNotFoundError, match="download_ferplus_labels"):
        load_ferplus_votes(tmp_path / "fer2013new.csv")


def test_vote_file_with_bom_and_quoted_header_is_read(tmp_path):
    quoted = ",".join(f'"{c}"' for c in HEADER.strip().split(",")) + "\n"
    path = tmp_path / "v.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (quoted + "Training,fer0000000.png,10,0,0,0,0,0,0,0,0,0\n").encode())
    votes, usage = load_ferplus_votes(path, return_usage=True)
    assert votes.tolist() == [[10] + [0] * 9] and usage.tolist() == ["Training"]


def test_latin1_vote_file_is_read_with_a_warning_naming_file_and_offset(tmp_path, caplog):
    import logging

    path = tmp_path / "fer2013new.csv"
    path.write_bytes((HEADER + "Training,visage_é.png,0,10,0,0,0,0,0,0,0,0\n").encode("latin-1"))
    with caplog.at_level(logging.WARNING, logger="emolib"):
        votes = load_ferplus_votes(path)
    assert votes.tolist() == [[0, 10] + [0] * 8]
    offset = len(HEADER) + len("Training,visage_")
    assert any("fer2013new.csv" in r.getMessage() and f"offset {offset}" in r.getMessage() for r in caplog.records)


def test_utf16_vote_file_is_read(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text(HEADER + "PublicTest,a,0,0,10,0,0,0,0,0,0,0\n", encoding="utf-16")
    assert load_ferplus_votes(path).tolist() == [[0, 0, 10] + [0] * 7]


def test_vote_folder_instead_of_file_is_rejected(tmp_path):
    with pytest.raises(DataFormatError, match="not a folder"):
        load_ferplus_votes(tmp_path)
