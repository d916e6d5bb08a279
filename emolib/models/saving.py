"""Save and load fine-tuned models as ``.keras`` files that carry their own metadata.

A model is only usable with the facts of its training: the class names in output order, the input
size and channels, the resize rule (:data:`emolib.faces.batch.RESIZE`) and the preprocessing version
(:data:`emolib.models.input_pipeline.PREPROCESSING`). They go into the ``.keras`` archive itself, as
``emolib.json`` beside Keras' own files, so they cannot get separated from the weights. Keras
ignores the extra entry when loading.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from ..errors import DataFormatError, WeightsError

__all__ = ["save_model", "load_model_with_metadata", "read_metadata", "check_model_file", "METADATA_NAME",
           "FORMAT"]

METADATA_NAME = "emolib.json"
FORMAT = "emolib-model/1"


def _validate(model, classes, preprocessing, input_size) -> dict:
    from .input_pipeline import PREPROCESSING

    classes = [str(c) for c in classes]
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValueError(f"classes: expected at least 2 distinct names, got {classes}")
    out_units = model.output_shape[-1]
    if out_units != len(classes):
        raise ValueError(f"classes: the model has {out_units} outputs, got {len(classes)} class names")
    if preprocessing not in PREPROCESSING:
        raise ValueError(f"preprocessing: expected one of {sorted(PREPROCESSING)}, got {preprocessing!r}")
    size = [input_size, input_size] if isinstance(input_size, int) else [int(s) for s in input_size]
    model_size = list(model.input_shape[1:3])
    if None not in model_size and model_size != size:
        raise ValueError(f"input_size: the model takes {model_size}, got {size}")
    from ..faces.batch import RESIZE

    return {"classes": classes, "preprocessing": preprocessing, "input_size": size,
            "channels": int(model.input_shape[-1]), "resize": RESIZE}


def save_model(model, path: str | os.PathLike, *, classes, preprocessing: str, input_size,
               **extra) -> Path:
    """Save ``model`` to ``path`` (``.keras``) with its metadata.

    Args:
        classes: class names in output order (e.g. ``FaceDataset.classes``).
        preprocessing: the version used in training (a key of ``pipeline.PREPROCESSING``).
        input_size: side or (height, width) of the input the model was trained at.
        **extra: more JSON-able facts to keep (backbone, head, weights, profile, metrics...).
    """
    import emolib

    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"path: expected a file name ending in .keras, got {path.name!r}")
    meta = {"format": FORMAT, **_validate(model, classes, preprocessing, input_size),
            "emolib_version": emolib.__version__, **extra}
    text = json.dumps(meta, indent=2, sort_keys=True)  # fails early on values JSON cannot hold
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(METADATA_NAME, text)
    return path


KERAS_ENTRIES = ("config.json", "model.weights.h5")
"""What every Keras 3 ``.keras`` archive holds (beside ``metadata.json``)."""


def check_model_file(path: str | os.PathLike) -> Path:
    """Refuse, with a message naming the file, a model file that is missing or not complete.

    A ``.keras`` file must be a readable zip archive holding :data:`KERAS_ENTRIES` with intact
    checksums; an ``.h5``/``.hdf5`` file must be a readable HDF5 file. A truncated download
    fails here as "not a valid, complete ..." rather than inside Keras (which calls it "not found").

    Raises:
        WeightsError: no such file, a directory, or an invalid or incomplete archive.
    """
    path = Path(path)
    if not path.exists():
        raise WeightsError(path, "no such model file (expected a .keras or .h5/.hdf5 file)")
    if not path.is_file():
        raise WeightsError(path, "expected a model file (.keras or .h5/.hdf5), got a directory")
    size = path.stat().st_size
    if path.suffix == ".keras":
        _check_keras_archive(path, size)
    elif path.suffix in (".h5", ".hdf5"):
        import h5py

        if not h5py.is_hdf5(path):
            raise WeightsError(path, f"the file exists ({size:,} bytes) but is not a valid HDF5 "
                                     "model file (truncated download, or another format)")
    return path


def _check_keras_archive(path: Path, size: int) -> None:
    invalid = f"the file exists ({size:,} bytes) but is not a valid, complete Keras archive"
    if not zipfile.is_zipfile(path):
        raise WeightsError(path, f"{invalid}: a .keras file is a zip archive and this one has no "
                                 "readable zip directory (truncated download, or not a .keras file)")
    try:
        with zipfile.ZipFile(path) as archive:
            missing = [name for name in KERAS_ENTRIES if name not in archive.namelist()]
            if missing:
                raise WeightsError(path, f"{invalid}: it lacks {', '.join(missing)}")
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise WeightsError(path, f"{invalid}: {exc}") from None
    if broken is not None:
        raise WeightsError(path, f"{invalid}: its entry {broken} is corrupt (bad checksum)")


def read_metadata(path: str | os.PathLike) -> dict:
    """The metadata stored in a ``.keras`` file by :func:`save_model`."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(path, "no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            if METADATA_NAME not in archive.namelist():
                raise DataFormatError(path, f"a .keras archive saved by emolib (with {METADATA_NAME}: "
                                            f"classes, preprocessing, input size)", field=METADATA_NAME,
                                      got="no such entry")
            meta = json.loads(archive.read(METADATA_NAME))
    except zipfile.BadZipFile as e:
        raise WeightsError(path, f"not a .keras archive (zip): {e}") from e
    for key in ("classes", "preprocessing", "input_size"):
        if key not in meta:
            raise DataFormatError(path, f"metadata field {key!r}", field=METADATA_NAME, got=sorted(meta))
    return meta


def load_model_with_metadata(path: str | os.PathLike, *, compile: bool = False) -> tuple:
    """Load a model saved by :func:`save_model`: returns ``(keras_model, metadata)``.

    For a ready-to-use face classifier (preprocessing applied), see
    :func:`emolib.models.pretrained.load_model`.
    """
    import keras

    from ..ensemble import keras_average  # noqa: F401  (registers the ensemble layers)

    check_model_file(path)
    meta = read_metadata(path)
    model = keras.models.load_model(path, compile=compile)
    if model.output_shape[-1] != len(meta["classes"]):
        raise DataFormatError(path, f"{model.output_shape[-1]} class names (one per output)",
                              field="classes", got=meta["classes"])
    return model, meta
