"""FER2013 readers: the Kaggle CSV, the class-folder tree, and the FER+ PNG layout.

All three return a :class:`FaceDataset` of 48x48 uint8 grey images in the FER2013 class order
(angry, disgust, fear, happy, sad, surprise, neutral), except the FER+ layout, whose labels are
the FER+ vote argmax over its 10 columns (see :mod:`emolib.data.ferplus`).
"""
from __future__ import annotations

import csv
import gzip
import os
import sys
import zlib
from pathlib import Path

import numpy as np

from .. import FER2013_CLASSES
from ..errors import DataFormatError, DataNotFoundError
from .cache import file_sha256, load_cached, save_cached
from .dataset import USAGES, FaceDataset

__all__ = ["load_fer2013", "parse_fer2013_csv", "FER2013_HINT"]

N_PIXELS = 48 * 48
CACHE_VERSION = 1
FER2013_HINT = ("FER2013 needs a Kaggle account: download 'fer2013.csv' from "
                "https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge/data "
                "(or the msambare class-folder copy) and pass its path; see data/README.md")
_FOLDER_CLASSES = {name: i for i, name in enumerate(FER2013_CLASSES)}
_FERPLUS_SPLITS = {"FER2013Train": "Training", "FER2013Valid": "PublicTest", "FER2013Test": "PrivateTest"}
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def load_fer2013(path: str | os.PathLike, usage: str | list[str] | None = None, *,
                 cache: bool = True, progress: bool = True) -> FaceDataset:
    """Load FER2013 from a Kaggle CSV (``.csv``/``.csv.gz``), a class-folder tree, or the FER+ PNG layout.

    Args:
        path: the CSV file, or a folder holding ``train/`` and ``test/`` class folders
            (Kaggle "msambare" layout) or ``FER2013Train|Valid|Test/`` with ``label.csv`` (FER+).
        usage: keep only these splits ("Training", "PublicTest", "PrivateTest"); None keeps all.
        cache: reuse parsed CSV arrays cached under ``EMOLIB_HOME``, keyed by the file's sha256.
        progress: show a progress bar (stderr) while parsing.

    Raises:
        DataNotFoundError: ``path`` does not exist.
        DataFormatError: the file or folder does not match any of the three formats; the message
            names the file, the row or field, and what was expected.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataNotFoundError(path, FER2013_HINT)
    if path.is_dir():
        if any((path / d).is_dir() for d in _FERPLUS_SPLITS):
            ds = _read_ferplus_tree(path)
        elif (path / "train").is_dir() or (path / "test").is_dir():
            ds = _read_class_folders(path)
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


# --- Kaggle CSV ------------------------------------------------------------------------------

def _load_csv_cached(path: Path, *, cache: bool, progress: bool) -> FaceDataset:
    key = f"fer2013-v{CACHE_VERSION}-{file_sha256(path)[:24]}" if cache else None
    if key and (hit := load_cached(key)) is not None:
        return FaceDataset(hit["images"], hit["labels"], hit["usage"], FER2013_CLASSES, str(path))
    images, labels, usage = parse_fer2013_csv(path, progress=progress)
    if key:
        save_cached(key, images=images, labels=labels, usage=usage)
    return FaceDataset(images, labels, usage, FER2013_CLASSES, str(path))


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _text_size(path: Path) -> int:
    """Bytes of text: gzip's trailer holds it (mod 4 GiB), for the progress bar."""
    if not _is_gzip(path):
        return path.stat().st_size
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return int.from_bytes(f.read(4), "little")


def _open_text(path: Path):
    """A binary stream of the file's text: gunzipped when gzip (python-isal's igzip: ~3x faster)."""
    if not _is_gzip(path):
        return open(path, "rb")
    try:
        from isal import igzip as gz
    except ImportError:  # pragma: no cover - isal is a declared dependency
        gz = gzip
    return gz.open(path, "rb")


def _read_blocks(path: Path, first: int = 1 << 16):
    """Yield the text in blocks; the caller sets the size of the next block with ``send``."""
    stream, size = _open_text(path), first
    try:
        with stream:
            while block := stream.read(size):
                size = (yield block) or size
    except (EOFError, OSError, zlib.error) as e:
        raise DataFormatError(path, "a complete gzip-compressed CSV", got=f"{type(e).__name__}: {e}") from e


def parse_fer2013_csv(path: str | os.PathLike, *, progress: bool = True, chunk_rows: int = 1024,
                      workers: int | None = None):
    """Parse a Kaggle FER2013 CSV into ``(images N x 48 x 48 uint8, labels int64, usage str)``.

    Works on bytes: the file is decompressed as a stream and cut at line ends into pieces of
    about ``chunk_rows`` rows, which ``workers`` processes parse while the rest is still being
    decompressed (default: one per core for files over 8 MB). In each piece the pixel fields are
    joined and parsed by one vectorised call, several times faster than splitting row by row
    (``benchmarks/bench_fer2013_parse.py``). Every row is still validated: field count, label,
    split, pixel count, characters and range.
    """
    path = Path(path)
    if workers is None:
        workers = min(os.cpu_count() or 1, 1 + path.stat().st_size // (8 << 20))
    pool = _start_pool(workers) if workers > 1 else None   # starts while we decompress
    try:
        return _parse(path, progress, chunk_rows, pool)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


class _Inline:
    """The single-process stand-in for a future."""
    def __init__(self, fn, arg):
        self.value = fn(arg)

    def result(self):
        return self.value


def _parse(path, progress, chunk_rows, pool):
    from tqdm.auto import tqdm

    submit = pool.submit if pool else _Inline
    jobs = [(len(piece), submit(_parse_chunk, (path, piece, row, columns)))
            for columns, piece, row in _pieces(path, chunk_rows)]
    if not jobs:
        raise DataFormatError(path, "at least one data row after the header", row=1, got="no rows")
    parts = []
    with tqdm(total=_text_size(path), unit="B", unit_scale=True, desc=f"parsing {path.name}",
              disable=not progress, leave=False, file=sys.stderr) as bar:
        for size, job in jobs:
            parts.append(job.result())
            bar.update(size)
    images, labels, usages = zip(*parts)
    return np.concatenate(images), np.concatenate(labels), np.concatenate(usages)


def _pieces(path, chunk_rows):
    """Yield ``(columns, piece, number of its first row)``: the body cut at line ends into pieces
    of about ``chunk_rows`` rows while it is being decompressed. Trailing blank lines are dropped."""
    blocks = _read_blocks(path)
    buf, columns, pending, row, step = b"", None, None, 0, None
    while block := _next_block(blocks, step):
        buf += block
        if columns is None:                     # the header, then size the blocks by the first row
            cut = buf.find(b"\n")
            if cut < 0:
                continue
            columns, buf = _parse_header(path, buf[:cut]), buf[cut + 1:]
            step = max((buf.find(b"\n") + 1 or len(buf)) * chunk_rows, 1)
        cut = buf.rfind(b"\n")
        if cut >= 0:
            if pending is not None:             # one piece held back, for trailing blank lines
                yield columns, pending, row
                row += pending.count(b"\n") + 1
            pending, buf = buf[:cut], buf[cut + 1:]
    if columns is None:
        columns, buf = _parse_header(path, buf), b""
    last = b"\n".join(p for p in (pending, buf) if p is not None).rstrip(b"\r\n\t ")
    if last:
        yield columns, last, row


def _next_block(blocks, size) -> bytes:
    try:
        return blocks.send(size)
    except StopIteration:
        return b""


def _parse_header(path, line: bytes) -> list[str]:
    header = line.decode("utf-8", "replace").strip().lstrip("\ufeff")
    columns = [c.strip() for c in header.split(",")] if header else []
    if not columns:
        raise DataFormatError(path, "a header line 'emotion,pixels,Usage'", row=0, got="an empty file")
    if "emotion" not in columns or "pixels" not in columns:
        raise DataFormatError(path, "a header with columns 'emotion', 'pixels' and 'Usage'", row=0,
                              got=header)
    return columns


def _start_pool(workers: int):
    """Worker processes, spawned now so their start-up overlaps the decompression."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller may hold TensorFlow's threads, which fork can deadlock.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    for _ in range(workers):
        pool.submit(int)
    return pool


def _parse_chunk(task):
    path, data, offset, columns = task
    col = {name: columns.index(name) for name in ("emotion", "pixels", "Usage") if name in columns}
    fields = _split_fields(path, data.split(b"\n"), offset, len(columns))  # data: this chunk's rows
    labels = _parse_labels(path, [f[col["emotion"]] for f in fields], offset)
    usage = _parse_usage(path, [f[col["Usage"]] for f in fields] if "Usage" in col else None,
                         offset, len(fields))
    images = _parse_pixels(path, [f[col["pixels"]] for f in fields], offset)
    return images, labels, usage


def _split_fields(path, chunk, offset, n_columns) -> list[list[bytes]]:
    fields = [line.split(b",") for line in chunk]
    for i, f in enumerate(fields):
        if len(f) != n_columns:
            raise DataFormatError(path, f"{n_columns} comma-separated fields", row=offset + i + 1,
                                  got=f"{len(f)} fields")
    return fields


def _parse_labels(path, values: list[bytes], offset) -> np.ndarray:
    out = np.empty(len(values), np.int64)
    for i, v in enumerate(values):
        v = v.strip()
        if len(v) != 1 or not 48 <= v[0] <= 54:
            raise DataFormatError(path, "an integer class 0-6", row=offset + i + 1, field="emotion",
                                  got=v.decode("utf-8", "replace"))
        out[i] = v[0] - 48
    return out


_USAGE_BYTES = {u.encode(): u for u in USAGES}


def _parse_usage(path, values, offset, n) -> np.ndarray:
    if values is None:
        return np.full(n, "Training", dtype="U11")
    out = []
    for i, v in enumerate(values):
        u = _USAGE_BYTES.get(v.strip())
        if u is None:
            raise DataFormatError(path, f"a Usage in {list(USAGES)}", row=offset + i + 1, field="Usage",
                                  got=v.strip().decode("utf-8", "replace"))
        out.append(u)
    return np.array(out, dtype="U11")


def _pixel_error(path, row_bytes: bytes, row: int):
    tokens = row_bytes.split()
    if len(tokens) != N_PIXELS:
        return DataFormatError(path, f"{N_PIXELS} space-separated pixel values (48x48)", row=row,
                               field="pixels", got=f"{len(tokens)} values")
    for t in tokens:
        if not t.isdigit() or int(t) > 255:
            return DataFormatError(path, "integer pixel values 0-255", row=row, field="pixels",
                                   got=t.decode("utf-8", "replace"))
    return None


def _parse_pixels(path, rows: list[bytes], offset) -> np.ndarray:
    n = len(rows)
    rows = [r.strip() for r in rows]
    # Fast checks at C speed: one space between values, and only digits and spaces.
    for i, r in enumerate(rows):
        if r.count(b" ") != N_PIXELS - 1 and (err := _pixel_error(path, r, offset + i + 1)):
            raise err
    joined = b" ".join(rows)
    if joined.translate(None, b"0123456789 "):
        for i, r in enumerate(rows):
            if err := _pixel_error(path, r, offset + i + 1):
                raise err
    values = np.fromstring(joined, dtype=np.uint16, sep=" ")
    if values.size != n * N_PIXELS:  # never reshape a short parse: find the row instead
        for i, r in enumerate(rows):
            if err := _pixel_error(path, r, offset + i + 1):
                raise err
        raise DataFormatError(path, f"{n * N_PIXELS} pixel values in rows {offset + 1}-{offset + n}",
                              field="pixels", got=values.size)
    values = values.reshape(n, 48, 48)
    too_big = values.reshape(n, -1).max(axis=1) > 255
    if too_big.any():
        i = int(np.flatnonzero(too_big)[0])
        raise DataFormatError(path, "integer pixel values 0-255", row=offset + i + 1, field="pixels",
                              got=int(values[i].max()))
    return values.astype(np.uint8)


# --- class-folder tree (Kaggle "msambare") ------------------------------------------------------

def _read_image_grey48(file: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as im:
            im = im.convert("L")
            if im.size != (48, 48):
                im = im.resize((48, 48), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataFormatError(file, "a readable image file (jpg/png/bmp)", got=f"{type(e).__name__}: {e}") from e


def _usage_from_name(file: Path, top: str) -> str:
    prefix = file.stem.split("_", 1)[0]
    if prefix in USAGES:
        return prefix
    return "Training" if top == "train" else "PublicTest"


def _read_class_folders(root: Path) -> FaceDataset:
    images, labels, usages = [], [], []
    for top in ("train", "test"):
        if not (root / top).is_dir():
            continue
        for folder in sorted(p for p in (root / top).iterdir() if p.is_dir()):
            if folder.name.lower() not in _FOLDER_CLASSES:
                raise DataFormatError(folder, f"a class folder named one of {sorted(_FOLDER_CLASSES)}",
                                      got=folder.name)
            for file in sorted(folder.iterdir()):
                if file.suffix.lower() not in _IMAGE_SUFFIXES:
                    continue
                images.append(_read_image_grey48(file))
                labels.append(_FOLDER_CLASSES[folder.name.lower()])
                usages.append(_usage_from_name(file, top))
    if not images:
        raise DataFormatError(root, "image files under train/<class>/ or test/<class>/", got="none")
    return FaceDataset(np.stack(images), np.array(labels, np.int64), np.array(usages, "U11"),
                       FER2013_CLASSES, str(root))


# --- FER+ PNG layout ------------------------------------------------------------------------------

def _read_ferplus_tree(root: Path) -> FaceDataset:
    from .ferplus import FERPLUS_COLUMNS

    images, votes, usages = [], [], []
    for folder, usage in _FERPLUS_SPLITS.items():
        split = root / folder
        if not split.is_dir():
            continue
        label_csv = split / "label.csv"
        if not label_csv.exists():
            raise DataFormatError(label_csv, "a label.csv beside the PNGs (name,box,10 votes)",
                                  got="no such file")
        with open(label_csv, newline="") as f:
            for row_no, row in enumerate(csv.reader(f), start=1):
                if not row:
                    continue
                if len(row) != 12:
                    raise DataFormatError(label_csv, "12 fields: name, box, 10 vote counts",
                                          row=row_no, got=f"{len(row)} fields")
                try:
                    v = [int(x) for x in row[2:]]
                except ValueError:
                    raise DataFormatError(label_csv, "integer vote counts", row=row_no,
                                          field="votes", got=row[2:]) from None
                images.append(_read_image_grey48(split / row[0]))
                votes.append(v)
                usages.append(usage)
    if not images:
        raise DataFormatError(root, "PNG files listed in FER2013*/label.csv", got="none")
    votes = np.array(votes, np.int64)
    return FaceDataset(np.stack(images), votes.argmax(axis=1), np.array(usages, "U11"),
                       FERPLUS_COLUMNS, str(root), votes=votes)
