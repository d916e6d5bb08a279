"""Calibration of predicted probabilities: expected calibration error, divergence from the FER+
annotators' vote distribution, and temperature scaling fitted on a holdout.

FER+ (Barsoum et al. 2016) gives ten annotators' votes per FER2013 face, so a face has a real
distribution of human answers to compare a model's probabilities with. Temperature scaling follows
Guo et al., "On Calibration of Modern Neural Networks" (ICML 2017).
"""
from __future__ import annotations

import numpy as np

from emolib.data.ferplus import FERPLUS_TO_FER2013

__all__ = ["expected_calibration_error", "fit_class_bias", "votes_to_fer2013_distribution", "mean_kl_from_votes",
           "TemperatureScaling"]

_EPS = 1e-12


def _check_probs(probs) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"probs must be an N x K array of class probabilities, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or (p < 0).any():
        raise ValueError("probs must be finite and non-negative")
    return p


def expected_calibration_error(probs, labels, n_bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins
    and weighted by how many predictions fall in each bin."""
    p = _check_probs(probs)
    y = np.asarray(labels)
    if y.shape != (len(p),):
        raise ValueError(f"labels must have shape ({len(p)},), got {y.shape}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    conf, pred = p.max(axis=1), p.argmax(axis=1)
    correct = (pred == y).astype(np.float64)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return float(ece)


def votes_to_fer2013_distribution(votes) -> tuple[np.ndarray, np.ndarray]:
    """Map N x 10 FER+ votes onto the 7 FER2013 classes (contempt, unknown and not-a-face are
    dropped) and normalise. Returns ``(distribution N x 7, kept mask N)``; rows with no vote on
    a shared class are not kept."""
    v = np.asarray(votes, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] < 8:
        raise ValueError(f"votes must be an N x 10 FER+ vote matrix, got shape {v.shape}")
    out = np.zeros((len(v), 7))
    for ferplus, fer2013 in FERPLUS_TO_FER2013.items():
        if fer2013 is not None:
            out[:, fer2013] = v[:, ferplus]
    total = out.sum(axis=1)
    kept = total > 0
    out[kept] /= total[kept, None]
    return out, kept


def mean_kl_from_votes(probs, votes) -> tuple[float, int]:
    """Mean KL(votes || model) in nats over the faces with at least one vote on the 7 shared
    classes; returns ``(mean KL, number of faces used)``."""
    p = _check_probs(probs)
    if p.shape[1] != 7:
        raise ValueError(f"probs must hold the 7 FER2013 classes, got {p.shape[1]} columns")
    q, kept = votes_to_fer2013_distribution(votes)
    if len(q) != len(p):
        raise ValueError(f"{len(p)} probability rows but {len(q)} vote rows")
    q, p = q[kept], np.clip(p[kept], _EPS, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, q * (np.log(q) - np.log(p)), 0.0)
    return float(terms.sum(axis=1).mean()), int(kept.sum())


class TemperatureScaling:
    """Divide log-probabilities by one temperature T fitted on a holdout (minimum NLL).

    ``fit(probs, labels)`` then ``transform(probs)``; T > 1 softens over-confident models.
    """

    def __init__(self, bounds: tuple[float, float] = (0.05, 20.0)):
        self.bounds = bounds

    def fit(self, probs, labels) -> TemperatureScaling:
        from scipy.optimize import minimize_scalar

        logp = np.log(np.clip(_check_probs(probs), _EPS, 1.0))
        y = np.asarray(labels)

        def nll(t: float) -> float:
            z = logp / t
            z = z - z.max(axis=1, keepdims=True)
            return float(-(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))).mean())

        res = minimize_scalar(nll, bounds=self.bounds, method="bounded")
        self.temperature_ = float(res.x)
        return self

    def transform(self, probs) -> np.ndarray:
        if not hasattr(self, "temperature_"):
            raise RuntimeError("TemperatureScaling is not fitted: call fit(probs, labels) first")
        z = np.log(np.clip(_check_probs(probs), _EPS, 1.0)) / self.temperature_
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def fit_class_bias(probs, labels, *, steps=None, rounds: int = 3,
                   max_accuracy_drop: float | None = None) -> np.ndarray:
    """Per-class log-offsets ``b`` that maximise macro-F1 of ``argmax(log p + b)`` on a holdout.

    Coordinate ascent: each round tries every offset in ``steps`` for each class in turn and keeps
    the best (ties keep the smaller change); ``steps`` defaults to -1..1 by 0.1. Only differences
    between offsets change the argmax (or a softmax), so they are returned centred (mean 0): a rare
    class that a model under-predicts (FER2013's disgust) gets a positive offset. Fit on a holdout,
    never on the test split.

    ``max_accuracy_drop`` (e.g. 0.0025): only offsets whose accuracy stays within this much of the
    accuracy without offsets are considered, so macro-F1 is not bought with many lost faces.
    """
    from sklearn.metrics import f1_score

    steps = np.linspace(-1.0, 1.0, 21) if steps is None else np.asarray(steps, float)
    logp = np.log(np.clip(_check_probs(probs), _EPS, 1.0))
    y = np.asarray(labels)
    if len(y) != len(logp):
        raise ValueError(f"labels: expected {len(logp)} (one per row of probs), got {len(y)}")
    k = logp.shape[1]
    bias = np.zeros(k)

    floor = -np.inf if max_accuracy_drop is None else (logp.argmax(axis=1) == y).mean() - max_accuracy_drop

    def score(b):
        pred = (logp + b).argmax(axis=1)
        if (pred == y).mean() < floor - 1e-12:
            return -np.inf
        return f1_score(y, pred, average="macro", labels=np.arange(k), zero_division=0)

    best = score(bias)
    for _ in range(rounds):
        changed = False
        for c in range(k):
            for step in sorted(steps, key=abs):
                trial = bias.copy()
                trial[c] = step
                s = score(trial)
                if s > best + 1e-9:
                    best, bias, changed = s, trial, True
        if not changed:
            break
    return bias - bias.mean()
