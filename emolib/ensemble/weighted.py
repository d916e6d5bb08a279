"""Weighted score averaging: equal weights (NTechLab), hand-picked weights (vlgiitr), weights from
validation accuracy (AMD), and weights chosen by a linear SVM (vlgiitr)."""
from __future__ import annotations

import numpy as np

from ..models.predict import softmax
from .base import ScoreEnsemble, normalise_weights

__all__ = ["MeanEnsemble", "FixedWeightEnsemble", "AccuracyWeightedEnsemble", "SVMWeightedEnsemble"]


class _WeightedAverage(ScoreEnsemble):
    def _combine(self, scores):
        return np.tensordot(self.weights_, scores, axes=1)


class MeanEnsemble(_WeightedAverage):
    """Average the members' class scores (score averaging, as NTechLab's seed does).

    See :class:`emolib.ensemble.base.ScoreEnsemble` for ``members``, ``prefit``, ``cv`` and
    ``random_state``. Fitted: ``weights_`` (all ``1/M``).
    """

    _learns = False

    def __init__(self, members, *, prefit: bool = True, cv: int = 5, random_state=None):
        super().__init__(members, prefit=prefit, cv=cv, random_state=random_state)

    def fit(self, X, y):
        super().fit(X, y)
        self.weights_ = np.full(len(self.members_), 1 / len(self.members_))
        return self


class FixedWeightEnsemble(_WeightedAverage):
    """Weighted average with hand-picked ``weights`` (one per member; scaled to sum to 1), as
    vlgiitr's hand-picked ensemble of 14 models. Fitted: ``weights_``."""

    _learns = False

    def __init__(self, members, weights, *, prefit: bool = True, cv: int = 5, random_state=None):
        super().__init__(members, prefit=prefit, cv=cv, random_state=random_state)
        self.weights = weights

    def fit(self, X, y):
        n = len(self.members) if hasattr(self.members, "__len__") else 0
        weights = normalise_weights(self.weights, n)          # fail before any training
        super().fit(X, y)
        self.weights_ = weights
        return self


class AccuracyWeightedEnsemble(_WeightedAverage):
    """Weighted average whose weights are the members' accuracies on held-out data (AMD's seed:
    "weighting weak classifiers in the ensemble based on their accuracy estimated on the
    validation data").

    ``weight_m = accuracy_m ** power``, scaled to sum to 1; a larger ``power`` favours the best
    members more. With ``prefit=True`` the accuracies are measured on the ``X, y`` given to
    ``fit`` (the validation split); with ``prefit=False``, on out-of-fold predictions.
    Fitted: ``member_accuracy_``, ``weights_``.
    """

    def __init__(self, members, *, power: float = 1.0, prefit: bool = True, cv: int = 5,
                 random_state=None):
        super().__init__(members, prefit=prefit, cv=cv, random_state=random_state)
        self.power = power

    def _fit_combiner(self, scores, y):
        if not np.isfinite(self.power) or self.power < 0:
            raise ValueError(f"power={self.power}: expected a finite non-negative number")
        acc = (scores.argmax(axis=2) == y[None, :]).mean(axis=1)
        self.member_accuracy_ = acc
        if acc.sum() == 0:
            raise ValueError("every member has accuracy 0 on the fitting data: no weights to derive")
        self.weights_ = normalise_weights(acc ** self.power, len(acc), "accuracy weights")


class SVMWeightedEnsemble(ScoreEnsemble):
    """A linear SVM chooses the weights (vlgiitr's seed: an SVM on the 14 models' concatenated
    class probabilities).

    The SVM sees each sample as the M*K member scores side by side; its coefficients are the
    weights, one per (ensemble class, member, member class), so it can trust a member for some
    classes and not others. ``predict_proba`` returns the softmax of the SVM's decision values:
    scores for ranking, not calibrated probabilities.

    Args:
        C: inverse regularisation of ``sklearn.svm.LinearSVC`` (vlgiitr used a very small C).
        max_iter: LinearSVC's iteration cap.
        members, prefit, cv, random_state: see :class:`emolib.ensemble.base.ScoreEnsemble`.

    Fitted: ``svm_`` (the LinearSVC), ``coef_`` (C' x M x K), ``member_weights_`` (each member's
    share of the coefficient norm, summing to 1).
    """

    def __init__(self, members, *, C: float = 1.0, max_iter: int = 10000, prefit: bool = True,
                 cv: int = 5, random_state=None):
        super().__init__(members, prefit=prefit, cv=cv, random_state=random_state)
        self.C = C
        self.max_iter = max_iter

    @staticmethod
    def _features(scores):
        m, n, k = scores.shape
        return scores.transpose(1, 0, 2).reshape(n, m * k)

    def _fit_combiner(self, scores, y):
        from sklearn.svm import LinearSVC

        if len(np.unique(y)) < 2:
            raise ValueError("y: the SVM needs at least two classes in the fitting data")
        m, _, k = scores.shape
        self.svm_ = LinearSVC(C=self.C, max_iter=self.max_iter, random_state=self.random_state)
        self.svm_.fit(self._features(scores), y)
        self.coef_ = self.svm_.coef_.reshape(len(self.svm_.coef_), m, k)
        norms = np.sqrt((self.coef_ ** 2).sum(axis=(0, 2)))
        self.member_weights_ = norms / norms.sum() if norms.sum() > 0 else np.full(m, 1 / m)

    def _combine(self, scores):
        d = self.svm_.decision_function(self._features(scores))
        if d.ndim == 1:                                  # two classes: one decision value
            d = np.stack([-d / 2, d / 2], axis=1)
        out = np.full((len(d), len(self.classes_)), -np.inf)   # classes unseen in fit get 0
        out[:, self.svm_.classes_] = d
        return softmax(out)
