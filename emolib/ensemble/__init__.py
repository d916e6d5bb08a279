"""Ensembles of emotion classifiers, scikit-learn style (``fit``, ``predict``, ``predict_proba``).

Every ensemble combines its members' class scores (``predict_proba``):

* :class:`MeanEnsemble`: score averaging (NTechLab {cite}`knyazev2017convolutional`; the FER2013
  VGGFace student project's VGGFace1+2 ensemble);
* :class:`FixedWeightEnsemble`: hand-picked weights (vlgiitr {cite}`vlgiitr2018group`);
* :class:`AccuracyWeightedEnsemble`: weights from validation accuracy (the AMD group pipeline
  {cite}`rassadin2017group`);
* :class:`SVMWeightedEnsemble`: weights chosen by a linear SVM on the member scores (vlgiitr);
* :class:`StackingEnsemble`: a second-level classifier on out-of-fold scores.

Members are fitted estimators with ``predict_proba``, Keras models (wrapped in
:class:`KerasMember`), or unfitted estimators when ``prefit=False``. Wrap trained members in
:class:`CachedMember` to score each data split once across several ensembles.
"""
from .base import ScoreEnsemble
from .members import CachedMember, KerasMember, PrefitMember, as_member, flatten_images, hog_features
from .stacking import StackingEnsemble
from .weighted import AccuracyWeightedEnsemble, FixedWeightEnsemble, MeanEnsemble, SVMWeightedEnsemble

__all__ = ["ScoreEnsemble", "MeanEnsemble", "FixedWeightEnsemble", "AccuracyWeightedEnsemble",
           "SVMWeightedEnsemble", "StackingEnsemble", "KerasMember", "PrefitMember", "CachedMember", "as_member",
           "flatten_images", "hog_features"]
