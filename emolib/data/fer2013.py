"""FER2013 loading: :func:`load_fer2013` for the Kaggle CSV (cached) and the folder layouts.

The CSV is parsed in this process, never in worker processes, so a caller's script is never
imported or run a second time (a script without ``if __name__ == "__main__"``, ``python -c``,
``python - < script``, Jupyter and daemonic ``multiprocessing`` workers all work). The text is
decompressed as a stream and cut at line ends into pieces of a few MB; threads parse the pieces
with a vectorised NumPy tokenizer (NumPy releases the GIL on large arrays) while the rest is
still being decompressed, so memory stays bounded by a few pieces.
"""
from __future__ import annotations

import csv
import logging
import os
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .. import FER2013_CLASSES
from ..errors import DataFormatError, DataNotFoundError
from .cache import file_sha256, load_cached, remove_cached, save_cached
from .dataset import USAGES, FaceDataset
from .fer2013_rows import parse_rows
from .folders import FERPLUS_SPLITS, read_class_folders, read_ferplus_tree
from .textio import check_readable, open_text_blocks

__all__ = ["load_fer2013", "parse_fer2013_csv", "FER2013_HINT"]

log = logging.getLogger(__name__)

CACHE_VERSION = 1
FER2013_HINT = ("FER2013 needs a Kaggle account: download 'fer2013.tar.gz' (or the fer2013.csv in it) from "
                "https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge/data "  # noqa: E501
                "(or the msambare class-folder copy) and pass its path; see data/README.md")
_COLUMNS = ("emotion", "pixels", "Usage")


def load_fer2013(path: str | os.PathLike, usage: str | list[str] | None = None, *,
                 cache: bool = True, progress: bool = True) -> FaceDataset:
    """Load FER2013 from a Kaggle CSV, a class-folder tree, or the FER+ PNG layout.

    Args:
        path: the CSV file (plain, gzip/bz2/xz, or the Kaggle ``fer2013.tar.gz`` / a ``.zip``
            holding one ``.csv``; UTF-8, UTF-16 or UTF-32 text; LF, CRLF or CR line ends), or a
            folder holding ``train/`` and ``test/`` class folders (Kaggle "msambare" layout) or
            ``FER2013Train|Valid|Test/`` with ``label.csv`` (FER+).
        usage: keep only these splits ("Training", "PublicTest", "PrivateTest"); None keeps all.
        cache: reuse parsed CSV arrays cached under ``EMOLIB_HOME``, keyed by the file's sha256.
            A damaged cache file is logged, deleted and rebuilt.
        progress: show a progress bar (stderr) while parsing.

    Raises:
        DataNotFoundError: ``path`` does not exist.
        DataReadError: ``path`` exists but cannot be read.
        DataFormatError: the file or folder does not match any of the formats; the message
            names the file, the row or field, and what was expected.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataNotFoundError(path, FER2013_HINT)
    if path.is_dir():
        if any((path / d).is_dir() for d in FERPLUS_SPLITS):
            ds = read_ferplus_tree(path)
        elif (path / "train").is_dir() or (path / "test").is_dir():
            ds = read_class_folders(path)
        else:
            raise DataFormatError(path, "a folder with train/ and test/ class folders, or FER+ "
                                  "FER2013Train/ FER2013Valid/ FER2013Test/ folders",
                                  got=sorted(p.name for p in path.iterdir())[:10])
    else:
        ds = _load_csv_cached(path, cache=cache, progress=progress)
    return _select_usage(ds, usage)


def _select_usage(ds: FaceDataset, usage) -> FaceDataset:
    if usage is None:
        return ds
    wanted = [usage] if isinstance(usage, str) else list(usage)
    unknown = [u for u in wanted if u not in USAGES]
    if unknown:
        raise ValueError(f"usage {unknown}: expected some of {list(USAGES)}")
    return ds.subset(np.isin(ds.usage, wanted))


def _load_csv_cached(path: Path, *, cache: bool, progress: bool) -> FaceDataset:
    check_readable(path)
    key = f"fer2013-v{CACHE_VERSION}-{file_sha256(path)[:24]}" if cache else None
    if key and (hit := load_cached(key)) is not None:
        try:
            return FaceDataset(hit["images"], hit["labels"], hit["usage"], FER2013_CLASSES, str(path))
        except (KeyError, ValueError) as e:
            log.warning("cache entry %s for %s is not a FER2013 array set (%s); rebuilding it", key, path, e)
            remove_cached(key)
    images, labels, usage = parse_fer2013_csv(path, progress=progress)
    if key:
        save_cached(key, images=images, labels=labels, usage=usage)
    return FaceDataset(images, labels, usage, FER2013_CLASSES, str(path))


# --- the Kaggle CSV --------------------------------------------------------------------------

def parse_fer2013_csv(path: str | os.PathLike, *, progress: bool = True, chunk_bytes: int = 2 << 20,
                      workers: int = 2):
    """Parse a Kaggle FER2013 CSV into ``(images N x 48 x 48 uint8, labels int64, usage str)``.

    The text is cut at line ends into pieces of about ``chunk_bytes`` bytes, parsed by
    ``workers`` threads (1: in the calling thread) while the rest is decompressed; at most
    ``2 * workers`` pieces are in flight. Every row is validated: field count, label 0-6,
    split, 2304 pixel values 0-255. A header with ``emotion``, ``pixels`` and ``Usage`` (in any
    order, quoted or not, extra columns allowed) is required. Trailing blank lines are ignored.
    """
    path = Path(path)
    source, size, raw_blocks = open_text_blocks(path, chunk_bytes)
    try:
        parts = _parse_stream(source, raw_blocks, path.name, size, progress, workers)
    finally:
        raw_blocks.close()                      # closes the file, also on errors
    if not parts:
        raise DataFormatError(source, "at least one data row after the header", row=1, got="no rows")
    images, labels, usages = zip(*parts)
    return np.concatenate(images), np.concatenate(labels), np.concatenate(usages)


def _parse_stream(source, raw_blocks, name, size, progress, workers) -> list:
    from tqdm.auto import tqdm

    header, blocks = _split_header(source, raw_blocks)
    columns = _parse_header(source, header)
    parts = []
    with tqdm(total=size, unit="B", unit_scale=True, desc=f"parsing {name}", disable=not progress,
              leave=False, file=sys.stderr) as bar, \
            ThreadPoolExecutor(max(workers, 1), thread_name_prefix="emolib-fer2013") as pool:
        pending: deque = deque()
        try:
            for row, piece in _pieces(blocks):
                if workers > 1:
                    pending.append((len(piece), pool.submit(_parse_piece, source, columns, row, piece)))
                else:
                    pending.append((len(piece), _Done(_parse_piece(source, columns, row, piece))))
                while len(pending) > 2 * workers:
                    parts.append(_collect(pending, bar))
            while pending:
                parts.append(_collect(pending, bar))
        finally:
            for _, job in pending:
                job.cancel()
    return parts


class _Done:
    """A finished stand-in for a future (one worker: pieces are parsed in the calling thread)."""
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value

    def cancel(self):
        return False


def _collect(pending: deque, bar):
    size, job = pending.popleft()
    out = job.result()
    bar.update(size)
    return out


def _split_header(source: str, blocks):
    """``(header line, blocks of the rest)``, the rest with line ends turned into ``\\n``.

    The line-end style is taken from the header: CR-only (classic Mac) ends become LF; with
    LF or CRLF every CR is dropped. Each block is searched at most twice: linear in the size.
    """
    head, end = [], -1
    for block in blocks:
        head.append(block)
        if _line_end(b"".join(head[-2:])) >= 0:      # a CR ending the previous block counts
            break
    text = b"".join(head)
    end = _line_end(text)
    if end < 0:                                      # the header is all there is
        return text, iter(())
    is_cr = text[end] == 13
    cr_only = is_cr and text[end + 1] != 10
    rest = text[end + (2 if is_cr and not cr_only else 1):]
    return text[:end], (_fix_line_ends(b, cr_only) for b in _chain(rest, blocks))


def _fix_line_ends(block: bytes, cr_only: bool) -> bytes:
    if b"\r" not in block:
        return block
    return block.replace(b"\r", b"\n") if cr_only else block.replace(b"\r", b"")


def _line_end(text: bytes) -> int:
    """Index of the first CR or LF; -1 when none, or a CR is the last byte (it may start CRLF)."""
    ends = [i for i in (text.find(b"\r"), text.find(b"\n")) if i >= 0]
    if not ends:
        return -1
    i = min(ends)
    return -1 if text[i] == 13 and i == len(text) - 1 else i


def _chain(first: bytes, rest):
    if first:
        yield first
    yield from rest


def _parse_header(source: str, line: bytes) -> dict[str, int]:
    header = line.decode("utf-8", "replace").strip()
    if not header:
        raise DataFormatError(source, "a header line 'emotion,pixels,Usage'", row=0, got="an empty file")
    names = [c.strip().strip('"').strip() for c in next(csv.reader([header]))]
    index = {name.lower(): i for i, name in enumerate(names)}
    twice = [c for c in _COLUMNS if sum(n.lower() == c.lower() for n in names) > 1]
    if twice:
        raise DataFormatError(source, "each of the columns 'emotion', 'pixels' and 'Usage' once", row=0,
                              got=f"{twice} more than once in {header[:60]!r}")
    missing = [c for c in _COLUMNS if c.lower() not in index]
    if missing == ["Usage"]:
        raise DataFormatError(source, "a 'Usage' column (Training/PublicTest/PrivateTest), as in the "
                              "Kaggle competition's fer2013.csv; the later train.csv/test.csv copies "
                              "lack it, so their split is unknown", row=0, got=header)
    if missing:
        raise DataFormatError(source, "a comma-separated header with columns 'emotion', 'pixels' and "
                              "'Usage'", row=0, got=f"{header[:60]!r}, missing {missing}")
    return {"n": len(names), **{c: index[c.lower()] for c in _COLUMNS}}


def _pieces(blocks):
    """Yield ``(number of the first row, piece)``: whole lines joined by ``\\n``.

    Blank lines at the end of the file are dropped; blank lines followed by more rows stay in the
    pieces and are reported as errors there.
    """
    carry: list[bytes] = []
    row, held = 1, 0                 # held: blank lines not yet known to be inside the data
    for block in blocks:
        cut = block.rfind(b"\n")
        if cut < 0:
            carry.append(block)
            continue
        piece, carry = b"".join([*carry, block[:cut]]), [block[cut + 1:]]
        row, held = yield from _emit(piece, row, held)
    last = b"".join(carry)
    if last.strip():
        yield from _emit(last, row, held)


def _emit(piece: bytes, row: int, held: int):
    """Yield the piece without its trailing blank lines, after the blank lines held before it.

    ``row`` is the number of the line after everything seen; returns ``(row, held)`` updated.
    """
    n_lines = piece.count(b"\n") + 1
    body_end = len(piece.rstrip())
    if body_end == 0:                                   # only blank lines: hold them back
        return row + n_lines, held + n_lines
    nl = piece.find(b"\n", body_end)
    yield row - held, b"\n" * held + (piece if nl < 0 else piece[:nl])
    return row + n_lines, 0 if nl < 0 else piece.count(b"\n", nl)


def _parse_piece(source: str, columns: dict[str, int], row0: int, piece: bytes):
    if b'"' in piece:
        piece = b"\n".join(_unquote(line) for line in piece.split(b"\n"))
    return parse_rows(source, columns, row0, piece)


def _unquote(line: bytes) -> bytes:
    """A line with quoted fields, rewritten unquoted (FER2013 fields hold no commas)."""
    if b'"' not in line:
        return line
    fields = next(csv.reader([line.decode("latin-1")]), [])
    return ",".join(f.replace(",", ";") for f in fields).encode("latin-1")
