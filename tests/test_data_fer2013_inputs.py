"""load_fer2013 on awkward real-world inputs: packaging, encodings, line ends, and bad values."""
import bz2
import codecs
import io
import logging
import lzma
import os
import tarfile
import zipfile

import numpy as np
import pytest

from emolib.data import load_fer2013
from emolib.data.fer2013 import parse_fer2013_csv
from emolib.errors import DataFormatError, DataReadError

HEADER = "emotion,pixels,Usage\n"
USAGES = ["Training", "Training", "PublicTest", "PrivateTest", "Training"]


def pixels(seed, n=2304):
    return [int(x) for x in np.random.default_rng(seed).integers(0, 256, n)]


def csv_text(header=HEADER, n=5, newline="\n", row=lambda e, p, u: f"{e},{p},{u}"):
    body = [row(i % 7, " ".join(map(str, pixels(i))), USAGES[i % 5]) for i in range(n)]
    return header.rstrip("\n") + newline + newline.join(body) + newline


def expected(n=5):
    return (np.array([pixels(i) for i in range(n)], np.uint8).reshape(n, 48, 48),
            [i % 7 for i in range(n)], [USAGES[i % 5] for i in range(n)])


def assert_parses_like_the_plain_csv(path, n=5, **kwargs):
    images, labels, usage = parse_fer2013_csv(path, progress=False, **kwargs)
    want = expected(n)
    assert np.array_equal(images, want[0])
    assert labels.tolist() == want[1] and usage.tolist() == want[2]


# --- values ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["65537", "256", "1000", "0255"])
def test_out_of_range_pixel_value_names_file_row_and_value(tmp_path, value):
    lines = csv_text().splitlines(keepends=True)          # lines[3] is data row 3
    e, p, u = lines[3].rstrip("\n").split(",")
    tokens = p.split()
    tokens[10] = value
    lines[3] = f"{e},{' '.join(tokens)},{u}\n"
    path = tmp_path / "wrap.csv"
    path.write_text("".join(lines))
    with pytest.raises(DataFormatError) as err:
        load_fer2013(path, progress=False)
    assert err.value.row == 3 and err.value.field == "pixels"
    assert "wrap.csv" in str(err.value) and value in str(err.value) and "0-255" in str(err.value)


def test_loose_spacing_is_parsed_like_the_tidy_file(tmp_path):
    path = tmp_path / "loose.csv"
    path.write_text(csv_text(row=lambda e, p, u: f" {e} ,  {p.replace(' ', '  ')} , {u} "))
    assert_parses_like_the_plain_csv(path)


@pytest.mark.parametrize("header, row", [
    ("Usage,id,pixels,emotion\n", lambda e, p, u: f"{u},{e}9,{p},{e}"),
    ("pixels,emotion,Usage\n", lambda e, p, u: f"{p},{e},{u}"),
    ("emotion,Usage,pixels\n", lambda e, p, u: f"{e},{u},{p}"),
])
def test_columns_in_any_order_and_extra_columns_are_accepted(tmp_path, header, row):
    path = tmp_path / "reordered.csv"
    path.write_text(csv_text(header=header, row=row))
    assert_parses_like_the_plain_csv(path)


# --- header -----------------------------------------------------------------------------------

def test_quoted_header_and_quoted_fields_are_accepted(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text(csv_text(header='"emotion","pixels","Usage"\n', row=lambda e, p, u: f'"{e}","{p}","{u}"'))
    assert_parses_like_the_plain_csv(path)


def test_a_column_named_twice_is_an_error(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text(csv_text(header="emotion,Emotion,pixels,Usage\n", row=lambda e, p, u: f"{e},{e},{p},{u}"))
    with pytest.raises(DataFormatError, match="twice.csv.*'emotion'.*more than once"):
        load_fer2013(path, progress=False)


def test_missing_usage_column_is_an_error_naming_the_column(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(csv_text(header="emotion,pixels\n", row=lambda e, p, u: f"{e},{p}"))
    with pytest.raises(DataFormatError) as err:
        load_fer2013(path, progress=False)
    assert "train.csv" in str(err.value) and "'Usage'" in str(err.value) and err.value.row == 0


# --- line ends ----------------------------------------------------------------------------------

@pytest.mark.parametrize("newline", ["\r", "\r\n", "\n"])
@pytest.mark.parametrize("chunk_bytes", [1, 3000, 1 << 20])
def test_line_ends_of_every_platform_parse_alike(tmp_path, newline, chunk_bytes):
    path = tmp_path / "ends.csv"
    path.write_bytes(csv_text(newline=newline).encode())
    assert_parses_like_the_plain_csv(path, chunk_bytes=chunk_bytes, workers=2)


def test_missing_final_newline_and_trailing_blank_lines_are_fine(tmp_path):
    path = tmp_path / "tail.csv"
    path.write_text(csv_text().rstrip("\n"))
    assert_parses_like_the_plain_csv(path)
    path.write_text(csv_text() + "\n  \n\n")
    assert_parses_like_the_plain_csv(path, chunk_bytes=1)


def test_blank_line_between_rows_is_an_error_naming_its_row(tmp_path):
    lines = csv_text().splitlines(keepends=True)
    path = tmp_path / "gap.csv"
    path.write_text("".join(lines[:3] + ["\n"] + lines[3:]))
    with pytest.raises(DataFormatError) as err:
        parse_fer2013_csv(path, progress=False)
    assert err.value.row == 3 and "empty line" in str(err.value)


# --- encodings ----------------------------------------------------------------------------------

@pytest.mark.parametrize("codec, bom", [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
                                        ("utf-16-le", b""), ("utf-8", codecs.BOM_UTF8),
                                        ("utf-32-le", codecs.BOM_UTF32_LE)])
def test_unicode_encodings_are_decoded(tmp_path, codec, bom):
    path = tmp_path / "wide.csv"
    path.write_bytes(bom + csv_text().encode(codec))
    assert_parses_like_the_plain_csv(path, chunk_bytes=777)


def test_latin1_header_is_reported_not_garbled(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("émotion,pixels,Usage\n0,1,Training\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match="latin.csv.*emotion"):
        load_fer2013(path, progress=False)


# --- packaging ----------------------------------------------------------------------------------

def test_kaggle_tarball_is_read_through_its_csv_member(tmp_path):
    path = tmp_path / "fer2013.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in [("fer2013/README", b"readme"), ("fer2013/fer2013.bib", b"@misc{}"),
                           ("fer2013/fer2013.csv", csv_text().encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert_parses_like_the_plain_csv(path)
    ds = load_fer2013(path, progress=False)
    assert len(ds) == 5


def test_a_data_dir_holding_only_the_kaggle_tarball_is_found(tmp_path):
    from emolib.data.profiles import find_fer2013

    (tmp_path / "fer2013.tar.gz").write_bytes(b"")
    assert find_fer2013(tmp_path) == tmp_path / "fer2013.tar.gz"


def test_zip_is_read_through_its_single_csv(tmp_path):
    path = tmp_path / "fer2013.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("__MACOSX/._fer2013.csv", b"\x00\x05junk")
        z.writestr("fer2013.csv", csv_text())
    assert_parses_like_the_plain_csv(path)


def test_archive_without_exactly_one_csv_lists_its_members(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("train.csv", csv_text())
        z.writestr("test.csv", csv_text())
    with pytest.raises(DataFormatError, match=r"two.zip.*exactly one \.csv.*train.csv"):
        load_fer2013(path, progress=False)


@pytest.mark.parametrize("opener", [bz2.open, lzma.open])
def test_bz2_and_xz_compression_are_recognised_by_content(tmp_path, opener):
    path = tmp_path / "fer2013.data"
    with opener(path, "wt") as f:
        f.write(csv_text())
    assert_parses_like_the_plain_csv(path)


# --- paths --------------------------------------------------------------------------------------

@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_names_the_path(tmp_path):
    path = tmp_path / "locked.csv"
    path.write_text(csv_text())
    path.chmod(0)
    with pytest.raises(DataReadError, match="locked.csv"):
        load_fer2013(path, progress=False)


def test_folder_given_to_the_csv_parser_names_the_path(tmp_path):
    with pytest.raises(DataReadError, match=str(tmp_path)):
        parse_fer2013_csv(tmp_path, progress=False)


def test_empty_gzip_is_reported_as_an_empty_file(tmp_path):
    import gzip

    path = tmp_path / "empty.csv.gz"
    with gzip.open(path, "wb"):
        pass
    with pytest.raises(DataFormatError, match="empty.csv.gz.*empty file"):
        load_fer2013(path, progress=False)


# --- cache --------------------------------------------------------------------------------------

def _only_cache_file(home):
    files = list((home / "arrays").glob("fer2013-*.npz"))
    assert len(files) == 1
    return files[0]


@pytest.mark.parametrize("damage", ["truncate", "foreign"])
def test_damaged_cache_is_logged_deleted_and_rebuilt(tmp_path, monkeypatch, caplog, damage):
    monkeypatch.setenv("EMOLIB_HOME", str(tmp_path / "home"))
    path = tmp_path / "f.csv"
    path.write_text(csv_text())
    first = load_fer2013(path, progress=False)
    cached = _only_cache_file(tmp_path / "home")
    if damage == "truncate":
        cached.write_bytes(cached.read_bytes()[:300])
    else:
        np.savez(cached, something=np.arange(3))
    with caplog.at_level(logging.WARNING, logger="emolib"):
        again = load_fer2013(path, progress=False)
    assert np.array_equal(again.images, first.images) and again.labels.tolist() == first.labels.tolist()
    assert any(cached.name in r.getMessage() or "cache" in r.getMessage() for r in caplog.records)
    third = np.load(_only_cache_file(tmp_path / "home"))        # rebuilt, readable
    assert np.array_equal(third["images"], first.images)
