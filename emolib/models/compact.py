"""The compact CPU-track CNN: a FER2013 classifier that a 2-core CPU trains in an hour.

The rest of the book transfers from large face-recognition networks, which need a GPU to train.
This model is the baseline a CPU can reach on its own. It is a plain VGG-style network (Simonyan
and Zisserman, 2015) with batch normalisation (Ioffe and Szegedy, 2015), sized by compute: on
48x48 inputs each halving of the resolution doubles the width, so every 3x3 convolution after the
first costs about the same, and the depth sits at 12x12 and 6x6 where it is cheapest.

Training lives in :mod:`emolib.models.training`; prediction in :mod:`emolib.models.predict`.
"""
from __future__ import annotations

import keras

__all__ = ["compact_cnn"]


def compact_cnn(num_classes: int = 7, input_shape: tuple[int, int, int] = (48, 48, 1), *,
                widths: tuple[int, ...] = (32, 64, 128, 256), convs: tuple[int, ...] = (1, 1, 2, 2),
                stem_stride: bool = True, dense_units: int = 256, dropout: float = 0.4,
                augment: bool = True, flip: bool = True, rotation: float = 10.0, shift: float = 0.1,
                zoom: float = 0.1, bn_momentum: float = 0.9, name: str = "compact_cnn") -> keras.Model:
    """Build the compact CNN (uncompiled, softmax output).

    The model takes raw 0-255 pixels (``Rescaling`` is its first layer) and, when ``augment``, a
    random mirror, rotation, shift and zoom that Keras applies only in training. Each block is
    ``convs[i]`` x (3x3 convolution -> batch norm -> ReLU) followed by 2x2 max pooling, except
    that with ``stem_stride`` the first convolution has stride 2 and the first block no pooling:
    on a CPU, full-resolution layers with few channels cost far more time than their share of
    the arithmetic (measured here: 30 % of a step for 1 % of the multiply-adds). The head is
    Flatten -> Dropout -> Dense -> batch norm -> ReLU -> Dropout -> Dense softmax.
    The defaults (1.72 M parameters, about 6.9 MB saved) train at about 2 min per FER2013
    epoch on 2 CPU cores (``benchmarks/fer2013_cpu.py``).

    Args:
        num_classes: outputs of the softmax (7 for FER2013, 8 for FER+).
        input_shape: (height, width, channels); channels 1 (grey) or 3 (RGB). Height and width
            must be divisible by 2**len(widths).
        widths: filters of each block.
        convs: convolutions in each block (one entry per block).
        stem_stride: downsample in the first convolution (stride 2) instead of by pooling.
        dense_units: width of the hidden dense layer.
        dropout: dropout rate before each dense layer.
        bn_momentum: batch-norm moving-average momentum (0.9 settles within a few dozen steps,
            which short runs need).
        augment: add the random augmentation layers (inactive at inference).
        flip, rotation, shift, zoom: augmentation: horizontal mirror; rotation range in degrees;
            shift and zoom as fractions of the image size.
        name: the model's name.

    Returns:
        A ``keras.Model``.
    """
    from keras import layers

    if int(num_classes) < 2:
        raise ValueError(f"num_classes: expected at least 2, got {num_classes}")
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[2] not in (1, 3) or min(shape[:2]) < 1:
        raise ValueError(f"input_shape: expected (height, width, 1 or 3), got {input_shape}")
    if not widths or len(widths) != len(convs) or min(widths) < 1 or min(convs) < 1:
        raise ValueError(f"widths and convs: expected equal-length lists of positive integers, got "
                         f"{widths} and {convs}")
    factor = 2 ** len(widths)
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(f"input_shape: height and width must be divisible by {factor} "
                         f"({len(widths)} poolings), got {shape[:2]}")
    if not 0 <= dropout < 1 or rotation < 0 or not 0 <= shift < 1 or not 0 <= zoom < 1:
        raise ValueError(f"expected 0 <= dropout, shift, zoom < 1 and rotation >= 0, got dropout="
                         f"{dropout}, shift={shift}, zoom={zoom}, rotation={rotation}")

    inputs = keras.Input(shape, name="pixels")
    x = layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    if augment:
        if flip:
            x = layers.RandomFlip("horizontal", name="aug_flip")(x)
        if rotation:
            x = layers.RandomRotation(rotation / 360.0, fill_mode="reflect", name="aug_rotate")(x)
        if shift:
            x = layers.RandomTranslation(shift, shift, fill_mode="reflect", name="aug_shift")(x)
        if zoom:
            x = layers.RandomZoom(zoom, fill_mode="reflect", name="aug_zoom")(x)
    for b, (width, n) in enumerate(zip(widths, convs), start=1):
        for c in range(1, n + 1):
            stride = 2 if (b, c) == (1, 1) and stem_stride else 1
            x = layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False,
                              name=f"block{b}_conv{c}")(x)
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"block{b}_bn{c}")(x)
            x = layers.Activation("relu", name=f"block{b}_relu{c}")(x)
        if b > 1 or not stem_stride:
            x = layers.MaxPooling2D(name=f"block{b}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="drop1")(x)
    x = layers.Dense(dense_units, use_bias=False, name="fc")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name="fc_bn")(x)
    x = layers.Activation("relu", name="fc_relu")(x)
    x = layers.Dropout(dropout, name="drop2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
