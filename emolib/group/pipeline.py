"""The whole AMD system: faces -> members -> accuracy-weighted ensemble, with the no-face fallback.

:class:`GroupEmotionPipeline` trains its members on the training photos, weighs them by their
accuracy on held-out photos (``emolib.ensemble.AccuracyWeightedEnsemble``), and sends photos in
which no face was found to the whole-image CNN alone. :func:`predict_photo` runs a trained
pipeline on any photo a user passes.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..data.classes import GROUP_CLASSES
from .amd import DescriptorForest, LandmarkForest, WholeImageCNN, amd_descriptor_extractors, scene_labels
from .scene import SceneFaceExtractor, SceneFaces

__all__ = ["GroupEmotionPipeline", "default_members", "member_title", "predict_photo", "MEMBER_TITLES"]

MEMBER_TITLES = {
    "fc7_rgb": "VGGFace features (RGB, fc7), Random Forest",
    "fc7_bgr": "VGGFace features (BGR, fc7), Random Forest",
    "avgpool_rgb": "VGGFace features (RGB, avgpool), Random Forest",
    "avgpool_bgr": "VGGFace features (BGR, avgpool), Random Forest",
    "landmarks": "Landmark features, Random Forest",
    "face_id": "dlib face-ID features (128-d), Random Forest",
    "whole_image": "CNN for the whole image",
}


def member_title(name: str) -> str:
    """The row title of a member in a table in the style of AMD's {cite}`rassadin2017group`."""
    return MEMBER_TITLES.get(name, name)


def default_members(*, backbone: str = "vgg16", weights="vggface", input_size: int = 224,
                    whole_image: WholeImageCNN | None = None, face_id: bool = False,
                    n_estimators: int = 300, random_state: int = 0) -> dict:
    """AMD's members, by name: four descriptor forests, the landmark forest, the whole-image CNN,
    and (``face_id=True``) a forest on dlib's 128-d face-ID descriptor.

    ``backbone``, ``weights`` and ``input_size`` go to the four ``DescriptorExtractor`` objects
    (sample profile: ``weights=None, input_size=48``). ``whole_image`` defaults to
    ``WholeImageCNN("vgg16")`` (ImageNet weights, AMD's choice).
    """
    extractors = amd_descriptor_extractors(backbone, weights=weights, input_size=input_size,
                                           random_state=random_state)
    members = {name: DescriptorForest(ex, n_estimators=n_estimators, random_state=random_state)
               for name, ex in extractors.items()}
    members["landmarks"] = LandmarkForest(n_estimators=n_estimators, random_state=random_state)
    if face_id:
        from ..features.face_id import FaceIDExtractor

        members["face_id"] = DescriptorForest(FaceIDExtractor(), n_estimators=n_estimators,
                                              random_state=random_state)
    members["whole_image"] = whole_image if whole_image is not None else WholeImageCNN("vgg16")
    return members


class GroupEmotionPipeline(ClassifierMixin, BaseEstimator):
    """Group-level emotion from photos: AMD's ensemble with the whole-image fallback.

    Args:
        members: ``{name: estimator}``: classifiers over lists of :class:`SceneFaces`
            (:class:`DescriptorForest`, :class:`LandmarkForest`, :class:`WholeImageCNN`, or any
            estimator with ``fit``/``predict_proba`` on such lists). Default: :func:`default_members`.
            They are trained in place (not cloned: a clone would copy each network).
        fallback: name of the member that classifies photos without faces (default
            ``"whole_image"``); it must not depend on faces.
        faces: the :class:`SceneFaceExtractor` (detector, crop size, known boxes).
        power: accuracy exponent of the ensemble weights (``AccuracyWeightedEnsemble``).
        validation_fraction: share of the training photos held out to measure the members'
            accuracies when ``fit`` gets no ``X_val``.
        random_state: seed of that split.

    Fitted attributes: ``members_`` (trained members), ``ensemble_`` (the
    ``AccuracyWeightedEnsemble`` over the photos with faces), ``weights_`` (by member name),
    ``classes_``.
    """

    def __init__(self, members=None, fallback: str = "whole_image", faces: SceneFaceExtractor | None = None,
                 power: float = 1.0, validation_fraction: float = 0.25, random_state: int = 0):
        self.members = members
        self.fallback = fallback
        self.faces = faces
        self.power = power
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def scenes(self, X) -> list[SceneFaces]:
        """``X`` as :class:`SceneFaces` (faces found and aligned once; reuse the result)."""
        faces = self.faces if self.faces is not None else SceneFaceExtractor()
        items = list(X)
        return items if all(isinstance(x, SceneFaces) for x in items) else faces.transform(items)

    def fit(self, X, y, X_val=None, y_val=None):
        """Train the members on ``(X, y)``, then weigh them by accuracy on ``(X_val, y_val)``."""
        from sklearn.model_selection import train_test_split

        from ..ensemble import AccuracyWeightedEnsemble

        members = self.members if self.members is not None else default_members()
        if not isinstance(members, dict) or not members:
            raise ValueError("members: expected a non-empty {name: estimator} dict")
        if self.fallback not in members:
            raise ValueError(f"fallback={self.fallback!r}: expected one of the member names {list(members)}")
        train = self.scenes(X)
        y = scene_labels(y, len(train))
        if X_val is None:
            idx = np.arange(len(train))
            tr, va = train_test_split(idx, test_size=self.validation_fraction, stratify=y,
                                      random_state=self.random_state)
            val, y_val = [train[i] for i in va], y[va]
            train, y = [train[i] for i in tr], y[tr]
        else:
            val = self.scenes(X_val)
            y_val = scene_labels(y_val, len(val))
        self.members_ = {name: m.fit(train, y) for name, m in members.items()}
        with_faces = [i for i, s in enumerate(val) if s.n_faces]
        if not with_faces:
            raise ValueError("validation photos: none has a face, so the members cannot be weighed")
        self.ensemble_ = AccuracyWeightedEnsemble(list(self.members_.items()), power=self.power,
                                                  prefit=True)
        self.ensemble_.fit([val[i] for i in with_faces], y_val[with_faces])
        self.weights_ = dict(zip(self.ensemble_.names_, map(float, self.ensemble_.weights_)))
        self.classes_ = self.ensemble_.classes_
        return self

    def predict_proba(self, X) -> np.ndarray:
        scenes = self.scenes(X)
        out = np.zeros((len(scenes), len(self.classes_)))
        has = np.array([s.n_faces > 0 for s in scenes], bool)
        if has.any():
            out[has] = self.ensemble_.predict_proba([s for s, h in zip(scenes, has) if h])
        if (~has).any():
            out[~has] = self.members_[self.fallback].predict_proba([s for s, h in zip(scenes, has) if not h])
        return out

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def member_table(self, X, y):
        """Accuracy on ``(X, y)`` of every member, of the ensemble without the whole-image CNN,
        and of the full pipeline: the form of AMD's table (a pandas DataFrame).

        Members are scored on every photo; a face member answers photos without faces with
        its class frequencies, as it has nothing else to go on.
        """
        import pandas as pd

        scenes = self.scenes(X)
        y = scene_labels(y, len(scenes))
        scores = self.ensemble_.member_scores(scenes)                 # M x N x K
        names = list(self.ensemble_.names_)
        w = np.asarray(self.ensemble_.weights_)
        acc = lambda p: float(np.mean(self.classes_[p.argmax(axis=1)] == y))
        rows = [(member_title(n), acc(s), self.weights_[n]) for n, s in zip(names, scores)]
        face_only = np.array([n != self.fallback for n in names])
        if face_only.sum() > 1:
            wf = w * face_only / (w * face_only).sum()
            p = np.tensordot(wf, scores, axes=1)
            has = np.array([s.n_faces > 0 for s in scenes])
            p[~has] = scores[names.index(self.fallback)][~has]
            rows.append((f"Ensemble (except {member_title(self.fallback)})", acc(p), np.nan))
        rows.append(("Ensemble", acc(self.predict_proba(scenes)), np.nan))
        return pd.DataFrame(rows, columns=["model", "accuracy", "weight"])


def predict_photo(photo, pipeline: GroupEmotionPipeline, *, method: str | None = None,
                  classes=GROUP_CLASSES) -> dict:
    """Group emotion of one photo (path, PIL image or RGB array) with a trained pipeline.

    Faces are detected with ``method`` (default: the pipeline's ``faces.method``). Returns
    ``{"label", "probabilities" {class: p}, "n_faces", "boxes" [(x, y, w, h)], "route"}``, where
    ``route`` says whether the ensemble or the no-face fallback decided.
    """
    faces = pipeline.faces if pipeline.faces is not None else SceneFaceExtractor()
    if method is not None:
        faces = SceneFaceExtractor(**{**faces.get_params(), "method": method})
    scene = faces.transform([photo])[0]
    p = pipeline.predict_proba([scene])[0]
    names = [classes[int(c)] if 0 <= int(c) < len(classes) else str(c) for c in pipeline.classes_]
    return {"label": names[int(np.argmax(p))],
            "probabilities": {n: round(float(v), 4) for n, v in zip(names, p)},
            "n_faces": scene.n_faces,
            "boxes": [tuple(map(int, f.box)) for f in scene.faces],
            "route": "ensemble" if scene.n_faces else "whole-image fallback (no face found)"}
