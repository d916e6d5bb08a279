"""NTechLab's clip classifiers {cite}`knyazev2017convolutional`: one linear SVM per feature set
with C chosen by 5-fold CV, the average of their scores, and the class-prior correction.

- :class:`LinearSVMClassifier`: rescale to [-1, 1] -> rootsift -> standardise -> one-vs-rest
  linear SVM; ``C`` picked from ``Cs`` by stratified k-fold CV. Scores are the softmax of the margins.
- :class:`ScoreAverage`: one member per feature set or modality (video networks, audio), each
  fitted on its own features; the ensemble averages their class scores (NTechLab: 5 SVMs).
- :class:`PriorCorrection`: multiplies the class scores by ``frequencies ** 0.5`` (normalised),
  the square root of the class frequencies expected at test time. NTechLab's Table 5 gives the
  weights 0.15 0.10 0.13 0.19 0.21 0.14 0.08 from the test counts 98 40 70 144 193 80 28; this
  turned 54.98 into 60.03 % test accuracy.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ..features.scaling import make_svm_scaler
from ..models.predict import softmax

__all__ = ["LinearSVMClassifier", "ScoreAverage", "PriorCorrection", "prior_weights"]


class LinearSVMClassifier(ClassifierMixin, BaseEstimator):
    """Linear SVM on NTechLab's normalised features, with ``C`` chosen by stratified k-fold CV.

    One binary hinge-loss SVM per class (one-vs-rest), solved by libsvm on the linear kernel
    ``Z Z^T`` of the normalised training clips. With few clips and many features (AFEW: hundreds of
    clips, thousands of features) this is much faster than a primal solver, and gives the same
    linear model: ``coef_`` (one weight vector per class) and ``intercept_``.

    ``cv`` folds (5 in NTechLab) are reduced to the smallest class's size when a class has fewer
    clips (at least 2 folds); ``cv_folds_`` records the number used. ``cv_scores_`` maps each C
    to its mean CV accuracy; ``C_`` is the best (the smallest C among ties).
    """

    def __init__(self, Cs: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0, 10.0), cv: int = 5,
                 scaling: bool = True, use_rootsift: bool = True, random_state: int | None = 0):
        self.Cs = Cs
        self.cv = cv
        self.scaling = scaling
        self.use_rootsift = use_rootsift
        self.random_state = random_state

    def _scaler(self):
        return make_svm_scaler(rescale=self.scaling, use_rootsift=self.use_rootsift, standardise=self.scaling)

    @staticmethod
    def _fit_ovr(Z: np.ndarray, y_idx: np.ndarray, n_classes: int, Cs) -> list[tuple[np.ndarray, np.ndarray]]:
        """(coef, intercept) of a one-vs-rest linear SVM on rows ``Z`` for each C in ``Cs``."""
        from sklearn.svm import SVC

        K = Z @ Z.T
        out = []
        for C in Cs:
            coef = np.zeros((n_classes, Z.shape[1]))
            intercept = np.zeros(n_classes)
            for c in range(n_classes):
                svm = SVC(C=C, kernel="precomputed").fit(K, y_idx == c)
                coef[c] = svm.dual_coef_[0] @ Z[svm.support_]     # positive side: class c
                intercept[c] = svm.intercept_[0]
            out.append((coef, intercept))
        return out

    def fit(self, X, y):
        from threadpoolctl import threadpool_limits

        # Small matrices: one BLAS thread is faster, and much faster on a shared, busy machine.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(X, y)

    def _fit(self, X, y):
        from sklearn.model_selection import StratifiedKFold
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        X, y = validate_data(self, X, y, dtype=float)    # n x d finite array and n labels, or a clear error
        check_classification_targets(y)
        if len(self.Cs) == 0 or min(self.Cs) <= 0:
            raise ValueError(f"Cs: expected positive regularisation constants, got {self.Cs}")
        self.classes_, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
        k = len(self.classes_)
        if k < 2:
            raise ValueError(f"y: expected at least 2 classes, got 1 class: {self.classes_.tolist()}")
        Cs = sorted(float(c) for c in self.Cs)
        self.cv_folds_ = int(min(self.cv, counts.min()))
        if len(Cs) == 1 or self.cv_folds_ < 2:
            self.cv_scores_ = {c: float("nan") for c in Cs}
            self.C_ = Cs[len(Cs) // 2]
        else:
            hits = np.zeros(len(Cs))
            folds = StratifiedKFold(self.cv_folds_, shuffle=True, random_state=self.random_state)
            for train, test in folds.split(X, y_idx):
                scaler = self._scaler().fit(X[train])
                Ztr, Zte = scaler.transform(X[train]), scaler.transform(X[test])
                for j, (coef, b) in enumerate(self._fit_ovr(Ztr, y_idx[train], k, Cs)):
                    hits[j] += np.mean((Zte @ coef.T + b).argmax(axis=1) == y_idx[test])
            self.cv_scores_ = dict(zip(Cs, (hits / self.cv_folds_).tolist()))
            best = max(self.cv_scores_.values())
            self.C_ = min(c for c, s in self.cv_scores_.items() if s == best)
        self.scaler_ = self._scaler().fit(X)
        self.coef_, self.intercept_ = self._fit_ovr(self.scaler_.transform(X), y_idx, k, [self.C_])[0]
        return self

    def decision_function(self, X) -> np.ndarray:
        """One-vs-rest margins, one column per class."""
        from sklearn.utils.validation import validate_data

        check_is_fitted(self, "coef_")
        X = validate_data(self, X, dtype=float, reset=False)
        return self.scaler_.transform(X) @ self.coef_.T + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        """Softmax of the SVM margins: class scores that sum to 1 (not calibrated probabilities)."""
        return softmax(self.decision_function(X))

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "coef_")
        return self.classes_[self.decision_function(X).argmax(axis=1)]


class ScoreAverage(ClassifierMixin, BaseEstimator):
    """Average the class scores of members trained on different feature sets (or modalities).

    ``members`` is a list of ``(name, estimator)``; ``X`` is a mapping ``name -> features`` (one
    row per clip, the same clips in the same order for every name). ``weights`` (default equal)
    weight the members' ``predict_proba``. With ``prefit=True`` the members are already fitted
    and ``fit`` only checks that they agree on the classes.
    """

    def __init__(self, members: Sequence[tuple[str, object]], weights: Sequence[float] | None = None,
                 prefit: bool = False):
        self.members = members
        self.weights = weights
        self.prefit = prefit

    def _views(self, X: Mapping) -> list[np.ndarray]:
        if not isinstance(X, Mapping):
            raise TypeError(f"X: expected a mapping of feature-set name -> array, got {type(X).__name__}")
        names = [n for n, _ in self.members]
        missing = [n for n in names if n not in X]
        if missing:
            raise ValueError(f"X: no features for member(s) {missing}; got {sorted(X)}")
        views = [np.asarray(X[n]) for n in names]
        if len({len(v) for v in views}) != 1:
            raise ValueError(f"X: expected the same number of clips in every feature set, got "
                             f"{ {n: len(v) for n, v in zip(names, views)} }")
        return views

    def fit(self, X: Mapping | None = None, y=None):
        if not self.members:
            raise ValueError("members: expected at least one (name, estimator)")
        if self.weights is not None and len(self.weights) != len(self.members):
            raise ValueError(f"weights: expected {len(self.members)} values, got {len(self.weights)}")
        if self.prefit:
            for _name, est in self.members:
                check_is_fitted(est)
            self.estimators_ = [est for _, est in self.members]
        else:
            if X is None or y is None:
                raise ValueError("X, y: expected training features and labels (or prefit=True)")
            y = np.asarray(y)
            self.estimators_ = [clone(est).fit(v, y) for (_, est), v in zip(self.members, self._views(X))]
        self.classes_ = self.estimators_[0].classes_
        for (name, _), est in zip(self.members, self.estimators_):
            if not np.array_equal(est.classes_, self.classes_):
                raise ValueError(f"member {name!r} learnt classes {est.classes_}, expected {self.classes_}")
        return self

    def member_proba(self, X: Mapping) -> dict[str, np.ndarray]:
        """Each member's class scores, by name."""
        check_is_fitted(self, "estimators_")
        return {name: est.predict_proba(v)
                for (name, _), est, v in zip(self.members, self.estimators_, self._views(X))}

    def predict_proba(self, X: Mapping) -> np.ndarray:
        scores = list(self.member_proba(X).values())
        w = np.ones(len(scores)) if self.weights is None else np.asarray(self.weights, float)
        return np.tensordot(w / w.sum(), np.stack(scores), axes=1)

    def predict(self, X: Mapping) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def prior_weights(frequencies, power: float = 0.5) -> np.ndarray:
    """``frequencies ** power``, normalised to sum 1 (NTechLab: power 0.5 on the test counts)."""
    f = np.asarray(frequencies, float)
    if f.ndim != 1 or len(f) < 2 or (f < 0).any() or f.sum() <= 0 or not np.isfinite(f).all():
        raise ValueError(f"frequencies: expected a 1-D array of >= 2 non-negative counts or shares, got {frequencies}")
    w = f ** power
    return w / w.sum()


class PriorCorrection(TransformerMixin, BaseEstimator):
    """Reweight class scores towards the class frequencies expected at test time.

    ``transform(P)`` returns ``P * w`` with each row renormalised to sum 1, where
    ``w = prior_weights(target_frequencies, power)``; with ``source_frequencies`` (the classes'
    frequencies in the data the scores were fitted on) ``w`` is ``(target / source) ** power``,
    normalised. ``power=0.5`` is NTechLab's square root; uniform targets change nothing.
    Scores must be non-negative (use ``predict_proba``, not SVM margins).
    """

    def __init__(self, target_frequencies, power: float = 0.5, source_frequencies=None):
        self.target_frequencies = target_frequencies
        self.power = power
        self.source_frequencies = source_frequencies

    def fit(self, X=None, y=None):
        target = np.asarray(self.target_frequencies, float)
        if self.source_frequencies is None:
            self.weights_ = prior_weights(target, self.power)
        else:
            source = np.asarray(self.source_frequencies, float)
            if source.shape != target.shape or (source <= 0).any():
                raise ValueError(f"source_frequencies: expected {len(target)} positive values, got "
                                 f"{self.source_frequencies}")
            self.weights_ = prior_weights(target / source, self.power)
        if X is not None:
            self._check(X)
        return self

    def _check(self, X) -> np.ndarray:
        P = np.asarray(X, float)
        if P.ndim != 2 or P.shape[1] != len(self.weights_):
            raise ValueError(f"scores: expected an n x {len(self.weights_)} array (one column per class "
                             f"frequency), got shape {P.shape}")
        if (P < 0).any():
            raise ValueError("scores: expected non-negative class scores (e.g. predict_proba), got negative values")
        return P

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "weights_")
        P = self._check(X) * self.weights_
        total = P.sum(axis=1, keepdims=True)
        return P / np.where(total > 0, total, 1.0)
