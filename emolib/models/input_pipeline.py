"""tf.data input pipelines: FaceDataset -> batches a pretrained backbone can eat.

Each batch goes: uint8 faces (48 x 48 grey in FER2013) -> optional augmentation at the source
resolution (flip, rotation, zoom, blur, noise: the transforms of Ramos's FER thesis
{cite}`ramos2018fer`) -> RGB at the backbone's input size (:func:`emolib.faces.batch.to_batch`,
the function inference uses too) -> the backbone's preprocessing. Augmenting before the resize keeps it cheap
at 224 px. All randomness is stateless and seeded, so a run is repeatable, and each epoch draws
new transforms.

The preprocessing is named by a *version* string that is stored with saved models
(:mod:`emolib.models.saving`), so inference prepares faces exactly as training did.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["PREPROCESSING", "Augmentation", "make_dataset", "prepare_batch", "preprocess",
           "dataset_targets"]

# version -> (channel order fed to the network, per-channel means in that order) or None (raw 0-255)
PREPROCESSING: dict[str, tuple[str, tuple[float, float, float]] | None] = {
    "vggface1": ("bgr", (93.5940, 104.7624, 129.1863)),        # VGGFace (VGG16), Parkhi et al. 2015
    "vggface2": ("bgr", (91.4953, 103.8827, 131.0912)),        # VGGFace2 (ResNet50, SENet50)
    "caffe_imagenet": ("bgr", (103.939, 116.779, 123.68)),     # keras.applications VGG16 (ImageNet)
    "none": None,                                              # models that rescale inside (EfficientNet)
}


@dataclass(frozen=True)
class Augmentation:
    """Random transforms for training batches (Ramos's FER thesis: flip, rotate, blur, a little noise).

    Attributes:
        flip: mirror left-right with probability 1/2.
        rotation: maximum rotation in degrees (uniform in +-rotation).
        zoom: maximum relative zoom (uniform scale in 1 +- zoom).
        blur: probability of a Gaussian blur (sigma 1 px at the source resolution).
        noise: maximum standard deviation of additive Gaussian noise, in grey levels.
    """

    flip: bool = True
    rotation: float = 10.0
    zoom: float = 0.1
    blur: float = 0.2
    noise: float = 4.0

    def __post_init__(self):
        if not 0 <= self.rotation <= 180:
            raise ValueError(f"rotation: expected degrees in [0, 180], got {self.rotation!r}")
        if not 0 <= self.zoom < 1:
            raise ValueError(f"zoom: expected a fraction in [0, 1), got {self.zoom!r}")
        if not 0 <= self.blur <= 1:
            raise ValueError(f"blur: expected a probability in [0, 1], got {self.blur!r}")
        if self.noise < 0:
            raise ValueError(f"noise: expected a standard deviation >= 0, got {self.noise!r}")


def _check_preprocessing(version: str) -> None:
    if version not in PREPROCESSING:
        raise ValueError(f"preprocessing: expected one of {sorted(PREPROCESSING)}, got {version!r}")


def preprocess(x, version: str) -> np.ndarray:
    """NumPy version of a preprocessing: RGB 0-255 (``... x 3``) -> float32 network input."""
    _check_preprocessing(version)
    x = np.asarray(x, np.float32)
    spec = PREPROCESSING[version]
    if spec is None:
        return x.copy()
    order, means = spec
    if order == "bgr":
        x = x[..., ::-1]
    return x - np.asarray(means, np.float32)


def _preprocess_tf(x, version: str):
    spec = PREPROCESSING[version]
    if spec is None:
        return x
    order, means = spec
    if order == "bgr":
        x = x[..., ::-1]
    return x - np.asarray(means, np.float32)


def _to_batch_tf(x, size: tuple[int, int]):
    """:func:`emolib.faces.batch.to_batch` inside a tf.data map: B x H x W x C -> B x size x 3."""
    import tensorflow as tf

    from ..faces.batch import to_batch

    out = tf.numpy_function(lambda b: to_batch(b, size, 3), [x], tf.float32, stateful=False)
    return tf.ensure_shape(out, [None, size[0], size[1], 3])


def _gaussian_kernel(channels: int, sigma: float = 1.0, radius: int = 2) -> np.ndarray:
    t = np.arange(-radius, radius + 1, dtype=np.float32)
    g = np.exp(-t ** 2 / (2 * sigma ** 2))
    k = np.outer(g, g) / np.outer(g, g).sum()
    return np.repeat(k[:, :, None, None], channels, axis=2).astype(np.float32)


def _augment(x, seed, aug: Augmentation):
    """Stateless random transforms of a float batch B x H x W x C (0-255), keyed by ``seed``."""
    import tensorflow as tf

    b = tf.shape(x)[0]
    h, w, c = x.shape[1], x.shape[2], x.shape[3]

    def key(i):
        return tf.stack([seed, tf.constant(i, tf.int64)])

    if aug.flip:
        flip = tf.random.stateless_uniform([b], key(1)) < 0.5
        x = tf.where(flip[:, None, None, None], x[:, :, ::-1, :], x)
    if aug.rotation or aug.zoom:
        angle = tf.random.stateless_uniform([b], key(2), -aug.rotation, aug.rotation) * (math.pi / 180)
        scale = tf.random.stateless_uniform([b], key(3), 1 - aug.zoom, 1 + aug.zoom)
        cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
        cx, cy = (w - 1) / 2, (h - 1) / 2
        # output pixel (u, v) samples input (a0 u + a1 v + a2, b0 u + b1 v + b2): rotation and
        # zoom about the centre
        transforms = tf.stack([cos, -sin, cx - cos * cx + sin * cy,
                               sin, cos, cy - sin * cx - cos * cy,
                               tf.zeros_like(cos), tf.zeros_like(cos)], axis=1)
        x = tf.raw_ops.ImageProjectiveTransformV3(
            images=x, transforms=transforms, output_shape=tf.constant([h, w]),
            fill_value=tf.constant(0.0), interpolation="BILINEAR", fill_mode="REFLECT")
    if aug.blur:
        blurred = tf.nn.depthwise_conv2d(x, _gaussian_kernel(c), [1, 1, 1, 1], "SAME")
        pick = tf.random.stateless_uniform([b], key(4)) < aug.blur
        x = tf.where(pick[:, None, None, None], blurred, x)
    if aug.noise:
        std = tf.random.stateless_uniform([b, 1, 1, 1], key(5), 0, aug.noise)
        x = x + tf.random.stateless_normal(tf.shape(x), key(6)) * std
    return tf.clip_by_value(x, 0.0, 255.0)


def dataset_targets(dataset, targets=None) -> np.ndarray:
    """Training targets: ``targets`` (N x K distributions, e.g. FER+) or one-hot labels."""
    if targets is not None:
        t = np.asarray(targets, np.float32)
        if t.ndim != 2 or len(t) != len(dataset):
            raise ValueError(f"targets: expected {len(dataset)} x K, got shape {t.shape}")
        return t
    return np.eye(len(dataset.classes), dtype=np.float32)[dataset.labels]


def make_dataset(dataset, *, image_size: int | tuple[int, int] = 48, preprocessing: str = "vggface1",
                 batch_size: int = 64, augment: Augmentation | bool | None = None,
                 shuffle: bool = False, seed: int = 0, targets=None,
                 repeat: bool = False) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``(images, targets)`` batches from a :class:`FaceDataset`.

    Args:
        dataset: a FaceDataset (uint8 N x H x W grey or N x H x W x 3 RGB).
        image_size: side (or (height, width)) of the network input; faces are resized to it.
        preprocessing: a key of :data:`PREPROCESSING` ("vggface1", "vggface2", ...).
        batch_size: faces per batch.
        augment: an :class:`Augmentation`, ``True`` for the defaults, or None/False for none.
        shuffle: reshuffle every epoch (seeded).
        seed: seed of the shuffling and the augmentation.
        targets: optional N x K float targets (FER+ distributions); default one-hot labels.
        repeat: repeat forever (then pass ``steps_per_epoch`` to ``fit``).
    """
    import tensorflow as tf

    _check_preprocessing(preprocessing)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    size = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)
    if augment is True:
        augment = Augmentation()
    images = dataset.images if dataset.images.ndim == 4 else dataset.images[..., None]
    y = dataset_targets(dataset, targets)
    ds = tf.data.Dataset.from_tensor_slices((images, y))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment:
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, keys)).map(
            lambda xy, k: (_augment(tf.cast(xy[0], tf.float32), k, augment), xy[1]),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.map(lambda x, t: (_preprocess_tf(_to_batch_tf(tf.cast(x, tf.float32), size),
                                             preprocessing), t),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if repeat:
        ds = ds.repeat()
    return ds.prefetch(tf.data.AUTOTUNE)


def prepare_batch(images, image_size: int | tuple[int, int], preprocessing: str) -> np.ndarray:
    """Faces (uint8 N x H x W grey or N x H x W x 3 RGB) -> network input, as ``make_dataset`` does
    without augmentation. Use it for inference with a saved model's metadata."""
    from ..faces.batch import to_batch

    _check_preprocessing(preprocessing)
    return preprocess(to_batch(images, image_size, 3), preprocessing)
