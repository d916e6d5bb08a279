"""Audio features for the SVM ensemble: openSMILE's Interspeech 2010 paralinguistic set.

NTechLab {cite}`knyazev2017convolutional` added a linear SVM on 1,582 openSMILE features (35.0 % val
alone) as the fifth member of its ensemble. The ``opensmile`` package (PyPI, 2.6.0) ships the
openSMILE library and the ``IS10_paraling`` configuration, and runs offline: ``pip install
opensmile``.

openSMILE reads WAV/FLAC/OGG directly. Audio inside a video container (AFEW's ``.avi``) needs
ffmpeg to extract first, e.g. ``ffmpeg -i clip.avi -ac 1 -ar 16000 clip.wav``.

openSMILE's library crashes (segmentation fault) when it is loaded after TensorFlow in the same
process. When TensorFlow is already imported, :func:`audio_features` therefore reads the audio
here and runs openSMILE in a fresh interpreter.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataFormatError

__all__ = ["audio_features", "AUDIO_FEATURE_SET", "opensmile_available"]

AUDIO_FEATURE_SET = "IS10"          # 1,582 functionals, as in NTechLab
_DIRECT = {".wav", ".flac", ".ogg"}


def opensmile_available() -> bool:
    """Whether the ``opensmile`` package is installed (checked without loading its library)."""
    import importlib.util

    return importlib.util.find_spec("opensmile") is not None


_FEATURE_SETS = ("ComParE_2016", "GeMAPSv01b", "eGeMAPSv02", "IS09", "IS10", "IS11", "IS12", "IS13", "emobase")


def _smile_check(feature_set: str) -> None:
    if feature_set not in _FEATURE_SETS:
        raise ValueError(f"feature_set: expected one of {_FEATURE_SETS}, got {feature_set!r}")


def _smile(feature_set: str):
    _smile_check(feature_set)
    import opensmile

    return opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set),
                           feature_level=opensmile.FeatureLevel.Functionals)


def _read(path: Path) -> tuple[np.ndarray, int]:
    if not path.is_file():
        raise DataFormatError(path, "an existing audio file", got="no such file")
    if path.suffix.lower() in _DIRECT:
        import soundfile

        try:
            signal, sr = soundfile.read(str(path), dtype="float32", always_2d=True)
        except Exception as err:  # soundfile raises its own LibsndfileError
            raise DataFormatError(path, "a readable WAV/FLAC/OGG file", got=str(err)) from None
        return signal.mean(axis=1), int(sr)
    try:
        import audiofile

        signal, sr = audiofile.read(str(path), always_2d=True)
    except Exception as err:
        raise DataFormatError(path, "audio openSMILE can read: extract it first with "
                              "'ffmpeg -i CLIP -ac 1 -ar 16000 CLIP.wav' (or install ffmpeg)",
                              got=f"{type(err).__name__}: {err}") from None
    return np.asarray(signal, np.float32).mean(axis=0), int(sr)


def audio_features(sources: Sequence, sampling_rate: int | None = None,
                   feature_set: str = AUDIO_FEATURE_SET) -> np.ndarray:
    """openSMILE functionals of each source: an ``N x 1582`` array for the IS10 set.

    ``sources`` holds audio file paths, or 1-D float signals when ``sampling_rate`` is given.
    """
    if not opensmile_available():
        raise ImportError("audio features need the opensmile package: pip install opensmile")
    signals, rates = [], []
    for k, src in enumerate(sources):
        if isinstance(src, (str, os.PathLike)):
            signal, sr = _read(Path(src))
        else:
            if sampling_rate is None:
                raise ValueError("sampling_rate: expected the rate of the signals passed as arrays")
            signal, sr = np.asarray(src, np.float32).ravel(), int(sampling_rate)
        if signal.size < sr // 10:
            raise DataFormatError(src if isinstance(src, (str, os.PathLike)) else f"signal {k}",
                                  "at least 0.1 s of audio", got=f"{signal.size} samples at {sr} Hz")
        signals.append(np.asarray(signal, np.float32))
        rates.append(sr)
    if not signals:
        raise ValueError("sources: expected at least one audio file or signal")
    if "tensorflow" in sys.modules:
        return _in_worker(signals, rates, feature_set)
    return _functionals(signals, rates, feature_set)


def _functionals(signals, rates, feature_set) -> np.ndarray:
    smile = _smile(feature_set)
    rows = [smile.process_signal(x, sr).to_numpy(np.float64).ravel() for x, sr in zip(signals, rates)]
    return np.nan_to_num(np.vstack(rows))


_WORKER = """
import sys, numpy as np, opensmile
data = np.load(sys.argv[1])
smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, sys.argv[2]),
                        feature_level=opensmile.FeatureLevel.Functionals)
rows = [smile.process_signal(data[f"s{i}"], int(data["rates"][i])).to_numpy(np.float64).ravel()
        for i in range(len(data["rates"]))]
np.save(sys.argv[3], np.vstack(rows))
"""


def _in_worker(signals, rates, feature_set) -> np.ndarray:
    """Run openSMILE in a fresh interpreter that never loads TensorFlow."""
    import subprocess
    import tempfile

    _smile_check(feature_set)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "signals.npz", Path(tmp) / "features.npy"
        np.savez(src, rates=np.array(rates), **{f"s{i}": x for i, x in enumerate(signals)})
        done = subprocess.run([sys.executable, "-c", _WORKER, str(src), feature_set, str(out)],
                              capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"openSMILE worker failed ({done.returncode}): {done.stderr[-500:]}")
        return np.nan_to_num(np.load(out))
