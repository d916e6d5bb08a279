"""Stacking: a second-level classifier trained on the members' out-of-fold class scores."""
from __future__ import annotations

import numpy as np
from sklearn.base import clone

from .base import ScoreEnsemble

__all__ = ["StackingEnsemble"]


class StackingEnsemble(ScoreEnsemble):
    """Stack the members' class scores and learn the combination with ``final_estimator``.

    The final estimator must never see scores of samples a member trained on, or it learns to
    trust overfitted members. So it is trained on **out-of-fold** scores: with ``prefit=False``,
    a ``cv``-fold ``cross_val_predict`` of each member; with ``prefit=True``, the members' scores
    on the held-out ``X`` given to ``fit`` (a validation split they never saw).

    Args:
        final_estimator: a scikit-learn classifier with ``predict_proba``; default
            ``LogisticRegression(max_iter=1000)``.
        log_scores: give the final estimator ``log(p)`` instead of ``p`` (often better for
            a linear final estimator).
        members, prefit, cv, random_state: see :class:`emolib.ensemble.base.ScoreEnsemble`.

    Fitted: ``final_estimator_``.
    """

    def __init__(self, members, *, final_estimator=None, log_scores: bool = False, prefit: bool = True,
                 cv: int = 5, random_state=None):
        super().__init__(members, prefit=prefit, cv=cv, random_state=random_state)
        self.final_estimator = final_estimator
        self.log_scores = log_scores

    def _features(self, scores):
        m, n, k = scores.shape
        z = scores.transpose(1, 0, 2).reshape(n, m * k)
        return np.log(np.clip(z, 1e-7, 1.0)) if self.log_scores else z

    def _fit_combiner(self, scores, y):
        if self.final_estimator is None:
            from sklearn.linear_model import LogisticRegression

            final = LogisticRegression(max_iter=1000)
        else:
            final = clone(self.final_estimator)
        if not hasattr(final, "predict_proba"):
            raise TypeError(f"final_estimator {type(final).__name__}: expected a classifier with predict_proba")
        self.final_estimator_ = final.fit(self._features(scores), y)

    def _combine(self, scores):
        p = self.final_estimator_.predict_proba(self._features(scores))
        out = np.zeros((p.shape[0], len(self.classes_)))
        out[:, np.asarray(self.final_estimator_.classes_, int)] = p   # classes unseen in fit get 0
        return out
