"""Ensemble members: adapters that give Keras models and already-trained estimators the
scikit-learn classifier interface (``fit``, ``predict_proba``, ``classes_``)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["KerasMember", "PrefitMember", "CachedMember", "as_member", "flatten_images", "hog_features",
           "is_keras_model"]


def flatten_images(X) -> np.ndarray:
    """N x H x W [x C] images -> N x (H*W*C) floats in [0, 1], for pixel-based sklearn members.

    Use it in a pipeline: ``make_pipeline(FunctionTransformer(flatten_images), LogisticRegression())``.
    """
    X = np.asarray(X)
    return X.reshape(len(X), -1).astype(np.float32) / 255.0


def hog_features(X, *, orientations: int = 9, cell: int = 8, block: int = 2) -> np.ndarray:
    """HOG descriptors (Dalal and Triggs 2005) of grey N x H x W faces, one row per face.

    A cheap, non-neural view of a face for a weak but different ensemble member, e.g.
    ``make_pipeline(FunctionTransformer(hog_features), StandardScaler(), LogisticRegression())``.
    RGB faces are converted to grey first.
    """
    from skimage.feature import hog

    X = np.asarray(X)
    if X.ndim == 4:
        X = X.mean(axis=-1) if X.shape[-1] == 3 else X[..., 0]
    if X.ndim != 3:
        raise ValueError(f"X: expected N x H x W (grey) or N x H x W x 3 images, got shape {X.shape}")
    return np.stack([hog(im, orientations=orientations, pixels_per_cell=(cell, cell),
                         cells_per_block=(block, block), feature_vector=True) for im in X]).astype(np.float32)


def is_keras_model(obj) -> bool:
    """True for a Keras model (checked without importing Keras)."""
    return type(obj).__module__.split(".")[0] == "keras" or (
        hasattr(obj, "layers") and hasattr(obj, "predict") and hasattr(obj, "input_shape"))


class KerasMember(ClassifierMixin, BaseEstimator):
    """A Keras classifier as an ensemble member.

    Two ways to use it:

    * ``KerasMember(model)``: an already-trained model. ``fit`` trains nothing (it only sets
      ``classes_``) and ``clone`` returns the member itself, like scikit-learn's
      ``FrozenEstimator``.
    * ``KerasMember(build_fn=compact_cnn, epochs=...)``: ``fit(X, y)`` builds a fresh model with
      ``build_fn(num_classes=K, input_shape=...)`` and trains it with Adam on sparse
      cross-entropy. Cloneable, so it works with ``cross_val_predict`` (stacking).

    Args:
        model: a trained Keras model ending in softmax.
        build_fn: builder of an uncompiled model (used when ``model`` is None).
        epochs, batch_size, learning_rate: training settings for ``build_fn`` models.
        classes: class labels of the model's outputs (default ``0..K-1``).
        random_state: seed for ``keras.utils.set_random_seed`` before building.
        preprocess: optional function applied to each chunk of images before ``predict`` (and
            before training a ``build_fn`` model), e.g. resizing and VGGFace preprocessing with
            ``functools.partial(emolib.models.input_pipeline.prepare_batch, image_size=224,
            preprocessing="vggface1")``. Default: grey images get a channel axis, nothing else.
        chunk_size: images per ``predict`` chunk (bounds memory when ``preprocess`` enlarges them).
        verbose: Keras verbosity while training.
    """

    def __init__(self, model=None, *, build_fn: Callable | None = None, epochs: int = 5,
                 batch_size: int = 64, learning_rate: float = 1e-3, classes=None,
                 random_state: int | None = None, preprocess: Callable | None = None,
                 chunk_size: int = 1024, verbose: int = 0):
        self.model = model
        self.build_fn = build_fn
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.classes = classes
        self.random_state = random_state
        self.preprocess = preprocess
        self.chunk_size = chunk_size
        self.verbose = verbose

    def _input(self, X, input_shape=None):
        from ..faces.batch import to_batch
        from ..models.ferplus_training import image_shape

        if self.preprocess is not None:
            return np.asarray(self.preprocess(X), dtype=np.float32)
        h, w, c = input_shape or image_shape(X)
        return to_batch(X, (h, w), c)

    def __sklearn_clone__(self):
        if self.build_fn is None:        # a trained model: frozen, like sklearn's FrozenEstimator
            return self
        return type(self)(**self.get_params(deep=False))

    def fit(self, X=None, y=None):
        if self.build_fn is None:
            if self.model is None:
                raise ValueError("KerasMember: give a trained model or a build_fn")
            n_out = int(self.model.output_shape[-1])
            self.classes_ = np.arange(n_out) if self.classes is None else np.asarray(self.classes)
            if len(self.classes_) != n_out:
                raise ValueError(f"classes: expected {n_out} labels (one per model output), "
                                 f"got {len(self.classes_)}")
            self.model_ = self.model
            return self
        import keras

        if X is None or y is None:
            raise ValueError("KerasMember with build_fn: fit needs X and y")
        y = np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X and y: expected the same length, got {len(X)} and {len(y)}")
        self.classes_ = np.unique(y) if self.classes is None else np.asarray(self.classes)
        missing = np.setdiff1d(np.unique(y), self.classes_)
        if missing.size:
            raise ValueError(f"y: labels {missing.tolist()} are not in classes {self.classes_.tolist()}")
        if self.random_state is not None:
            keras.utils.set_random_seed(self.random_state)
        x = self._input(X)
        model = self.build_fn(num_classes=len(self.classes_), input_shape=x.shape[1:])
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=False)
        x = self._input(X, model.input_shape[1:])
        model.fit(x, np.searchsorted(self.classes_, y), epochs=self.epochs, batch_size=self.batch_size,
                  verbose=self.verbose, shuffle=True)
        self.model_ = model
        return self

    def predict_proba(self, X) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise ValueError("KerasMember: call fit first (a no-op for a trained model)")
        from ..models.predict import predict_batches

        shape = self.model_.input_shape[1:]
        parts = [predict_batches(self.model_, self._input(X[i:i + self.chunk_size], shape)).astype(float)
                 for i in range(0, len(X), self.chunk_size)]
        n_out = int(self.model_.output_shape[-1])
        return np.concatenate(parts) if parts else np.zeros((0, n_out))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class PrefitMember(ClassifierMixin, BaseEstimator):
    """An already-trained member: a fitted estimator with ``predict_proba``, or a function
    ``X -> N x K probabilities``. ``fit`` trains nothing; ``clone`` returns the member itself.

    Args:
        estimator: the fitted estimator or the function.
        classes: class labels of the columns (default: the estimator's ``classes_``, else 0..K-1
            counted from one prediction).
    """

    def __init__(self, estimator, *, classes=None):
        self.estimator = estimator
        self.classes = classes

    def __sklearn_clone__(self):
        return self

    def fit(self, X=None, y=None):
        if self.classes is not None:
            self.classes_ = np.asarray(self.classes)
        elif hasattr(self.estimator, "classes_"):
            self.classes_ = np.asarray(self.estimator.classes_)
        elif X is not None and len(X):
            self.classes_ = np.arange(self._raw_proba(X[:1]).shape[1])
        else:
            raise ValueError("PrefitMember: give classes= (the estimator has no classes_)")
        return self

    def _raw_proba(self, X):
        if hasattr(self.estimator, "predict_proba"):
            return np.asarray(self.estimator.predict_proba(X), dtype=float)
        if callable(self.estimator):
            return np.asarray(self.estimator(X), dtype=float)
        raise TypeError(f"PrefitMember: {type(self.estimator).__name__} has no predict_proba and is not "
                        "callable")

    def predict_proba(self, X) -> np.ndarray:
        if not hasattr(self, "classes_"):
            raise ValueError("PrefitMember: call fit first (a no-op)")
        return self._raw_proba(X)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class CachedMember(ClassifierMixin, BaseEstimator):
    """A trained member that remembers its scores: ``predict_proba`` on an array it has seen
    (same bytes, shape and dtype) returns the stored result instead of running the model again.

    Several ensembles over the same members then cost one pass of each member per data split.
    ``fit`` trains nothing; ``clone`` returns the member itself.
    """

    def __init__(self, member):
        self.member = member

    def __sklearn_clone__(self):
        return self

    @staticmethod
    def _key(X) -> str:
        a = np.ascontiguousarray(X)
        h = hashlib.blake2b(a.view(np.uint8).reshape(-1), digest_size=16)
        h.update(repr((a.shape, a.dtype.str)).encode())
        return h.hexdigest()

    def fit(self, X=None, y=None):
        inner = self.member if hasattr(self.member, "classes_") else as_member(self.member, prefit=True).fit(X, y)
        self.member_ = inner
        self.classes_ = np.asarray(inner.classes_)
        self.cache_ = getattr(self, "cache_", {})
        return self

    def predict_proba(self, X) -> np.ndarray:
        if not hasattr(self, "member_"):
            raise ValueError("CachedMember: call fit first (a no-op)")
        key = self._key(X)
        if key not in self.cache_:
            self.cache_[key] = np.asarray(self.member_.predict_proba(X), dtype=float)
        return self.cache_[key].copy()

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def as_member(obj, *, prefit: bool):
    """Wrap ``obj`` for an ensemble: Keras models in :class:`KerasMember`; with ``prefit``, other
    estimators in :class:`PrefitMember`. Already-wrapped members pass through."""
    if isinstance(obj, (KerasMember, PrefitMember, CachedMember)):
        return obj
    if is_keras_model(obj):
        if not prefit:
            raise ValueError("a Keras model cannot be refitted by the ensemble: use prefit=True, or "
                             "KerasMember(build_fn=...) to train fresh copies")
        return KerasMember(obj)
    if prefit:
        return PrefitMember(obj)
    if not hasattr(obj, "fit") or not hasattr(obj, "predict_proba"):
        raise TypeError(f"member {type(obj).__name__}: expected an estimator with fit and predict_proba")
    return obj
