"""Error classes. Each names the file, the row or field, and what was expected."""
from __future__ import annotations

from os import PathLike

__all__ = ["EmolibError", "DataFormatError", "DataNotFoundError", "DataReadError", "ImageReadError",
           "VideoReadError", "WeightsError", "DownloadError"]


class EmolibError(Exception):
    """Base class of emolib's errors."""

    def __reduce__(self):  # keep the message and fields when pickled (e.g. out of a worker process)
        return _rebuild, (type(self), str(self), self.__dict__)


def _rebuild(cls, message, state):
    err = Exception.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


def _where(path, row=None, field=None) -> str:
    parts = [str(path)]
    if row is not None:
        parts.append(f"row {row}")
    if field is not None:
        parts.append(f"field {field!r}")
    return ", ".join(parts)


class DataFormatError(EmolibError, ValueError):
    """A data file does not have the expected format.

    ``row`` counts data rows from 1 after the header (the line number in the file is row + 1).
    """

    def __init__(self, path: str | PathLike, expected: str, *, row: int | None = None,
                 field: str | None = None, got: object = None):
        self.path, self.row, self.field, self.expected, self.got = path, row, field, expected, got
        msg = f"{_where(path, row, field)}: expected {expected}"
        if got is not None:
            text = repr(got)
            msg += f", got {text[:80] + '...' if len(text) > 80 else text}"
        super().__init__(msg)


class DataNotFoundError(EmolibError, FileNotFoundError):
    """A dataset path does not exist; the message says how to obtain the data."""

    def __init__(self, path: str | PathLike, hint: str = ""):
        self.path = path
        super().__init__(f"{path}: no such file or directory" + (f". {hint}" if hint else ""))


class DataReadError(EmolibError, OSError):
    """A data path exists but cannot be read (permissions, a special file): names the path."""

    def __init__(self, path: str | PathLike, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: cannot be read ({reason})")


class ImageReadError(EmolibError, ValueError):
    """An image file or array cannot be decoded or has an unsupported shape or dtype."""

    def __init__(self, source: object, expected: str, got: object = None):
        self.source, self.expected, self.got = source, expected, got
        msg = f"{source}: expected {expected}"
        if got is not None:
            msg += f", got {got}"
        super().__init__(msg)


class VideoReadError(EmolibError, ValueError):
    """A video file cannot be opened or holds no frames."""

    def __init__(self, path: str | PathLike, expected: str = "a readable video with at least one frame",
                 got: object = None):
        self.path = path
        msg = f"{path}: expected {expected}"
        if got is not None:
            msg += f", got {got}"
        super().__init__(msg)


class WeightsError(EmolibError, ValueError):
    """A weight file does not match the model: names the layer and both shapes."""

    def __init__(self, path: str | PathLike, message: str):
        self.path = path
        super().__init__(f"{path}: {message}")


class DownloadError(EmolibError, OSError):
    """A download failed or its sha256 did not match."""
