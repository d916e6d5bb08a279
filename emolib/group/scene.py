"""From group photos to their faces: the first step of both group models.

A :class:`SceneFaces` holds one photo, its faces (``emolib.faces.Face``) and their aligned crops.
:class:`SceneFaceExtractor` makes them from sample scenes (known boxes), GAF photos, paths or
arrays, with any ``emolib.faces`` detector. Later steps cache their per-face features on the
``SceneFaces`` itself, so four descriptor members and an ensemble read each face once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["SceneFaces", "SceneFaceExtractor", "as_scene_faces"]


@dataclass(eq=False)
class SceneFaces:
    """One group photo and its faces.

    Attributes:
        image: the photo, RGB uint8 H x W x 3.
        faces: the faces found (or given), ``emolib.faces.Face`` objects, largest first.
        crops: aligned face crops, N x size x size x 3 uint8 (N may be 0).
        landmarks: dlib's 68 landmarks of each face, N x 68 x 2 (image pixels).
        source: where the photo came from (a path, or "sample scene 12").
        cache: per-face features computed by later steps, by key (filled lazily).
    """

    image: np.ndarray
    faces: tuple
    crops: np.ndarray
    landmarks: np.ndarray
    source: str = ""
    cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_faces(self) -> int:
        return len(self.faces)

    @property
    def boxes(self) -> np.ndarray:
        return np.array([f.box for f in self.faces], np.int64).reshape(-1, 4)

    def __repr__(self) -> str:
        return (f"SceneFaces(image={self.image.shape}, n_faces={self.n_faces}, "
                f"crop_size={self.crops.shape[1:3]}, source={self.source!r})")


class SceneFaceExtractor(TransformerMixin, BaseEstimator):
    """Find and align the faces of group photos.

    Args:
        method: detector for photos without known boxes: "haar", "hog" or "mtcnn"
            (see ``emolib.faces.detect``). AMD used Haar, HOG and a TinyFace ResNet; vlgiitr MTCNN.
        use_known_boxes: take the boxes a sample scene carries (``GroupScene.boxes``) instead of
            detecting. The sample profile does, so its numbers do not depend on a detector.
        size: side of the aligned crops, in pixels.
        margin: context around each face box kept in the crop (fraction of the box side).
        max_faces: keep at most this many faces, the largest first (None keeps all).
        detect_options: extra keyword arguments for ``emolib.faces.detect`` (threshold, upscale...).

    ``transform`` takes a list of items, each a ``GroupScene`` (sample data), a ``SceneFaces``
    (passed through), or anything ``emolib.faces.load_image`` reads (path, PIL image, array),
    and returns a list of :class:`SceneFaces`.
    """

    def __init__(self, method: str = "mtcnn", use_known_boxes: bool = True, size: int = 64,
                 margin: float = 0.25, max_faces: int | None = None, detect_options: dict | None = None):
        self.method = method
        self.use_known_boxes = use_known_boxes
        self.size = size
        self.margin = margin
        self.max_faces = max_faces
        self.detect_options = detect_options

    def fit(self, X=None, y=None):
        from ..faces import METHODS

        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r}: expected one of {METHODS}")
        if int(self.size) < 8:
            raise ValueError(f"size={self.size!r}: expected a crop side of at least 8 pixels")
        if self.max_faces is not None and self.max_faces < 0:
            raise ValueError(f"max_faces={self.max_faces!r}: expected None or a count >= 0")
        self.fitted_ = True
        return self

    def transform(self, X) -> list[SceneFaces]:
        if not hasattr(self, "fitted_"):
            self.fit()
        return [self.one(item, i) for i, item in enumerate(X)]

    def one(self, item, index: int = 0) -> SceneFaces:
        """The :class:`SceneFaces` of one item."""
        from ..faces import Face, align, detect, landmarks68, load_image

        if isinstance(item, SceneFaces):
            return item
        source = f"item {index}"
        if hasattr(item, "image") and hasattr(item, "boxes"):          # a sample GroupScene
            image = load_image(item.image)
            source = f"sample scene {index}"
            if self.use_known_boxes:
                faces = [Face(tuple(b), 1.0, None, "known") for b in np.asarray(item.boxes).reshape(-1, 4)]
            else:
                faces = detect(image, self.method, **(self.detect_options or {}))
        else:
            if isinstance(item, str) or hasattr(item, "__fspath__"):
                source = str(item)
            image = load_image(item)
            faces = detect(image, self.method, **(self.detect_options or {}))
        faces = sorted(faces, key=lambda f: -f.area)
        if self.max_faces is not None:
            faces = faces[: self.max_faces]
        s = int(self.size)
        crops = np.zeros((len(faces), s, s, 3), np.uint8)
        points = np.zeros((len(faces), 68, 2))
        for k, face in enumerate(faces):
            points[k] = landmarks68(image, face)          # once: for alignment and the landmark member
            crops[k] = align(image, face, s, margin=self.margin, grey=False, points=points[k])
        return SceneFaces(image, tuple(faces), crops, points, source)


def as_scene_faces(X, extractor: SceneFaceExtractor | None = None) -> list[SceneFaces]:
    """``X`` as a list of :class:`SceneFaces`, running ``extractor`` (default settings) where needed."""
    items = list(X)
    if all(isinstance(x, SceneFaces) for x in items):
        return items
    return (extractor if extractor is not None else SceneFaceExtractor()).transform(items)
