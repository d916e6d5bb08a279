"""The AMD group-level pipeline (Rassadin, Gruzdev & Savchenko, EmotiW 2017,
{cite}`rassadin2017group`).

Faces are found and aligned; each face gets deep descriptors from a face-recognition network
(VGGFace ``avgpool`` 512-d and ``fc7`` 4096-d, with the image in RGB and in BGR order); the
median over a photo's faces is the photo's descriptor; a Random Forest is trained per
descriptor, plus one on normalised landmark distances; a CNN fine-tuned on the whole image is
both a member and the classifier for photos where no face is found; and the members are
weighted by their validation accuracy. Every step here is a scikit-learn estimator whose
``X`` is a list of photos (:class:`~emolib.group.scene.SceneFaces`, or anything
:class:`~emolib.group.scene.SceneFaceExtractor` reads).

Per-face features are cached on each ``SceneFaces``, so members that share an extractor, and
the ensemble's repeated calls, compute each face's descriptor once.
"""
from __future__ import annotations

import uuid

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..features.aggregate import aggregate
from .scene import SceneFaceExtractor, SceneFaces, as_scene_faces

__all__ = ["FaceForest", "DescriptorForest", "LandmarkForest", "WholeImageCNN",
           "amd_descriptor_extractors", "scene_labels"]


def scene_labels(y, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"y: expected {n} labels (one per photo), got shape {y.shape}")
    return y


class FaceForest(ClassifierMixin, BaseEstimator):
    """Base of the face members: per-face vectors -> one vector per photo -> Random Forest.

    Subclasses define :meth:`face_features` (one ``n_faces x D`` array per photo). A photo
    without faces has no descriptor: the forest never sees it in training, and
    ``predict_proba`` gives it the training class frequencies (the pipeline sends such photos
    to the whole-image fallback instead).

    Args:
        how: aggregation over a photo's faces, any ``emolib.features.aggregate`` name
            ("median" as AMD, "mean", "stat", ...).
        n_estimators, max_features, min_samples_leaf: the Random Forest's settings.
        random_state: the forest's seed.
        faces: the :class:`SceneFaceExtractor` for items that are not ``SceneFaces`` yet.
    """

    def __init__(self, how: str = "median", n_estimators: int = 300, max_features="sqrt",
                 min_samples_leaf: int = 1, random_state: int = 0,
                 faces: SceneFaceExtractor | None = None):
        self.how = how
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state
        self.faces = faces

    # -- subclasses ---------------------------------------------------------------------------
    def face_features(self, scenes: list[SceneFaces]) -> list[np.ndarray]:
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------------
    def descriptors(self, X) -> tuple[np.ndarray, np.ndarray]:
        """(photo descriptors N x D, has_face N bools); rows without faces are NaN."""
        scenes = as_scene_faces(X, self.faces)
        rows = [aggregate(f, self.how) if len(f) else None for f in self.face_features(scenes)]
        has = np.array([r is not None for r in rows], bool)
        dim = next((len(r) for r in rows if r is not None), getattr(self, "n_features_in_", 0))
        out = np.full((len(scenes), dim), np.nan, np.float32)
        for i, r in enumerate(rows):
            if r is not None:
                out[i] = r
        return out, has

    def fit(self, X, y):
        from sklearn.ensemble import RandomForestClassifier

        scenes = as_scene_faces(X, self.faces)
        y = scene_labels(y, len(scenes))
        aggregate(np.zeros((1, 2)), self.how)               # fails early on an unknown name
        F, has = self.descriptors(scenes)
        if has.sum() == 0 or len(np.unique(y[has])) < 2:
            raise ValueError("fit: need photos with faces from at least two classes, got "
                             f"{int(has.sum())} photos with faces")
        self.classes_ = np.unique(y)
        self.prior_ = np.array([np.mean(y == c) for c in self.classes_])
        self.forest_ = RandomForestClassifier(
            n_estimators=self.n_estimators, max_features=self.max_features,
            min_samples_leaf=self.min_samples_leaf, random_state=self.random_state, n_jobs=1)
        self.forest_.fit(F[has], y[has])
        self.n_features_in_ = F.shape[1]
        self.n_photos_with_faces_ = int(has.sum())
        return self

    def predict_proba(self, X) -> np.ndarray:
        F, has = self.descriptors(X)
        out = np.tile(self.prior_, (len(F), 1))
        if has.any():
            p = self.forest_.predict_proba(F[has])
            cols = np.searchsorted(self.classes_, self.forest_.classes_)
            out[has] = 0.0
            out[np.ix_(np.flatnonzero(has), cols)] = p
        return out

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class DescriptorForest(FaceForest):
    """A Random Forest on one aggregated deep face descriptor (one AMD member).

    Args:
        extractor: a transformer from a list of RGB uint8 face crops to N x D descriptors, e.g.
            ``emolib.features.descriptors.DescriptorExtractor(layer="fc7", order="bgr")`` or
            ``emolib.features.face_id.FaceIDExtractor()``. Fitted (built) on first use if needed.
            Members given the same extractor object share its cached descriptors.
        how, n_estimators, max_features, min_samples_leaf, random_state, faces: see
            :class:`FaceForest`.
    """

    def __init__(self, extractor=None, how: str = "median", n_estimators: int = 300,
                 max_features="sqrt", min_samples_leaf: int = 1, random_state: int = 0,
                 faces: SceneFaceExtractor | None = None):
        super().__init__(how=how, n_estimators=n_estimators, max_features=max_features,
                         min_samples_leaf=min_samples_leaf, random_state=random_state, faces=faces)
        self.extractor = extractor

    def face_features(self, scenes):
        ex = self.extractor
        if ex is None:
            raise ValueError("extractor: expected a transformer of face crops (e.g. DescriptorExtractor)")
        if not hasattr(ex, "n_features_out_"):
            ex.fit()                                  # builds the network; nothing is learned
        if not hasattr(ex, "_emolib_cache_id"):
            ex._emolib_cache_id = uuid.uuid4().hex        # one cache entry per extractor object...
        params = ex.get_params(deep=False) if hasattr(ex, "get_params") else {}
        key = f"descriptor:{ex._emolib_cache_id}:{hash(repr(sorted(params.items())))}"  # ...and settings
        todo = [s for s in scenes if key not in s.cache and s.n_faces]
        if todo:
            crops = [c for s in todo for c in s.crops]
            feats = np.asarray(ex.transform(crops), np.float32)
            start = 0
            for s in todo:
                s.cache[key] = feats[start:start + s.n_faces]
                start += s.n_faces
        dim = getattr(ex, "n_features_out_", 0)
        return [s.cache[key] if s.n_faces else np.zeros((0, dim), np.float32) for s in scenes]


class LandmarkForest(FaceForest):
    """AMD's landmark member: a Random Forest on the pairwise distances between the 68 dlib
    landmarks of each face, divided by the distance between the eyes
    (``emolib.faces.landmark_features``), aggregated over the faces."""

    def face_features(self, scenes):
        from ..faces import landmark_features

        out = []
        for s in scenes:
            if "landmark_features" not in s.cache:
                s.cache["landmark_features"] = (landmark_features(s.landmarks).astype(np.float32)
                                                if s.n_faces else np.zeros((0, 2278), np.float32))
            out.append(s.cache["landmark_features"])
        return out


def amd_descriptor_extractors(backbone: str = "vgg16", *, weights="vggface", input_size: int = 224,
                              layers=(("avgpool", "pool5", "avg"), ("fc7", "fc7", "avg")),
                              orders=("rgb", "bgr"), random_state: int = 0) -> dict:
    """AMD's four descriptors as ``DescriptorExtractor`` objects, by name ("fc7_bgr", ...).

    The network is built (and its weights loaded) once and shared by the extractors.

    Args:
        backbone: "vgg16" (VGGFace, AMD's choice), "resnet50" or "senet50" (VGGFace2); see
            ``emolib.models.vggface.VGGFace``.
        weights: "vggface" (the rcmalli files), None (random initialisation, seeded by
            ``random_state``: the sample profile) or a weight file.
        input_size: side of the network input (224 for the pretrained top; the sample profile 48).
        layers: (name, network layer, pooling) triples; AMD's "avgpool" is the 512-d global
            average of ``pool5``, "fc7" the 4,096-d second fully connected layer.
        orders: colour orders; "bgr" is what VGGFace was trained on, "rgb" AMD's second regime.
    """
    from ..config import quiet_tensorflow

    quiet_tensorflow()
    import keras

    from ..features.descriptors import DescriptorExtractor
    from ..models import vggface

    top = any(vggface.keras_name(layer) in vggface.top_layer_names(backbone) for _, layer, _ in layers)
    if weights is None:
        keras.utils.set_random_seed(int(random_state))
    net = vggface.VGGFace(backbone, include_top=top, weights=weights,
                          input_shape=(input_size, input_size, 3))
    version = vggface.PREPROCESS_VERSION[backbone]
    return {f"{name}_{order}": DescriptorExtractor(net, layer=layer, order=order, pooling=pooling,
                                                   preprocessing=version, input_size=input_size)
            for name, layer, pooling in layers for order in orders}


def _resize_images(scenes, size) -> np.ndarray:
    from ..faces.batch import to_batch

    return to_batch([s.image for s in scenes], size, 3)


class WholeImageCNN(ClassifierMixin, BaseEstimator):
    """A CNN on the whole photo: AMD's fine-tuned VGG16 member, and the no-face fallback.

    Args:
        backbone: "vgg16" (ImageNet VGG16 from ``keras.applications``, fine-tuned end to end as
            AMD did; downloads Keras' ImageNet weights when ``weights="imagenet"``), "compact"
            (``emolib.models.compact.compact_cnn`` with three narrow blocks, trained from
            scratch: the sample profile), or a function ``(num_classes=, input_shape=) ->
            keras.Model`` taking 0-255 pixels (e.g. a ``functools.partial`` of ``compact_cnn``).
        image_size: (height, width) the photos are resized to ("compact": multiples of 8).
        weights: weights of the "vgg16" backbone ("imagenet" or None).
        epochs, batch_size, learning_rate: training settings (Adam, cross-entropy).
        random_state: seed for ``keras.utils.set_random_seed``.
        faces: the :class:`SceneFaceExtractor` for items that are not ``SceneFaces`` yet.
    """

    def __init__(self, backbone="compact", image_size: tuple[int, int] = (64, 96), weights="imagenet",
                 epochs: int = 10, batch_size: int = 16, learning_rate: float = 1e-3,
                 random_state: int = 0, verbose: int = 0, faces: SceneFaceExtractor | None = None):
        self.backbone = backbone
        self.image_size = image_size
        self.weights = weights
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.verbose = verbose
        self.faces = faces

    def _build(self, num_classes: int, input_shape):
        from ..config import quiet_tensorflow

        quiet_tensorflow()
        import keras

        if callable(self.backbone):
            return self.backbone(num_classes=num_classes, input_shape=input_shape)
        if self.backbone == "compact":
            from ..models.compact import compact_cnn

            return compact_cnn(num_classes, input_shape, widths=(16, 32, 64), convs=(1, 1, 1),
                               dense_units=64, augment=False, name="whole_image_compact")
        if self.backbone != "vgg16":
            raise ValueError(f"backbone={self.backbone!r}: expected 'vgg16', 'compact' or a model builder")
        from keras.applications import vgg16

        L = keras.layers
        x_in = keras.Input(input_shape, name="image")
        base = vgg16.VGG16(include_top=False, weights=self.weights, input_shape=input_shape,
                           pooling="avg")
        x = L.Dense(256, activation="relu")(L.Dropout(0.5)(base(vgg16.preprocess_input(x_in))))
        out = L.Dense(num_classes, activation="softmax", name="emotion")(L.Dropout(0.3)(x))
        return keras.Model(x_in, out, name="whole_image_vgg16")

    def fit(self, X, y):
        import keras

        scenes = as_scene_faces(X, self.faces)
        y = scene_labels(y, len(scenes))
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError("y: expected at least two classes")
        keras.utils.set_random_seed(self.random_state)
        images = _resize_images(scenes, tuple(self.image_size))
        self.model_ = self._build(len(self.classes_), images.shape[1:])
        self.model_.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                            loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                            jit_compile=False)
        self.history_ = self.model_.fit(images, np.searchsorted(self.classes_, y), epochs=self.epochs,
                                        batch_size=self.batch_size, shuffle=True,
                                        verbose=self.verbose).history
        return self

    def predict_proba(self, X) -> np.ndarray:
        scenes = as_scene_faces(X, self.faces)
        if not scenes:
            return np.zeros((0, len(self.classes_)))
        from ..models.predict import predict_batches

        return predict_batches(self.model_, _resize_images(scenes, tuple(self.image_size)),
                               batch_size=128).astype(float)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
