"""emolib.book: the chapter helpers (tolerance bands and glue)."""
import math

import pytest

from emolib.book import check_band, glue


def test_check_band_prints_a_line_without_the_value(capsys):
    check_band("sample accuracy", 0.4567891, 0.3, 0.8)
    assert capsys.readouterr().out == "sample accuracy: within [0.3, 0.8]\n"


def test_check_band_returns_nothing_so_a_cell_shows_only_the_line():
    assert check_band("x", 0.5, 0.0, 1.0) is None


def test_check_band_fails_outside_the_band_naming_quantity_value_and_band():
    with pytest.raises(AssertionError, match=r"sample accuracy = 0.95 is outside its tolerance band \[0.3, 0.8\]"):
        check_band("sample accuracy", 0.95, 0.3, 0.8)


def test_check_band_fails_on_nan():
    with pytest.raises(AssertionError, match="nan"):
        check_band("loss", math.nan, 0.0, 10.0)


def test_glue_returns_nothing_and_displays_nothing_without_a_book(monkeypatch, capsys):
    monkeypatch.setenv("EMOLIB_NO_GLUE", "1")
    assert glue("acc", 0.6258, "{:.1%}") is None
    assert capsys.readouterr().out == ""
