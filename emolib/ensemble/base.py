"""The common machinery of emolib's ensembles: members, their scores, fit and predict."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.utils.validation import check_is_fitted

from .members import as_member

__all__ = ["ScoreEnsemble"]


def _split_named(members):
    if isinstance(members, (str, bytes)) or not hasattr(members, "__len__") or len(members) == 0:
        raise ValueError("members: expected a non-empty list of estimators or (name, estimator) pairs")
    names, estimators = [], []
    for i, m in enumerate(members):
        if isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str):
            names.append(m[0])
            estimators.append(m[1])
        else:
            names.append(f"member{i}")
            estimators.append(m)
    if len(set(names)) != len(names):
        raise ValueError(f"members: names must be unique, got {names}")
    return names, estimators


class ScoreEnsemble(ClassifierMixin, BaseEstimator):
    """Base class: combines the class scores (``predict_proba``) of several members.

    Args:
        members: estimators with ``predict_proba``, Keras models, or ``(name, member)`` pairs.
            All must predict the same classes in the same order.
        prefit: True (default) when the members are already trained: ``fit(X, y)`` then only
            learns how to combine them, so ``X`` must be data they were not trained on (a
            validation split). False: each member is cloned and trained on ``(X, y)``; a combiner
            that learns (accuracy weights, SVM, stacking) learns from **out-of-fold** member scores
            of a ``cv``-fold split, then the members are refitted on all of ``(X, y)``.
        cv: folds for the out-of-fold scores when ``prefit=False``.
        random_state: seeds the fold split and any randomised combiner.

    Fitted attributes: ``members_`` (the fitted members), ``names_``, ``classes_``.
    """

    _learns = True   # whether the combiner needs held-out member scores

    def __init__(self, members, *, prefit: bool = True, cv: int = 5, random_state=None):
        self.members = members
        self.prefit = prefit
        self.cv = cv
        self.random_state = random_state

    # ---- subclasses implement these two
    def _fit_combiner(self, scores: np.ndarray, y: np.ndarray) -> None:
        """Learn from M x N x K member scores and N class indices."""

    def _combine(self, scores: np.ndarray) -> np.ndarray:
        """M x N x K member scores -> N x K ensemble scores."""
        raise NotImplementedError

    # ---- the estimator API
    def fit(self, X, y):
        names, estimators = _split_named(self.members)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != _length(X):
            raise ValueError(f"y: expected {_length(X)} labels (one per row of X), got shape {y.shape}")
        members = [as_member(m, prefit=self.prefit) for m in estimators]
        oof = None
        if self.prefit:
            fitted = [m.fit(X, y) for m in members]
        else:
            if self._learns:
                folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
                oof = np.stack([cross_val_predict(clone(m), X, y, cv=folds, method="predict_proba")
                                for m in members])
            fitted = [clone(m).fit(X, y) for m in members]
        self.names_ = names
        self.members_ = fitted
        self.classes_ = self._check_classes(fitted)
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(f"y: labels {unknown.tolist()} are not among the members' classes "
                             f"{self.classes_.tolist()}")
        y_idx = np.searchsorted(self.classes_, y) if _is_sorted(self.classes_) else \
            np.array([int(np.flatnonzero(self.classes_ == v)[0]) for v in y])
        if self._learns:
            scores = oof if oof is not None else self.member_scores(X)
            self._fit_combiner(scores, y_idx)
        return self

    def member_scores(self, X) -> np.ndarray:
        """Each member's ``predict_proba(X)``, stacked: M x N x K."""
        check_is_fitted(self, "members_")
        n, k = _length(X), len(self.classes_)
        out = []
        for name, m in zip(self.names_, self.members_):
            p = np.asarray(m.predict_proba(X), float)
            if p.shape != (n, k):
                raise ValueError(f"member {name!r}: expected predict_proba of shape {(n, k)}, got {p.shape}")
            out.append(p)
        return np.stack(out)

    def member_accuracies(self, X, y) -> dict[str, float]:
        """Accuracy of each member on ``(X, y)``, by name."""
        scores = self.member_scores(X)
        y = np.asarray(y)
        return {name: float(np.mean(self.classes_[s.argmax(axis=1)] == y))
                for name, s in zip(self.names_, scores)}

    def predict_proba(self, X) -> np.ndarray:
        """Combined class scores, N x K (rows sum to 1)."""
        return self._combine(self.member_scores(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    @staticmethod
    def _check_classes(members) -> np.ndarray:
        first = np.asarray(members[0].classes_)
        for i, m in enumerate(members[1:], 1):
            c = np.asarray(m.classes_)
            if c.shape != first.shape or not np.array_equal(c, first):
                raise ValueError(f"member {i}: classes {c.tolist()} differ from member 0's "
                                 f"{first.tolist()}; every member must predict the same classes in "
                                 "the same order")
        return first


def _length(X) -> int:
    try:
        return len(X)
    except TypeError:
        raise ValueError(f"X: expected an array or list of samples, got {type(X).__name__}") from None


def _is_sorted(a: np.ndarray) -> bool:
    return bool(np.all(a[:-1] < a[1:])) if len(a) > 1 else True


def normalise_weights(weights, n_members: int, what: str = "weights") -> np.ndarray:
    """Non-negative weights, one per member, scaled to sum to 1."""
    w = np.asarray(weights, float)
    if w.shape != (n_members,):
        raise ValueError(f"{what}: expected {n_members} values (one per member), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"{what}: expected finite non-negative values with a positive sum, got {w.tolist()}")
    return w / w.sum()
