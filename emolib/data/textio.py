"""Opening data files as UTF-8 text: compression, archives, text encodings and line ends.

Formats are recognised by their first bytes, never by the file name: gzip (python-isal's igzip
when installed, about 3x faster than zlib), bz2 and xz; a tar archive (plain or compressed, as
Kaggle ships ``fer2013.tar.gz``) or a zip archive is read through its single ``.csv`` member.
Text in UTF-8 (with or without a BOM), UTF-16 or UTF-32 (BOM, or UTF-16 recognised by its NUL
bytes) comes out as UTF-8 bytes.
"""
from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import logging
import lzma
import os
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from ..errors import DataFormatError, DataReadError

__all__ = ["open_text_blocks", "read_small_text", "check_readable"]

log = logging.getLogger(__name__)

_COMPRESSION = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}
_BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
# RuntimeError: an encrypted zip member; NotImplementedError: a zip compression method Python lacks
_STREAM_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError, tarfile.TarError, zipfile.BadZipFile,
                  RuntimeError, NotImplementedError)


def check_readable(path: Path) -> None:
    """Raise :class:`DataReadError` naming ``path`` when it cannot be opened for reading."""
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        raise DataReadError(path, f"{type(e).__name__}: {e.strerror or e}") from e


def _compression(path: Path) -> str | None:
    with open(path, "rb") as f:
        head = f.read(6)
    return next((kind for magic, kind in _COMPRESSION.items() if head.startswith(magic)), None)


def _open_decompressed(path: Path, kind: str | None):
    if kind == "gzip":
        try:
            from isal import igzip
            return igzip.open(path, "rb")
        except ImportError:  # pragma: no cover - isal is a declared dependency
            return gzip.open(path, "rb")
    if kind == "bz2":
        return bz2.open(path, "rb")
    if kind == "xz":
        return lzma.open(path, "rb")
    return open(path, "rb")


def _single_csv(path: Path, names: list[str]) -> str:
    """The archive's one ``.csv`` member (macOS ``._`` and ``__MACOSX`` entries ignored)."""
    csvs = [n for n in names if n.lower().endswith(".csv") and not Path(n).name.startswith("._")
            and "__MACOSX" not in n]
    if len(csvs) != 1:
        raise DataFormatError(path, "an archive holding exactly one .csv file",
                              got=f"{len(csvs)} .csv members among {names[:20]}")
    return csvs[0]


def _open_member(path: Path, kind: str | None, stack: contextlib.ExitStack):
    """``(binary stream, source name, text size or None)`` of the data inside ``path``."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head in (b"PK\x03\x04", b"PK\x05\x06"):
        archive = stack.enter_context(zipfile.ZipFile(path))
        name = _single_csv(path, [i.filename for i in archive.infolist() if not i.is_dir()])
        return stack.enter_context(archive.open(name)), f"{path}[{name}]", archive.getinfo(name).file_size
    with _open_decompressed(path, kind) as probe:
        block = probe.read(512)
    if len(block) == 512 and block[257:262] == b"ustar":
        archive = stack.enter_context(tarfile.open(fileobj=stack.enter_context(_open_decompressed(path, kind)),
                                                   mode="r:"))
        members = {m.name: m for m in archive.getmembers() if m.isfile()}
        name = _single_csv(path, list(members))
        return stack.enter_context(archive.extractfile(members[name])), f"{path}[{name}]", members[name].size
    return stack.enter_context(_open_decompressed(path, kind)), str(path), _plain_size(path, kind)


def _plain_size(path: Path, kind: str | None) -> int | None:
    if kind is None:
        return path.stat().st_size
    if kind == "gzip":   # gzip's trailer holds the size (mod 4 GiB)
        with open(path, "rb") as f:
            f.seek(-4, os.SEEK_END)
            return int.from_bytes(f.read(4), "little")
    return None


def _sniff_encoding(first: bytes) -> str | None:
    """The codec to decode with, or None for bytes that are already UTF-8/ASCII without a BOM."""
    for bom, codec in _BOMS:
        if first.startswith(bom):
            return codec
    sample = first[:200]
    if len(sample) >= 4 and sample.count(0) * 3 >= len(sample):   # text with NULs: BOM-less UTF-16
        return "utf-16-le" if sample[1] == 0 else "utf-16-be"
    return None


def open_text_blocks(path: Path, block_size: int) -> tuple[str, int | None, Iterator[bytes]]:
    """``(source, text size or None, blocks)``: the file's text as UTF-8 bytes, in blocks.

    ``source`` names the file, and the archive member when there is one, for error messages.
    Decompression and decoding errors raise :class:`DataFormatError` naming the file.
    """
    check_readable(path)
    kind = _compression(path)
    stack = contextlib.ExitStack()
    try:
        stream, source, size = _open_member(path, kind, stack)
    except _STREAM_ERRORS as e:
        stack.close()
        raise DataFormatError(path, f"a complete {kind or 'archive'} file", got=f"{type(e).__name__}: {e}") from e
    except BaseException:
        stack.close()
        raise
    return source, size, _blocks(stream, stack, path, kind, block_size)


def _blocks(stream, stack: contextlib.ExitStack, path: Path, kind: str | None, block_size: int):
    with stack:
        try:
            first = stream.read(max(block_size, 256))
            codec = _sniff_encoding(first)
            if codec in (None, "utf-8-sig"):              # UTF-8 passes through as bytes
                block = first[3:] if codec else first
                while block:
                    yield block
                    block = stream.read(block_size)
                return
            decoder = codecs.getincrementaldecoder(codec)()
            block = first
            while block:
                yield decoder.decode(block).encode("utf-8")
                block = stream.read(block_size)
            yield decoder.decode(b"", final=True).encode("utf-8")
        except UnicodeDecodeError as e:
            raise DataFormatError(path, f"{codec} text (recognised from its first bytes)",
                                  got=f"undecodable bytes near byte {e.start} of a block: {e.reason}") from e
        except _STREAM_ERRORS as e:
            raise DataFormatError(path, f"a complete {kind or 'archive'}-compressed file",
                                  got=f"{type(e).__name__}: {e}") from e


def read_small_text(path: Path) -> str:
    """A small text file (a label list) decoded: UTF-8 with or without BOM, UTF-16/32 by BOM.

    Bytes that are not UTF-8 fall back to Latin-1, with a warning naming the file and the offset
    of the first such byte (image names are the only free text in these files).
    """
    check_readable(path)
    data = Path(path).read_bytes()
    codec = _sniff_encoding(data) or "utf-8"
    try:
        return data.decode(codec)
    except UnicodeDecodeError as e:
        if codec != "utf-8":
            raise DataFormatError(path, f"{codec} text", got=f"undecodable bytes at byte offset {e.start}") from e
        log.warning("%s: not UTF-8 at byte offset %d (byte 0x%02x); decoded as Latin-1",
                    path, e.start, data[e.start])
        return data.decode("latin-1")
