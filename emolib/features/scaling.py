"""Feature scaling as scikit-learn transformers: rescale to [-1, 1], rootsift, standardise.

NTechLab {cite}`knyazev2017convolutional` rescales each clip descriptor to [-1, 1], concatenates,
applies rootsift ``sign(x) * sqrt(|x| / ||x||_1)`` (Arandjelović and Zisserman 2012) and
standardises, before a linear SVM. ``make_svm_scaler()`` chains the three in that order.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

__all__ = ["rootsift", "Rescale", "RootSIFT", "Standardise", "make_svm_scaler"]


def _as_2d(X, name: str = "X") -> np.ndarray:
    """``X`` as a dense float samples x features array, or a clear error (scikit-learn's wording
    where its estimator checks look for it)."""
    from scipy import sparse

    if sparse.issparse(X):
        raise TypeError(f"{name}: sparse input is not supported; expected a dense samples x features array")
    X = np.asarray(X)
    if np.iscomplexobj(X):
        raise ValueError(f"{name}: Complex data not supported; expected real values")
    X = X.astype(float)
    if X.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D samples x features array, got shape {X.shape}. "
                         f"Reshape your data with X.reshape(1, -1) for a single sample")
    if X.shape[0] == 0 or X.shape[1] == 0:
        what = "sample" if X.shape[0] == 0 else "feature"
        raise ValueError(f"{name}: found array with 0 {what}(s) (shape={X.shape}) while a minimum of "
                         f"1 is required.")
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{name}: expected finite values (no NaN or inf), got {X[tuple(bad)]} at row "
                         f"{bad[0]}, column {bad[1]}")
    return X


def _check_width(est, X) -> None:
    if X.shape[1] != est.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(est).__name__} is expecting "
                         f"{est.n_features_in_} features as input (it was fitted with {est.n_features_in_})")


def rootsift(X) -> np.ndarray:
    """Row-wise ``sign(x) * sqrt(|x| / ||x||_1)``; an all-zero row stays zero.

    Each output row has unit L2 norm (unless it is zero): the Hellinger-kernel map of the row.
    """
    X = _as_2d(X)
    l1 = np.abs(X).sum(axis=1, keepdims=True)
    return np.sign(X) * np.sqrt(np.abs(X) / np.where(l1 > 0, l1, 1.0))


class Rescale(TransformerMixin, BaseEstimator):
    """Map each feature linearly so that its training range becomes ``feature_range`` ([-1, 1]).

    A constant feature maps to the middle of the range. ``clip`` limits new data to the range.
    """

    def __init__(self, feature_range: tuple[float, float] = (-1.0, 1.0), clip: bool = False):
        self.feature_range = feature_range
        self.clip = clip

    def fit(self, X, y=None):
        lo, hi = self.feature_range
        if not lo < hi:
            raise ValueError(f"feature_range: expected (low, high) with low < high, got {self.feature_range}")
        X = _as_2d(X)
        self.n_features_in_ = X.shape[1]
        self.data_min_, self.data_max_ = X.min(axis=0), X.max(axis=0)
        return self

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "data_min_")
        X = _as_2d(X)
        _check_width(self, X)
        lo, hi = self.feature_range
        span = self.data_max_ - self.data_min_
        unit = np.where(span > 0, (X - self.data_min_) / np.where(span > 0, span, 1.0), 0.5)
        out = lo + unit * (hi - lo)
        return np.clip(out, lo, hi) if self.clip else out


class RootSIFT(TransformerMixin, BaseEstimator):
    """Stateless transformer applying :func:`rootsift` to each row."""

    def fit(self, X, y=None):
        self.n_features_in_ = _as_2d(X).shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        X = _as_2d(X)
        _check_width(self, X)
        return rootsift(X)


class Standardise(TransformerMixin, BaseEstimator):
    """Subtract the training mean and divide by the training standard deviation.

    ``scope="feature"`` (default) uses one mean and std per feature; ``scope="global"`` one mean and
    std over all values. A zero std leaves the centred values unscaled.
    """

    def __init__(self, scope: str = "feature"):
        self.scope = scope

    def fit(self, X, y=None):
        if self.scope not in ("feature", "global"):
            raise ValueError(f"scope: expected 'feature' or 'global', got {self.scope!r}")
        X = _as_2d(X)
        self.n_features_in_ = X.shape[1]
        axis = 0 if self.scope == "feature" else None
        self.mean_ = np.broadcast_to(X.mean(axis=axis), (X.shape[1],)).copy()
        std = np.broadcast_to(X.std(axis=axis), (X.shape[1],))
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "mean_")
        X = _as_2d(X)
        _check_width(self, X)
        return (X - self.mean_) / self.scale_


def make_svm_scaler(rescale: bool = True, use_rootsift: bool = True, standardise: bool = True,
                    scope: str = "feature") -> Pipeline:
    """NTechLab's feature normalisation: [-1, 1] rescaling, then rootsift, then standardisation."""
    steps = []
    if rescale:
        steps.append(("rescale", Rescale()))
    if use_rootsift:
        steps.append(("rootsift", RootSIFT()))
    if standardise:
        steps.append(("standardise", Standardise(scope)))
    if not steps:
        steps.append(("identity", "passthrough"))
    return Pipeline(steps)
