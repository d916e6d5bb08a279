"""Aggregate a set of descriptors (faces of a photo, frames of a clip) into one vector.

``median`` is AMD's group descriptor ({cite}`rassadin2017group`). NTechLab's clip descriptors
({cite}`knyazev2017convolutional`), each
computed per neuron over the frames of a clip:

- ``mean``, ``std`` (population, ddof 0), ``min``, ``max``;
- ``stat`` = [mean, std, min, max] (from Bargal et al. 2016) and ``stat*`` = STAT without max;
- ``fft``: the 1-D discrete Fourier transform of each neuron's sequence, whose magnitudes are then
  averaged over the frequencies, giving one value per neuron (D values, as NTechLab's 4,096 for
  VGG-Face's 4,096). A constant sequence gives its absolute value, whatever the clip length.

Names are case-insensitive and combine with '+', e.g. ``"STAT*+fft"``; the parts are concatenated
in the order given.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["aggregate", "aggregate_clips", "Aggregate", "AGGREGATIONS", "fft_features",
           "parse_aggregation"]


def fft_features(x: np.ndarray, n_coefficients: int | None = None) -> np.ndarray:
    """Spectral features of an ``N x D`` sequence, one Fourier transform per neuron (column).

    With ``n_coefficients=None`` (NTechLab's definition) this is ``mean_k |FFT(x)_k|`` over the N
    frequencies, for each neuron: D values. With an integer, it returns instead the magnitudes of the first
    ``n_coefficients`` coefficients (divided by N; zero-padded when the clip is shorter),
    coefficient-major: ``n_coefficients * D`` values.
    """
    x = np.asarray(x, float)
    n = len(x)
    if n_coefficients is None:
        return np.abs(np.fft.fft(x, axis=0)).mean(axis=0)
    if n_coefficients < 1:
        raise ValueError(f"n_coefficients: expected a positive integer or None, got {n_coefficients}")
    spectrum = np.abs(np.fft.fft(x, axis=0))[:n_coefficients] / n
    if len(spectrum) < n_coefficients:
        spectrum = np.vstack([spectrum, np.zeros((n_coefficients - len(spectrum), x.shape[1]))])
    return spectrum.ravel()


AGGREGATIONS = {
    "mean": lambda x: x.mean(axis=0),
    "median": lambda x: np.median(x, axis=0),
    "std": lambda x: x.std(axis=0),
    "min": lambda x: x.min(axis=0),
    "max": lambda x: x.max(axis=0),
    "stat": lambda x: np.concatenate([x.mean(0), x.std(0), x.min(0), x.max(0)]),
    "stat*": lambda x: np.concatenate([x.mean(0), x.std(0), x.min(0)]),
    "fft": fft_features,
}


def parse_aggregation(how: str) -> list[str]:
    """The parts of an aggregation name, lower-cased and validated: ``"STAT*+fft"`` -> ["stat*", "fft"]."""
    if not isinstance(how, str) or not how.strip():
        raise ValueError(f"aggregation: expected names from {sorted(AGGREGATIONS)} joined by '+', got {how!r}")
    parts = [p.strip().lower() for p in how.split("+")]
    unknown = [p for p in parts if p not in AGGREGATIONS]
    if unknown:
        raise ValueError(f"aggregation {unknown}: expected names from {sorted(AGGREGATIONS)} joined by '+'")
    return parts


def aggregate(descriptors, how: str = "median") -> np.ndarray:
    """One vector from an ``N x D`` array of descriptors, by ``how`` (e.g. "median", "stat", "mean+fft")."""
    parts = parse_aggregation(how)
    x = np.asarray(descriptors, float)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"descriptors: expected a non-empty N x D array, got shape {x.shape}")
    return np.concatenate([AGGREGATIONS[p](x) for p in parts])


def aggregate_clips(sequences: Iterable, how: str = "mean") -> np.ndarray:
    """Aggregate each ``T_i x D`` sequence of a list: returns ``n_clips x D'``."""
    parse_aggregation(how)
    rows = []
    for i, seq in enumerate(sequences):
        try:
            rows.append(aggregate(seq, how))
        except ValueError as err:
            raise ValueError(f"sequence {i}: {err}") from None
    if not rows:
        raise ValueError("sequences: expected at least one clip, got none")
    return np.vstack(rows)


class Aggregate(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: a list of ``T_i x D`` frame-feature sequences -> one row per clip.

    Stateless (``fit`` only validates ``how``), so it can open a ``Pipeline`` that ends in a classifier.
    """

    def __init__(self, how: str = "stat*"):
        self.how = how

    def fit(self, X=None, y=None):
        parse_aggregation(self.how)
        return self

    def transform(self, X) -> np.ndarray:
        return aggregate_clips(X, self.how)
