"""Aggregate a set of descriptors (faces of a photo, frames of a clip) into one vector.

``median`` is AMD's group descriptor (seed 000). ``stat`` = [mean, std, min, max] and
``stat*`` = [mean, std, min] are NTechLab's clip descriptors, and ``fft`` their spectral one
(seed 001). Names combine with '+', e.g. ``"mean+fft"``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["aggregate", "AGGREGATIONS", "fft_features"]


def fft_features(x: np.ndarray, n_coefficients: int = 4) -> np.ndarray:
    """Magnitudes of the first ``n_coefficients`` 1-D Fourier coefficients of each neuron over time.

    The sequence is zero-padded or truncated to ``2 * n_coefficients`` samples first, so clips of
    any length give the same size. Returns ``n_coefficients * D`` values (coefficient-major).
    """
    x = np.asarray(x, float)
    spectrum = np.abs(np.fft.rfft(x, n=2 * n_coefficients, axis=0))[:n_coefficients]
    return (spectrum / len(x)).ravel()


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


def aggregate(descriptors, how: str = "median") -> np.ndarray:
    """One vector from an ``N x D`` array of descriptors, by ``how`` (e.g. "median", "stat", "mean+fft")."""
    x = np.asarray(descriptors, float)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"descriptors: expected a non-empty N x D array, got shape {x.shape}")
    parts = how.split("+")
    unknown = [p for p in parts if p not in AGGREGATIONS]
    if unknown:
        raise ValueError(f"aggregation {unknown}: expected names from {sorted(AGGREGATIONS)} joined by '+'")
    return np.concatenate([AGGREGATIONS[p](x) for p in parts])
