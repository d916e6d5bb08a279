"""Deep face descriptors: the output of one layer of a face-recognition network, per image.

This is how the AMD team {cite}`rassadin2017group` described faces for group-level emotion:
VGGFace's 4,096-D
``fc7`` or its 512-D average-pooled last convolutional map, computed with the image given in BGR
order (as the Caffe model expects) or in RGB order, then fed to a classifier.
:class:`DescriptorExtractor` does this for any VGGFace model or any Keras model, as a
scikit-learn transformer, so it composes with ``sklearn.pipeline``.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["DescriptorExtractor", "DEFAULT_LAYER", "ORDERS", "POOLINGS"]

DEFAULT_LAYER = {"vgg16": "fc7", "resnet50": "avg_pool", "senet50": "avg_pool"}
ORDERS = ("rgb", "bgr")
POOLINGS = ("avg", "max", "flatten")


class DescriptorExtractor(TransformerMixin, BaseEstimator):
    """Images -> N x D descriptors from one layer of a (face) network.

    Args:
        backbone: ``"vgg16"`` (VGGFace), ``"resnet50"`` or ``"senet50"`` (VGGFace2), built with
            :func:`emolib.models.vggface.VGGFace`; or any built ``keras.Model``.
        layer: name of the layer whose output is the descriptor. Default: ``"fc7"`` for vgg16 and
            ``"avg_pool"`` for resnet50/senet50. keras-vggface names with ``/`` are accepted
            (``"fc7/relu"`` means ``fc7__relu``). ``"fc7"`` is the Dense output before its ReLU,
            as in keras-vggface; ask for ``"fc7/relu"`` for the rectified one. A layer in the
            identity classifier (fc6-fc8, classifier) builds the model with its top.
        order: ``"bgr"`` flips the RGB input to BGR before subtracting the means, which is what
            VGGFace was trained on (``preprocess_input``); ``"rgb"`` leaves the channels as they
            are and subtracts the same mean vector, the "RGB regime" of AMD.
        input_size: side of the square network input; images are resized to it. VGGFace's
            pretrained top needs 224; below the top any size from 48 (vgg16), 32 (resnet50) or
            197 (senet50) works.
        weights: ``"vggface"`` (download the rcmalli files), ``None`` (random initialisation,
            seeded by ``random_state``: for the sample profile only) or a weight file path.
            Ignored when ``backbone`` is a Keras model.
        preprocessing: mean vector to subtract: ``"auto"`` (VGGFace version 1 for vgg16, 2 for
            resnet50/senet50, nothing for a Keras model), 1 or 2, or None (raw 0-255 values).
        pooling: how a spatial (N x H x W x C) layer output becomes a vector: ``"avg"``
            (global average, e.g. ``pool5`` -> 512-D "avgpool"), ``"max"`` or ``"flatten"``.
        batch_size: images per forward pass.
        random_state: seed of the random initialisation when ``weights`` is None; it calls
            ``keras.utils.set_random_seed`` just before building.

    Attributes (after ``fit``):
        model_: the Keras model from the input to ``layer``.
        layer_: the Keras name of the layer used.
        n_features_out_: descriptor length D.
    """

    def __init__(self, backbone="vgg16", layer=None, order="bgr", input_size=224, weights="vggface",
                 preprocessing="auto", pooling="avg", batch_size=32, random_state=0):
        self.backbone = backbone
        self.layer = layer
        self.order = order
        self.input_size = input_size
        self.weights = weights
        self.preprocessing = preprocessing
        self.pooling = pooling
        self.batch_size = batch_size
        self.random_state = random_state

    # -- helpers -------------------------------------------------------------------------------
    def _validate(self):
        from ..models import vggface

        if isinstance(self.backbone, str) and self.backbone not in vggface.MODELS:
            raise ValueError(f"backbone: expected one of {vggface.MODELS} or a keras.Model, "
                             f"got {self.backbone!r}")
        if not isinstance(self.backbone, str) and not hasattr(self.backbone, "get_layer"):
            raise ValueError(f"backbone: expected one of {vggface.MODELS} or a keras.Model, "
                             f"got {type(self.backbone).__name__}")
        if self.order not in ORDERS:
            raise ValueError(f"order: expected one of {ORDERS}, got {self.order!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling: expected one of {POOLINGS}, got {self.pooling!r}")
        if self.preprocessing not in ("auto", 1, 2, None):
            raise ValueError(f"preprocessing: expected 'auto', 1, 2 or None, got {self.preprocessing!r}")
        if not (isinstance(self.batch_size, (int, np.integer)) and self.batch_size > 0):
            raise ValueError(f"batch_size: expected a positive integer, got {self.batch_size!r}")

    def _build(self):
        import keras

        from ..models import vggface

        if not isinstance(self.backbone, str):
            net = self.backbone
            layer = self.layer or net.layers[-1].name
            layer = vggface.keras_name(layer)
            version = None if self.preprocessing == "auto" else self.preprocessing
            shape = net.input_shape[1:3]
            size = tuple(shape) if None not in shape else (self.input_size, self.input_size)
        else:
            model = self.backbone
            layer = vggface.keras_name(self.layer or DEFAULT_LAYER[model])
            top = layer in vggface.top_layer_names(model)
            if self.weights is None and self.random_state is not None:
                keras.utils.set_random_seed(int(self.random_state))
            net = vggface.VGGFace(model, include_top=top, weights=self.weights,
                                  input_shape=(self.input_size, self.input_size, 3))
            version = (vggface.PREPROCESS_VERSION[model] if self.preprocessing == "auto"
                       else self.preprocessing)
            size = (self.input_size, self.input_size)
        try:
            out = net.get_layer(layer).output
        except ValueError:
            names = [l.name for l in net.layers]
            raise ValueError(f"layer: {layer!r} is not a layer of {net.name!r}; its layers end with "
                             f"{names[-6:]}") from None
        inputs = net.inputs[0] if len(net.inputs) == 1 else net.inputs
        return keras.Model(inputs, out, name=f"{net.name}_{layer}"), layer, version, size

    def _prepare(self, images) -> np.ndarray:
        from ..faces.batch import to_batch
        from ..models.vggface import MEANS_BGR

        x = to_batch(images, self.size_, 3)
        if self.order == "bgr":
            x = x[..., ::-1]
        if self.version_ is not None:
            x = x - np.asarray(MEANS_BGR[self.version_], np.float32)
        return np.ascontiguousarray(x, dtype=np.float32)

    def _pool(self, y: np.ndarray) -> np.ndarray:
        if y.ndim == 2:
            return y
        axes = tuple(range(1, y.ndim - 1))
        if self.pooling == "avg":
            return y.mean(axis=axes)
        if self.pooling == "max":
            return y.max(axis=axes)
        return y.reshape(len(y), -1)

    # -- scikit-learn API ----------------------------------------------------------------------
    def fit(self, X=None, y=None):
        """Build the network up to ``layer``. Nothing is learned; ``X`` and ``y`` are ignored."""
        self._validate()
        self.model_, self.layer_, self.version_, self.size_ = self._build()
        shape = self.model_.output_shape
        if self.pooling == "flatten" and any(d is None for d in shape[1:]):
            raise ValueError(f"pooling='flatten' needs a fixed output size; layer {self.layer_!r} "
                             f"gives {shape}")
        self.n_features_out_ = int(shape[-1] if self.pooling != "flatten" else np.prod(shape[1:]))
        return self

    def transform(self, X) -> np.ndarray:
        """Descriptors of RGB uint8 images (list or N x H x W x 3 array): N x D float32."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "model_")
        n = len(X)
        out = np.empty((n, self.n_features_out_), np.float32)
        for start in range(0, n, self.batch_size):
            batch = self._prepare(X[start:start + self.batch_size])
            y = self.model_(batch, training=False)
            out[start:start + len(batch)] = self._pool(np.asarray(y))
        return out

    def get_feature_names_out(self, input_features=None):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "model_")
        return np.asarray([f"{self.layer_}_{i}" for i in range(self.n_features_out_)], dtype=object)
