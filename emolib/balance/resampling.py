"""Resampling face datasets to balance their classes, built on imbalanced-learn.

FER2013 is badly imbalanced (436 disgust against 7,215 happy training images). The FER2013
VGGFace student project {cite}`seed003fer2013` compares random oversampling, SMOTE, ADASYN and
augmentation with class weights; Ramos's FER thesis {cite}`ramos2018fer` balances by augmenting
the small classes (flip, rotation, blur, noise). This module offers each of them on a
:class:`~emolib.data.FaceDataset`:

=====================  ===========================================================================
``random_oversample``  repeat minority images (``imblearn.over_sampling.RandomOverSampler``)
``random_undersample`` drop majority images (``imblearn.under_sampling.RandomUnderSampler``)
``smote``              interpolate between same-class neighbours (``imblearn.over_sampling.SMOTE``)
``adasyn``             SMOTE weighted towards hard examples (``imblearn.over_sampling.ADASYN``)
``augment_to_balance`` add flipped/rotated/blurred/noisy copies (:class:`AugmentOverSampler`)
``class_weights``      loss weights per class instead of new images (``sklearn``)
=====================  ===========================================================================

Every function returns a **new** dataset and never changes its input. Over-samplers keep the
original rows first, in their order, and append the new rows after them, so
``out.images[len(ds):]`` are the added faces. Results are deterministic given ``random_state``.
SMOTE and ADASYN can find neighbours on embeddings (``features=``) instead of raw pixels: the new
images are then interpolated between the pixel images of the neighbours the embeddings chose.
"""
from __future__ import annotations

from numbers import Real

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from sklearn.utils import check_random_state

from ..data.dataset import FaceDataset

__all__ = ["METHODS", "resample", "make_sampler", "random_oversample", "random_undersample", "smote",
           "adasyn", "augment_to_balance", "augment_images", "class_weights", "AugmentOverSampler"]

#: Method names understood by :func:`resample` (and ``benchmarks/fer2013_cpu.py --balance``).
METHODS = ("none", "class_weight", "ros", "rus", "smote", "adasyn", "augment", "augment+class_weight")


# --- augmentation (Ramos's FER thesis: flip, rotation, blur, noise) ----------------------------------

def augment_images(images, *, random_state=0, flip: bool = True, max_rotation: float = 15.0,
                   blur: float = 0.5, noise: float = 4.0) -> np.ndarray:
    """Randomly altered copies of uint8 images (N x H x W or N x H x W x 3), as Ramos's FER thesis does.

    Each copy is mirrored with probability 0.5 (``flip``), rotated by a uniform angle in
    ``[-max_rotation, max_rotation]`` degrees about its centre (borders reflected), blurred by a
    3x3 Gaussian with probability ``blur``, and given Gaussian pixel noise of standard deviation
    ``noise`` (grey levels). Returns a new uint8 array of the same shape.
    """
    import cv2

    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(f"images: expected uint8 N x H x W [x 3], got {images.dtype} {images.shape}")
    if max_rotation < 0 or noise < 0 or not 0 <= blur <= 1:
        raise ValueError(f"expected max_rotation >= 0, noise >= 0 and 0 <= blur <= 1, got "
                         f"max_rotation={max_rotation}, noise={noise}, blur={blur}")
    rng = check_random_state(random_state)
    h, w = images.shape[1:3]
    out = np.empty_like(images)
    for i, img in enumerate(images):
        # Draw every random number for every image, whatever the options, so that switching one
        # option off leaves the other draws unchanged.
        do_flip, angle, do_blur, sigma = rng.rand() < 0.5, rng.uniform(-1, 1) * max_rotation, \
            rng.rand() < blur, rng.uniform(0.3, 1.0)
        if flip and do_flip:
            img = img[:, ::-1]
        if angle:
            m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
            img = cv2.warpAffine(np.ascontiguousarray(img), m, (w, h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REFLECT_101)
        if do_blur:
            img = cv2.GaussianBlur(np.ascontiguousarray(img), (3, 3), sigma)
        img = np.asarray(img, np.float32)
        if noise:
            img = img + rng.normal(0.0, noise, img.shape)
        out[i] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return out


class AugmentOverSampler(BaseOverSampler):
    """Over-sample by adding augmented copies of randomly drawn images of each class.

    An imbalanced-learn sampler, usable in ``imblearn.pipeline.Pipeline``: ``fit_resample(X, y)``
    takes flattened uint8 images (N x prod(``image_shape``)) and returns the originals followed by
    the new copies. ``sampling_strategy`` has imbalanced-learn's meaning ("auto" brings every class
    up to the largest). The augmentation arguments are those of :func:`augment_images`.
    """

    _parameter_constraints = {
        **BaseOverSampler._parameter_constraints,
        "image_shape": [tuple, list],
        "flip": ["boolean"],
        "max_rotation": [Real],
        "blur": [Real],
        "noise": [Real],
    }

    def __init__(self, *, sampling_strategy="auto", random_state=None, image_shape=(48, 48),
                 flip=True, max_rotation=15.0, blur=0.5, noise=4.0):
        super().__init__(sampling_strategy=sampling_strategy)
        self.random_state = random_state
        self.image_shape = image_shape
        self.flip = flip
        self.max_rotation = max_rotation
        self.blur = blur
        self.noise = noise

    def _fit_resample(self, X, y):
        shape = tuple(int(s) for s in self.image_shape)
        if X.shape[1] != int(np.prod(shape)):
            raise ValueError(f"X: expected {int(np.prod(shape))} columns (flattened {shape} images), "
                             f"got {X.shape[1]}")
        rng = check_random_state(self.random_state)
        X8 = np.clip(np.rint(X), 0, 255).astype(np.uint8) if X.dtype != np.uint8 else X
        x_parts, y_parts, index = [X8], [y], [np.arange(len(y))]
        for klass, n_new in self.sampling_strategy_.items():
            if n_new <= 0:
                continue
            src = rng.choice(np.flatnonzero(y == klass), size=n_new, replace=True)
            new = augment_images(X8[src].reshape((n_new,) + shape), random_state=rng, flip=self.flip,
                                 max_rotation=self.max_rotation, blur=self.blur, noise=self.noise)
            x_parts.append(new.reshape(n_new, -1))
            y_parts.append(np.full(n_new, klass, dtype=y.dtype))
            index.append(src)
        self.sample_indices_ = np.concatenate(index)
        return np.concatenate(x_parts), np.concatenate(y_parts)

    def _more_tags(self):  # pragma: no cover - scikit-learn < 1.6
        return {"X_types": ["2darray"]}


# --- samplers on FaceDataset -------------------------------------------------------------------------

def make_sampler(method: str, *, sampling_strategy="auto", random_state=0,
                 **options):  # an imblearn sampler
    """The imbalanced-learn sampler behind ``method`` ("ros", "rus", "smote", "adasyn", "augment")."""
    from imblearn.over_sampling import ADASYN, SMOTE, RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    makers = {"ros": RandomOverSampler, "rus": RandomUnderSampler, "smote": SMOTE, "adasyn": ADASYN,
              "augment": AugmentOverSampler}
    if method not in makers:
        raise ValueError(f"method {method!r}: expected one of {sorted(makers)}")
    return makers[method](sampling_strategy=sampling_strategy, random_state=random_state, **options)


def _check_dataset(ds) -> FaceDataset:
    if not isinstance(ds, FaceDataset):
        raise TypeError(f"expected a FaceDataset, got {type(ds).__name__}")
    if len(ds) == 0:
        raise ValueError("cannot balance an empty dataset")
    splits = np.unique(ds.usage)
    if len(splits) > 1:
        raise ValueError(f"expected one split, got {sorted(map(str, splits))}: balance the training "
                         "rows only, e.g. ds.split('Training'); balancing test rows would bias the test")
    return ds


def _new_dataset(ds: FaceDataset, images, labels, note: str, index=None) -> FaceDataset:
    """A FaceDataset from resampled rows. ``index`` (source row per output row) carries votes over."""
    votes = None if (ds.votes is None or index is None) else ds.votes[index]
    usage = np.full(len(labels), ds.usage[0], dtype=ds.usage.dtype)
    return FaceDataset(np.ascontiguousarray(images, dtype=np.uint8), np.asarray(labels, np.int64),
                       usage, ds.classes, f"{ds.source} | {note}", votes)


def _index_resample(ds: FaceDataset, sampler, note: str) -> FaceDataset:
    """Resample by row index (random over/under-sampling): images are copied, never altered."""
    rows = np.arange(len(ds)).reshape(-1, 1)
    sampler.fit_resample(rows, ds.labels)
    index = sampler.sample_indices_
    return _new_dataset(ds, ds.images[index], ds.labels[index], note, index)


def random_oversample(ds: FaceDataset, *, sampling_strategy="auto", random_state=0) -> FaceDataset:
    """Repeat randomly drawn images of the small classes until each matches the largest ("auto")."""
    ds = _check_dataset(ds)
    sampler = make_sampler("ros", sampling_strategy=sampling_strategy, random_state=random_state)
    return _index_resample(ds, sampler, f"ros(random_state={random_state})")


def random_undersample(ds: FaceDataset, *, sampling_strategy="auto", random_state=0) -> FaceDataset:
    """Keep a random subset of each large class, down to the size of the smallest ("auto")."""
    ds = _check_dataset(ds)
    sampler = make_sampler("rus", sampling_strategy=sampling_strategy, random_state=random_state)
    return _index_resample(ds, sampler, f"rus(random_state={random_state})")


def _synthetic_resample(ds, method, features, sampling_strategy, random_state, return_features,
                        **options):
    """SMOTE/ADASYN on pixels, or on ``features`` with the pixels carried along.

    With features, each row is ``[features, pixels * eps]``: the tiny pixel columns leave the
    neighbour search to the features, and since imbalanced-learn builds each new row as
    ``x + u * (neighbour - x)`` over all columns at once, dividing the pixel columns by ``eps``
    gives the new image, interpolated between the same two faces with the same ``u``.
    """
    ds = _check_dataset(ds)
    pixels = ds.images.reshape(len(ds), -1)
    if features is None:
        X, n_feat, eps = pixels.astype(np.float32), 0, 1.0
    else:
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or len(features) != len(ds):
            raise ValueError(f"features: expected {len(ds)} x D (one row per image), got "
                             f"{features.shape}")
        if not np.isfinite(features).all():
            raise ValueError("features: expected finite values, got NaN or inf")
        n_feat = features.shape[1]
        scale = float(np.abs(features).max()) or 1.0
        eps = 1e-9 * scale / 255.0
        X = np.hstack([features, pixels.astype(np.float64) * eps])
    if method == "smote":
        X_res, y_res = _fit_resample(make_sampler("smote", sampling_strategy=sampling_strategy,
                                                  random_state=random_state, **options), X, ds)
        fallback = []
    else:
        X_res, y_res, fallback = _adasyn_per_class(X, ds, sampling_strategy, random_state, **options)
    new_pixels = X_res[:, n_feat:] / eps
    images = np.clip(np.rint(new_pixels), 0, 255).astype(np.uint8).reshape((len(y_res),) + ds.images.shape[1:])
    images[: len(ds)] = ds.images  # the originals, bit for bit
    on = "pixels" if features is None else f"features[{n_feat}]"
    note = f"{method}(on={on}, random_state={random_state}"
    note += f", smote_for={[ds.classes[c] for c in fallback]})" if fallback else ")"
    out = _new_dataset(ds, images, y_res, note)
    if return_features:
        return out, (X_res[:, :n_feat] if features is not None else None)
    return out


def _fit_resample(sampler, X, ds):
    try:
        return sampler.fit_resample(X, ds.labels)
    except (ValueError, RuntimeError) as e:
        raise ValueError(f"{type(sampler).__name__} could not resample {ds.source!r} "
                         f"(class counts {ds.class_counts()}): {e}") from e


def _adasyn_per_class(X, ds, sampling_strategy, random_state, n_neighbors=5):
    """ADASYN one class at a time; SMOTE for a class where ADASYN's weights are undefined.

    imbalanced-learn's ADASYN stops when a class has no other-class neighbours at all (its
    weights would divide by zero), or when its weights are so even that rounding leaves
    nothing to generate. ADASYN with even weights is SMOTE, so those classes get SMOTE.
    """
    from imblearn.over_sampling import ADASYN, SMOTE
    from imblearn.utils import check_sampling_strategy

    targets = check_sampling_strategy(sampling_strategy, ds.labels, "over-sampling")
    x_parts, y_parts, fallback = [X], [ds.labels], []
    for klass, n_new in sorted(targets.items()):
        if n_new <= 0:
            continue
        one = {int(c): int(n) + (n_new if c == klass else 0)
               for c, n in zip(*np.unique(ds.labels, return_counts=True))}
        try:
            X_res, y_res = ADASYN(sampling_strategy=one, random_state=random_state,
                                  n_neighbors=n_neighbors).fit_resample(X, ds.labels)
        except (ValueError, RuntimeError):
            fallback.append(int(klass))
            X_res, y_res = _fit_resample(SMOTE(sampling_strategy=one, random_state=random_state,
                                               k_neighbors=n_neighbors), X, ds)
        x_parts.append(X_res[len(X):])
        y_parts.append(y_res[len(X):])
    return np.concatenate(x_parts), np.concatenate(y_parts), fallback


def smote(ds: FaceDataset, *, features=None, k_neighbors: int = 5, sampling_strategy="auto",
          random_state=0, return_features: bool = False) -> FaceDataset | tuple[FaceDataset, np.ndarray]:
    """SMOTE (Chawla et al., 2002): new faces interpolated between same-class neighbours.

    Args:
        features: optional N x D embeddings (e.g. CNN descriptors) to find neighbours on; the new
            images are still pixel interpolations of the two faces chosen. None uses the pixels.
        k_neighbors: neighbours to interpolate towards.
        return_features: also return the synthetic rows' features (``(dataset, features)``).
    """
    return _synthetic_resample(ds, "smote", features, sampling_strategy, random_state, return_features,
                               k_neighbors=k_neighbors)


def adasyn(ds: FaceDataset, *, features=None, n_neighbors: int = 5, sampling_strategy="auto",
           random_state=0, return_features: bool = False) -> FaceDataset | tuple[FaceDataset, np.ndarray]:
    """ADASYN (He et al., 2008): like SMOTE, with more new faces near other classes.

    Class counts come out close to, not exactly at, the target: ADASYN rounds a share per image.
    Classes where ADASYN's weights are undefined or too even to round to any new image get
    SMOTE, its limiting case (named in the result's ``source``). Arguments as in :func:`smote`.
    """
    return _synthetic_resample(ds, "adasyn", features, sampling_strategy, random_state,
                               return_features, n_neighbors=n_neighbors)


def augment_to_balance(ds: FaceDataset, *, sampling_strategy="auto", random_state=0, flip=True,
                       max_rotation=15.0, blur=0.5, noise=4.0) -> FaceDataset:
    """Ramos's FER thesis's balancing: add augmented copies (flip, rotation, blur, noise) of small classes."""
    ds = _check_dataset(ds)
    sampler = make_sampler("augment", sampling_strategy=sampling_strategy, random_state=random_state,
                           image_shape=ds.images.shape[1:], flip=flip, max_rotation=max_rotation,
                           blur=blur, noise=noise)
    X_res, y_res = sampler.fit_resample(ds.images.reshape(len(ds), -1), ds.labels)
    images = X_res.reshape((len(y_res),) + ds.images.shape[1:])
    return _new_dataset(ds, images, y_res, f"augment(random_state={random_state})",
                        sampler.sample_indices_)


def class_weights(data, *, n_classes: int | None = None) -> dict[int, float]:
    """Keras ``class_weight`` for a dataset or label array: ``n / (k * count)`` per class.

    This is scikit-learn's "balanced" rule. Classes absent from the labels get weight 0: no
    sample carries them, so any weight leaves the loss unchanged, and 0 keeps ``sum(n_c * w_c) = n``
    (Keras still needs a key for every output class). The one class-weight rule of emolib.
    """
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(data.labels if isinstance(data, FaceDataset) else data)
    if labels.ndim != 1 or len(labels) == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels: expected a non-empty 1-D integer array, got {labels.dtype} "
                         f"{labels.shape}")
    k = n_classes or (len(data.classes) if isinstance(data, FaceDataset) else int(labels.max()) + 1)
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"labels: expected values in 0..{k - 1}, got {labels.min()}..{labels.max()}")
    present = np.unique(labels)
    weights = compute_class_weight("balanced", classes=present, y=labels)
    out = {c: 0.0 for c in range(k)}
    out.update({int(c): float(w) for c, w in zip(present, weights)})
    return out


def _raise_rarest(ds: FaceDataset) -> dict[int, int]:
    """Target counts that lift every class below the second-smallest class count up to it."""
    counts = np.bincount(ds.labels, minlength=len(ds.classes))
    present = np.sort(counts[counts > 0])
    floor = int(present[1]) if len(present) > 1 else int(present[0])
    return {int(c): max(int(n), floor) for c, n in enumerate(counts) if n > 0}


def resample(ds: FaceDataset, method: str, *, random_state=0, features=None,
             **options) -> tuple[FaceDataset, dict[int, float] | None]:
    """Apply one of :data:`METHODS` and return ``(dataset, class_weight or None)``.

    "none" and "class_weight" return the input dataset itself (unchanged); the class-weight methods
    return the weights to pass to Keras' ``fit``. ``features`` is used by smote/adasyn.
    "augment+class_weight" is the FER2013 VGGFace student project's "AugDisgust + class weight":
    only the rarest classes are augmented, up to the size of the second-smallest class, and class
    weights even out the rest.
    """
    if method not in METHODS:
        raise ValueError(f"balance method {method!r}: expected one of {list(METHODS)}")
    base = method.split("+")[0]
    if base in ("none", "class_weight"):
        out = _check_dataset(ds)
    elif base == "ros":
        out = random_oversample(ds, random_state=random_state, **options)
    elif base == "rus":
        out = random_undersample(ds, random_state=random_state, **options)
    elif base == "smote":
        out = smote(ds, features=features, random_state=random_state, **options)
    elif base == "adasyn":
        out = adasyn(ds, features=features, random_state=random_state, **options)
    elif method == "augment":
        out = augment_to_balance(ds, random_state=random_state, **options)
    else:
        out = augment_to_balance(ds, random_state=random_state,
                                 sampling_strategy=_raise_rarest(_check_dataset(ds)), **options)
    weights = class_weights(out) if method.endswith("class_weight") else None
    return out, weights
