"""scikit-learn's own estimator checks over the emolib estimators that take plain arrays.

Estimators over photos, clips or Keras models (the group pipeline, the video LSTM, the ensemble
members) take lists of images or sequences, which the generic checks cannot build; they are
tested in their own files.
"""
from sklearn.utils.estimator_checks import parametrize_with_checks

from emolib.features.scaling import Rescale, RootSIFT, Standardise
from emolib.video.classify import LinearSVMClassifier

ESTIMATORS = [Rescale(), RootSIFT(), Standardise(), Standardise(scope="global"),
              LinearSVMClassifier(Cs=(0.1, 1.0), cv=2)]


_OVR = ("decision_function gives one-vs-rest margins for every class, two columns for two "
        "classes (NTechLab's one SVM per class); scikit-learn expects one column for binary tasks")


def _expected_failures(estimator) -> dict[str, str]:
    if isinstance(estimator, LinearSVMClassifier):
        return {"check_classifiers_train": _OVR, "check_classifiers_classes": _OVR}
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)
