"""Rows of the FER2013 CSV to arrays: a vectorised byte tokenizer, and a row-by-row fallback.

:func:`parse_rows` takes a piece of whole lines (``\\n``-separated, no quotes) and returns
``(images, labels, usage)``. The fast path works on the bytes with NumPy: line ends and commas
locate the fields, everything outside the pixel fields is blanked to spaces, and the pixel
tokens are the digit runs, each combined from its last three digits. Anything irregular
(spaces around fields, 4-digit tokens, wrong counts, stray characters) sends the piece to the
row-by-row parser, which accepts what is merely loose and raises on what is wrong, naming the
row, the field and the offending value.
"""
from __future__ import annotations

import numpy as np

from ..errors import DataFormatError
from .dataset import USAGES

__all__ = ["parse_rows", "N_PIXELS"]

N_PIXELS = 48 * 48
_USAGE_BYTES = {u.encode(): u for u in USAGES}
_PIXELS_EXPECTED = "integer pixel values 0-255"


class _Irregular(Exception):
    """The fast path cannot take this piece as it is."""


def parse_rows(source: str, columns: dict[str, int], row0: int, piece: bytes):
    """``(images n x 48 x 48 uint8, labels int64, usage U11)`` of a piece whose first row is ``row0``."""
    try:
        return _fast(columns, piece)
    except _Irregular:
        return _row_by_row(source, columns, row0, piece)


def _fast(columns: dict[str, int], piece: bytes):
    a = np.frombuffer(piece, np.uint8)
    nl = np.flatnonzero(a == 10)
    n, k = len(nl) + 1, columns["n"] - 1
    line_start = np.concatenate(([0], nl + 1))
    line_end = np.append(nl, len(a))
    commas = np.flatnonzero(a == 44)
    if len(commas) != n * k or (np.searchsorted(commas, line_start) != np.arange(n) * k).any():
        raise _Irregular
    commas = commas.reshape(n, k)
    starts = np.column_stack([line_start, commas + 1])       # field j of line i: starts[i, j]..ends[i, j]
    ends = np.column_stack([commas, line_end])

    e0, e1 = starts[:, columns["emotion"]], ends[:, columns["emotion"]]
    labels = a[e0].astype(np.int64) - 48
    if ((e1 - e0) != 1).any() or (labels < 0).any() or (labels > 6).any():
        raise _Irregular
    usage = [_USAGE_BYTES.get(piece[s:e]) for s, e in zip(starts[:, columns["Usage"]].tolist(),
                                                          ends[:, columns["Usage"]].tolist())]
    if None in usage:
        raise _Irregular
    images = _pixels(piece, starts[:, columns["pixels"]], ends[:, columns["pixels"]])
    return images, labels, np.array(usage, "U11")


def _pixels(piece: bytes, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    n = len(p0)
    buf = bytearray(piece)
    buf += b"   "                            # look-behinds at negative indexes land on these spaces
    b = np.frombuffer(buf, np.uint8)
    gaps = np.column_stack([np.append(0, p1[:-1]), p0]).tolist()
    for lo, hi in gaps:                      # blank everything but the pixel fields
        b[lo:hi] = 32
    b[p1[-1]:len(piece)] = 32
    digit = b - np.uint8(48)
    is_digit = digit < 10                                   # non-digits wrapped to >= 10
    if np.count_nonzero(is_digit) + np.count_nonzero(b == 32) != len(b):
        raise _Irregular                                    # a byte that is neither digit nor space
    end = np.flatnonzero(is_digit[:-1] > is_digit[1:])       # last digit of each token
    counts = np.searchsorted(end, p1) - np.searchsorted(end, p0)
    if (counts != N_PIXELS).any():
        raise _Irregular
    if (is_digit[3:] & is_digit[2:-1] & is_digit[1:-2] & is_digit[:-3]).any():
        raise _Irregular                                    # a token of 4 or more digits
    digit *= is_digit                                       # non-digits count as 0
    hundreds = digit[:-2] * is_digit[1:-1]                  # the digit 2 before, if 1 before is one too
    value = hundreds[end - 2].astype(np.uint16) * 100
    value += digit[end - 1].astype(np.uint16) * 10
    value += digit[end]
    if value.max() > 255:
        raise _Irregular
    return value.astype(np.uint8).reshape(n, 48, 48)


def _row_by_row(source: str, columns: dict[str, int], row0: int, piece: bytes):
    images, labels, usage = [], [], []
    for i, line in enumerate(piece.split(b"\n")):
        row = row0 + i
        fields = line.split(b",")
        if len(fields) != columns["n"]:
            got = "an empty line" if not line.strip() else f"{len(fields)} fields"
            raise DataFormatError(source, f"{columns['n']} comma-separated fields", row=row, got=got)
        emotion = fields[columns["emotion"]].strip()
        if len(emotion) != 1 or not 48 <= emotion[0] <= 54:
            raise DataFormatError(source, "an integer class 0-6", row=row, field="emotion",
                                  got=emotion.decode("utf-8", "replace"))
        split = _USAGE_BYTES.get(fields[columns["Usage"]].strip())
        if split is None:
            raise DataFormatError(source, f"a Usage in {list(USAGES)}", row=row, field="Usage",
                                  got=fields[columns["Usage"]].strip().decode("utf-8", "replace"))
        images.append(_row_pixels(source, row, fields[columns["pixels"]]))
        labels.append(emotion[0] - 48)
        usage.append(split)
    return np.stack(images), np.array(labels, np.int64), np.array(usage, "U11")


def _row_pixels(source: str, row: int, field: bytes) -> np.ndarray:
    tokens = field.split()
    for t in tokens:
        if not t.isdigit() or len(t) > 3 or int(t) > 255:
            got = int(t) if t.isdigit() and t[:1] != b"0" else t.decode("utf-8", "replace")
            raise DataFormatError(source, _PIXELS_EXPECTED, row=row, field="pixels", got=got)
    if len(tokens) != N_PIXELS:
        raise DataFormatError(source, f"{N_PIXELS} space-separated pixel values (48x48)", row=row,
                              field="pixels", got=f"{len(tokens)} values")
    return np.array([int(t) for t in tokens], np.uint8).reshape(48, 48)
