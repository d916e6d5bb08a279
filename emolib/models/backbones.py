"""Backbones for fine-tuning: face-recognition (VGGFace) and ImageNet (keras.applications).

The source systems compare the two kinds: Ramos's FER thesis {cite}`ramos2018fer` fine-tuned
face-pretrained and ImageNet-pretrained networks and found the face weights generalise better
(overfitting-set accuracy 0.79-0.82 against 0.40-0.65); the FER2013 VGGFace student project
{cite}`seed003fer2013` tried EfficientNet B3/B4 against VGGFace (50.17 / 52.34 % against 70.62 %
validation accuracy on cleaned FER2013).

Every backbone is returned without its classifier, with the name of the input preprocessing it
expects (see :mod:`emolib.models.input_pipeline`). ``weights=None`` gives a random initialisation,
which is what runs offline here; ``"pretrained"`` downloads the VGGFace or ImageNet weights.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["BACKBONES", "FROZEN_EXTRACTORS", "Backbone", "build_backbone"]


@dataclass(frozen=True)
class Backbone:
    """A backbone model with what the rest of the pipeline needs to know about it."""

    model: object            # keras.Model without top
    name: str
    preprocessing: str       # a key of emolib.models.input_pipeline.PREPROCESSING
    head: str                # the student-project head that suits its output (see emolib.models.heads)
    pretrained: str | None   # "vggface", "imagenet", a path, or None (random init)


# name -> (preprocessing, head, kind of pretraining, minimum input side)
BACKBONES = {
    "vggface_vgg16": ("vggface1", "vggface1", "vggface", 48),
    "vggface_resnet50": ("vggface2", "vggface2", "vggface", 32),
    "vggface_senet50": ("vggface2", "vggface2", "vggface", 197),
    "vgg16_imagenet": ("caffe_imagenet", "vggface1", "imagenet", 32),
    "efficientnetb3": ("none", "vggface1", "imagenet", 32),
    "efficientnetb4": ("none", "vggface1", "imagenet", 32),
    # FaceNet standardises each image inside the model (layer Standardize), so it takes RGB 0-255.
    "facenet": ("none", "vggface1", "facenet", 75),
}

# Frozen extractors: real face-ID networks that cannot be fine-tuned from Python; use them
# through emolib.features.cache.extract_features. name -> output dimension
FROZEN_EXTRACTORS = {"dlib_resnet": 128}


def build_backbone(name: str = "vggface_vgg16", input_size: int = 224,
                   weights: str | os.PathLike | None = None) -> Backbone:
    """Build backbone ``name`` (a key of :data:`BACKBONES`) without top, for ``input_size`` px.

    Args:
        name: ``vggface_vgg16``, ``vggface_resnet50``, ``vggface_senet50`` (emolib's VGGFace),
            ``vgg16_imagenet``, ``efficientnetb3``, ``efficientnetb4`` (``keras.applications``),
            ``facenet`` (emolib's FaceNet, Inception-ResNet-v1; see :mod:`emolib.models.facenet`).
        input_size: side of the square RGB input.
        weights: ``None`` (random init), ``"pretrained"`` (VGGFace, ImageNet or FaceNet weights,
            downloaded on first use), or a weight file path.
    """
    import keras

    if name in FROZEN_EXTRACTORS:
        raise ValueError(f"name: {name} is a frozen feature extractor, not a trainable backbone; use "
                         f"emolib.features.cache.extract_features({name!r}, faces)")
    if name not in BACKBONES:
        raise ValueError(f"name: expected one of {sorted(BACKBONES)}, got {name!r}")
    preprocessing, head, kind, min_size = BACKBONES[name]
    if not isinstance(input_size, int) or input_size < min_size:
        raise ValueError(f"input_size: {name} needs an integer >= {min_size}, got {input_size!r}")
    shape = (input_size, input_size, 3)
    pretrained = kind if weights == "pretrained" else weights
    if name.startswith("vggface_"):
        from .vggface import VGGFace

        model = VGGFace(name.split("_", 1)[1], include_top=False, weights=pretrained, input_shape=shape)
    elif name == "facenet":
        from .facenet import FaceNet

        model = FaceNet(include_top=False, weights=pretrained, input_shape=shape, pooling=None,
                        standardize=True)
    else:
        build = {"vgg16_imagenet": keras.applications.VGG16,
                 "efficientnetb3": keras.applications.EfficientNetB3,
                 "efficientnetb4": keras.applications.EfficientNetB4}[name]
        model = build(include_top=False, weights=pretrained, input_shape=shape)
    return Backbone(model, name, preprocessing, head, None if pretrained is None else str(pretrained))
