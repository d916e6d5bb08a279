"""VGGFace (VGG16) and VGGFace2 (ResNet50, SENet50) on Keras 3, with the original weights.

The architectures are those of rcmalli's keras-vggface 0.6, layer for layer, so its v2.0 weight
files (Keras 2 HDF5) load unchanged. Two things differ, both on purpose:

* **Layer names.** Keras 3 forbids ``/`` in layer names, which keras-vggface uses
  (``conv1/7x7_s2/bn``, ``fc7/relu``). Here every ``/`` becomes ``__`` (``conv1__7x7_s2__bn``);
  :func:`keras_name` and :func:`file_name` convert both ways, and the loader
  (:mod:`emolib.models.h5weights`) maps each layer back to its name in the file.
* **Pooling.** keras-vggface ends ResNet50/SENet50 with a 7x7 ``AveragePooling2D`` even without
  the top, which fails below 224 px and silently drops pixels above it. Here ``avg_pool`` is a
  global average that keeps the 1x1 spatial shape: identical at 224, and correct at any size.

References: O. M. Parkhi, A. Vedaldi, A. Zisserman, "Deep Face Recognition", BMVC 2015 (VGGFace);
Q. Cao, L. Shen, W. Xie, O. M. Parkhi, A. Zisserman, "VGGFace2: A dataset for recognising faces
across pose and age", FG 2018; J. Hu, L. Shen, G. Sun, "Squeeze-and-Excitation Networks",
CVPR 2018. Weights: https://github.com/rcmalli/keras-vggface (MIT), converted from the authors'
Caffe models.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..config import emolib_home
from ..data.cache import file_sha256  # one file-hash helper for data and weights
from ..errors import DownloadError
from .h5weights import check_pooling_argument, check_weights_argument

__all__ = ["VGGFace", "preprocess_input", "MODELS", "DEFAULT_CLASSES", "MIN_SIZE", "MEANS_BGR",
           "PREPROCESS_VERSION", "BASE_URL", "WEIGHTS_SHA256", "weights_filename", "weights_url",
           "get_weights_file", "keras_name", "file_name", "top_layer_names", "CACHE_SUBDIR"]

MODELS = ("vgg16", "resnet50", "senet50")
DEFAULT_SIZE = 224
DEFAULT_CLASSES = {"vgg16": 2622, "resnet50": 8631, "senet50": 8631}
MIN_SIZE = {"vgg16": 48, "resnet50": 32, "senet50": 197}
PREPROCESS_VERSION = {"vgg16": 1, "resnet50": 2, "senet50": 2}
MEANS_BGR = {1: (93.5940, 104.7624, 129.1863), 2: (91.4953, 103.8827, 131.0912)}
"""Per-channel means, B, G, R, subtracted by :func:`preprocess_input` (VGGFace {cite}`parkhi2015deep`)."""

BASE_URL = "https://github.com/rcmalli/keras-vggface/releases/download/v2.0/"
CACHE_SUBDIR = "models/vggface"

# keras-vggface never published checksums and these files cannot be fetched from the machine
# where emolib is developed, so the sha256 values are unknown here: None means "not known yet".
# The check is still real: pass ``file_hash=`` to VGGFace, set EMOLIB_VGGFACE_SHA256_<FILE> (file
# name upper-cased, '.' and '-' as '_'), or fill this table. With no known hash the first download
# is pinned: its sha256 is written next to it (``<file>.sha256``) and every later load must match.
WEIGHTS_SHA256: dict[str, str | None] = {
    "rcmalli_vggface_tf_vgg16.h5": None,
    "rcmalli_vggface_tf_notop_vgg16.h5": None,
    "rcmalli_vggface_tf_resnet50.h5": None,
    "rcmalli_vggface_tf_notop_resnet50.h5": None,
    "rcmalli_vggface_tf_senet50.h5": None,
    "rcmalli_vggface_tf_notop_senet50.h5": None,
}


# ----------------------------------------------------------------------------------------------
# names

def keras_name(name: str) -> str:
    """The Keras 3 layer name for a keras-vggface layer name: ``conv1/7x7_s2`` -> ``conv1__7x7_s2``."""
    return name.replace("/", "__")


def file_name(name: str) -> str:
    """The keras-vggface (weight file) name of a layer built here: inverse of :func:`keras_name`."""
    return name.replace("__", "/")


def top_layer_names(model: str) -> tuple[str, ...]:
    """Layers that exist only with ``include_top=True`` (Keras 3 names)."""
    _check_model(model)
    if model == "vgg16":
        return ("flatten", "fc6", "fc6__relu", "fc7", "fc7__relu", "fc8", "fc8__softmax")
    return ("flatten", "classifier")


def weights_filename(model: str, include_top: bool = True) -> str:
    """The rcmalli v2.0 release file name, e.g. ``rcmalli_vggface_tf_notop_resnet50.h5``."""
    _check_model(model)
    return f"rcmalli_vggface_tf_{'' if include_top else 'notop_'}{model}.h5"


def weights_url(model: str, include_top: bool = True) -> str:
    return BASE_URL + weights_filename(model, include_top)


# ----------------------------------------------------------------------------------------------
# preprocessing

def preprocess_input(x, version: int = 1) -> np.ndarray:
    """Prepare RGB images for VGGFace: flip RGB to BGR, then subtract the training means.

    Args:
        x: RGB images, channels last (``... x 3``), any numeric dtype, values 0-255.
        version: 1 for VGGFace (VGG16), 2 for VGGFace2 (ResNet50, SENet50). See
            :data:`MEANS_BGR`. There is no scaling.

    Returns:
        A new float32 array in BGR order (the input is never modified). keras-vggface did the
        same in place on a copy, which wraps around for uint8 input; here uint8 is safe.
    """
    if version not in MEANS_BGR:
        raise ValueError(f"version: expected 1 (VGGFace/VGG16) or 2 (VGGFace2/ResNet50, SENet50), "
                         f"got {version!r}")
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ValueError(f"x: expected RGB images with 3 channels last, got shape {x.shape}")
    return x[..., ::-1].astype(np.float32) - np.asarray(MEANS_BGR[version], np.float32)


# ----------------------------------------------------------------------------------------------
# weight files

def _env_hash(fname: str) -> str | None:
    key = "EMOLIB_VGGFACE_SHA256_" + fname.upper().replace(".", "_").replace("-", "_")
    return os.environ.get(key) or None


def get_weights_file(model: str, include_top: bool = True, *, file_hash: str | None = None,
                     cache_dir: str | os.PathLike | None = None) -> Path:
    """Download (once) the rcmalli v2.0 weight file into ``EMOLIB_HOME/models/vggface``.

    The download goes through ``keras.utils.get_file``. The sha256 is ``file_hash``, else
    ``$EMOLIB_VGGFACE_SHA256_<FILE>``, else :data:`WEIGHTS_SHA256`. When none is known the first
    download is pinned in ``<file>.sha256`` and later calls check the file against the pin.

    Raises:
        DownloadError: the download failed or the file does not match its sha256.
    """
    import keras

    fname = weights_filename(model, include_top)
    expected = file_hash or _env_hash(fname) or WEIGHTS_SHA256.get(fname)
    cache_dir = Path(cache_dir) if cache_dir else emolib_home()
    url = BASE_URL + fname
    try:
        path = Path(keras.utils.get_file(fname, url, file_hash=expected, hash_algorithm="sha256",
                                         cache_subdir=CACHE_SUBDIR, cache_dir=str(cache_dir)))
    except Exception as e:  # keras raises bare Exception/ValueError for HTTP and hash failures
        target = cache_dir / CACHE_SUBDIR / fname
        if expected and target.exists() and file_sha256(target) != expected:
            target.unlink()  # keras keeps a file that fails its hash; never leave one behind
        raise DownloadError(f"{url}: could not download {fname} into {cache_dir / CACHE_SUBDIR} "
                            f"({e})") from e
    pin = path.with_name(path.name + ".sha256")
    if expected is None:
        got = file_sha256(path)
        if pin.exists():
            pinned = pin.read_text().split()[0]
            if got != pinned:
                raise DownloadError(f"{path}: sha256 {got} differs from {pinned}, pinned in {pin} at "
                                    f"the first download; delete both files to download again")
        else:
            pin.write_text(f"{got}  {fname}\n")
    return path


# ----------------------------------------------------------------------------------------------
# the builder

def _check_model(model: str) -> None:
    if model not in MODELS:
        raise ValueError(f"model: expected one of {MODELS}, got {model!r}")


def _input_shape(model: str, include_top: bool, weights, input_shape) -> tuple:
    if input_shape is None:
        return (DEFAULT_SIZE, DEFAULT_SIZE, 3) if include_top else (None, None, 3)
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[-1] != 3:
        raise ValueError(f"input_shape: expected (height, width, 3) with channels last, got {shape}")
    for side in shape[:2]:
        if side is not None and side < MIN_SIZE[model]:
            raise ValueError(f"input_shape: {model} needs height and width >= {MIN_SIZE[model]}, "
                             f"got {shape}")
    if include_top and None in shape[:2]:
        raise ValueError(f"input_shape: a fixed size is needed with include_top=True, got {shape}")
    if include_top and weights == "vggface" and shape[:2] != (DEFAULT_SIZE, DEFAULT_SIZE):
        raise ValueError(f"input_shape: the pretrained top of {model} needs "
                         f"({DEFAULT_SIZE}, {DEFAULT_SIZE}, 3), got {shape}; use include_top=False "
                         f"for other sizes")
    return shape


def VGGFace(model: str = "vgg16", include_top: bool = True, weights: str | os.PathLike | None = "vggface",
            input_shape: tuple | None = None, pooling: str | None = None, classes: int | None = None,
            *, file_hash: str | None = None, input_tensor=None, initializer: str | None = None):
    """Build VGGFace (``"vgg16"``) or VGGFace2 (``"resnet50"``, ``"senet50"``) as a ``keras.Model``.

    Args:
        model: ``"vgg16"`` (VGGFace, Parkhi et al. 2015; 2,622 identities), ``"resnet50"`` or
            ``"senet50"`` (VGGFace2, Cao et al. 2018; 8,631 identities).
        include_top: keep the identity classifier (VGG16: ``flatten, fc6, fc7, fc8``;
            ResNet50/SENet50: ``flatten, classifier``). 145,002,878 / 41,246,071 / 43,777,063
            parameters with the top at 224 px.
        weights: ``"vggface"`` downloads the rcmalli v2.0 file (see :func:`get_weights_file`);
            ``None`` leaves the random initialisation; a path loads a local Keras 2 HDF5 file
            (either layout, by name or by layer order, every shape checked; see
            :func:`emolib.models.h5weights.load_keras2_weights`).
        input_shape: ``(height, width, 3)``. Default ``(224, 224, 3)`` with the top, else
            ``(None, None, 3)``. Minimum side: 48 (vgg16), 32 (resnet50), 197 (senet50). The
            pretrained top needs 224, because fc6's shape depends on the input size.
        pooling: without the top, ``None`` returns the last feature map (VGG16: ``pool5``;
            ResNet50/SENet50: ``avg_pool``, N x 1 x 1 x 2048 as in keras-vggface), ``"avg"`` or
            ``"max"`` a global average or maximum over the last convolutional feature map
            (N x 512 or N x 2048). Ignored with the top.
        classes: identities of the top classifier; default 2,622 (vgg16) or 8,631. Must be the
            default with ``weights="vggface"`` and the top.
        file_hash: sha256 of the downloaded file, overriding :data:`WEIGHTS_SHA256`.
        input_tensor: optional Keras tensor to use as the input.
        initializer: kernel initializer of every Conv2D and Dense layer. Default: Keras' own
            (Glorot uniform) when ``weights`` is None; ``"zeros"`` when weights are loaded, since
            they overwrite it anyway and drawing VGG16's 103M fc6 numbers costs ~10 s on a CPU.

    Returns:
        An uncompiled ``keras.Model`` named ``vggface_<model>``. Expects input prepared with
        :func:`preprocess_input` (version 1 for vgg16, 2 for the others).
    """
    import keras

    _check_model(model)
    check_weights_argument(weights, "vggface")
    check_pooling_argument(pooling)
    if classes is None:
        classes = DEFAULT_CLASSES[model]
    if not isinstance(classes, (int, np.integer)) or classes < 1:
        raise ValueError(f"classes: expected a positive integer, got {classes!r}")
    if weights == "vggface" and include_top and classes != DEFAULT_CLASSES[model]:
        raise ValueError(f"classes: the pretrained {model} top has {DEFAULT_CLASSES[model]} "
                         f"classes, got {classes}; use include_top=False and add your own head")
    shape = _input_shape(model, include_top, weights, input_shape)

    inputs = keras.Input(shape=shape, name="input") if input_tensor is None else input_tensor
    if initializer is None and weights is not None:
        initializer = "zeros"
    L = _Layers(keras.layers, initializer)
    if model == "vgg16":
        x = _vgg16_body(inputs, L)
        if include_top:
            x = L.Flatten(name="flatten")(x)
            x = L.Dense(4096, name="fc6")(x)
            x = L.Activation("relu", name="fc6__relu")(x)
            x = L.Dense(4096, name="fc7")(x)
            x = L.Activation("relu", name="fc7__relu")(x)
            x = L.Dense(classes, name="fc8")(x)
            x = L.Activation("softmax", name="fc8__softmax")(x)
        elif pooling == "avg":
            x = L.GlobalAveragePooling2D(name="global_avg_pool")(x)
        elif pooling == "max":
            x = L.GlobalMaxPooling2D(name="global_max_pool")(x)
    else:
        features = _resnet_body(inputs, L, se=(model == "senet50"))
        if include_top or pooling is None:
            x = L.GlobalAveragePooling2D(keepdims=True, name="avg_pool")(features)
            if include_top:
                x = L.Flatten(name="flatten")(x)
                x = L.Dense(classes, activation="softmax", name="classifier")(x)
        elif pooling == "avg":
            x = L.GlobalAveragePooling2D(name="global_avg_pool")(features)
        else:
            x = L.GlobalMaxPooling2D(name="global_max_pool")(features)

    net = keras.Model(inputs, x, name=f"vggface_{model}")
    if weights is not None:
        from .h5weights import load_keras2_weights

        path = get_weights_file(model, include_top, file_hash=file_hash) if weights == "vggface" else weights
        load_keras2_weights(net, path)
    return net


class _Layers:
    """``keras.layers`` with one kernel initializer for every Conv2D and Dense."""

    def __init__(self, layers, initializer):
        self._layers, self._init = layers, ({"kernel_initializer": initializer} if initializer else {})

    def Conv2D(self, *args, **kwargs):
        return self._layers.Conv2D(*args, **self._init, **kwargs)

    def Dense(self, *args, **kwargs):
        return self._layers.Dense(*args, **self._init, **kwargs)

    def __getattr__(self, name):
        return getattr(self._layers, name)


def _vgg16_body(x, L):
    for block, (convs, filters) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], 1):
        for i in range(1, convs + 1):
            x = L.Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"conv{block}_{i}")(x)
        x = L.MaxPooling2D((2, 2), strides=(2, 2), name=f"pool{block}")(x)
    return x


# stage -> (blocks, filters); the stride sits on the first block's 1x1_reduce (1 in stage 2).
_RESNET_STAGES = {2: (3, (64, 64, 256)), 3: (4, (128, 128, 512)), 4: (6, (256, 256, 1024)),
                  5: (3, (512, 512, 2048))}


def _resnet_body(x, L, se: bool):
    """ResNet50 (or SE-ResNet50 when ``se``), with the layer graph of keras-vggface.

    The graph (order of the inputs to ``add``/``multiply``, separate Activation layers) is kept
    exactly, because Keras orders ``model.layers`` by graph depth and weight files saved by
    keras-vggface list their layers in that order.
    """
    eps = {"epsilon": 1e-4} if se else {}
    x = L.Conv2D(64, (7, 7), strides=(2, 2), padding="same", use_bias=False, name="conv1__7x7_s2")(x)
    x = L.BatchNormalization(axis=3, name="conv1__7x7_s2__bn", **eps)(x)
    x = L.Activation("relu", name="conv1_relu")(x)
    x = L.MaxPooling2D((3, 3), strides=(2, 2), name="conv1_pool")(x)
    for stage, (blocks, filters) in _RESNET_STAGES.items():
        for block in range(1, blocks + 1):
            strides = (1, 1) if stage == 2 or block > 1 else (2, 2)
            x = _bottleneck(x, L, filters, stage, block, strides, project=(block == 1), se=se, eps=eps)
    return x


def _bottleneck(inputs, L, filters, stage, block, strides, *, project, se, eps):
    f1, f2, f3 = filters
    p = f"conv{stage}_{block}"
    x = L.Conv2D(f1, (1, 1), strides=strides, use_bias=False, name=f"{p}_1x1_reduce")(inputs)
    x = L.BatchNormalization(axis=3, name=f"{p}_1x1_reduce__bn", **eps)(x)
    x = L.Activation("relu", name=f"{p}_1x1_reduce_relu")(x)
    x = L.Conv2D(f2, (3, 3), padding="same", use_bias=False, name=f"{p}_3x3")(x)
    x = L.BatchNormalization(axis=3, name=f"{p}_3x3__bn", **eps)(x)
    x = L.Activation("relu", name=f"{p}_3x3_relu")(x)
    x = L.Conv2D(f3, (1, 1), use_bias=False, name=f"{p}_1x1_increase")(x)
    x = L.BatchNormalization(axis=3, name=f"{p}_1x1_increase__bn", **eps)(x)
    if se:
        s = L.GlobalAveragePooling2D(name=f"{p}_se_pool")(x)
        s = L.Reshape((1, 1, f3), name=f"{p}_se_reshape")(s)
        s = L.Conv2D(f3 // 16, (1, 1), use_bias=True, name=f"{p}_1x1_down")(s)
        s = L.Activation("relu", name=f"{p}_1x1_down_relu")(s)
        s = L.Conv2D(f3, (1, 1), use_bias=True, name=f"{p}_1x1_up")(s)
        s = L.Activation("sigmoid", name=f"{p}_1x1_up_sigmoid")(s)
        x = L.Multiply(name=f"{p}_se_scale")([x, s])
    if project:
        shortcut = L.Conv2D(f3, (1, 1), strides=strides, use_bias=False, name=f"{p}_1x1_proj")(inputs)
        shortcut = L.BatchNormalization(axis=3, name=f"{p}_1x1_proj__bn", **eps)(shortcut)
    else:
        shortcut = inputs
    x = L.Add(name=f"{p}_add")([x, shortcut])
    return L.Activation("relu", name=f"{p}_relu")(x)
