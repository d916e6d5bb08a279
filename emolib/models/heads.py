"""The classification heads of the FER2013 VGGFace student project {cite}`seed003fer2013`, put on
top of a face-recognition backbone.

* VGGFace1 head (on VGGFace-VGG16 without top): GAP -> BN -> Dropout -> Dense 512 -> Dropout ->
  Dense 128 -> Dense 7. With the backbone frozen the project's summary shows 15,045,959 parameters,
  330,247 of them trainable; it reached 70.62 % validation accuracy on cleaned FER2013 (ROS).
* VGGFace2 head (on VGGFace2-ResNet50 without top, whose output is N x 1 x 1 x 2048): Flatten ->
  Dropout -> Dense 2048 -> Dropout -> Dense 1024 -> Dense 7. 29,862,855 parameters, 6,301,703
  trainable; 70.31 % (ROS) and 70.51 % (ADASYN) validation accuracy.

The project does not state the dropout rates or hidden activations; emolib uses ReLU and 0.5 (an
assumption, not a seed fact). ``num_classes=8`` gives the FER+ head (Barsoum et al. 2016).
"""
from __future__ import annotations

__all__ = ["HEADS", "vggface1_head", "vggface2_head", "add_head"]

HEADS = ("vggface1", "vggface2")


def _check(num_classes, dropout):
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes: expected an integer >= 2 (7 for FER2013, 8 for FER+), "
                         f"got {num_classes!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout: expected a rate in [0, 1), got {dropout!r}")


def _mlp_head(x, num_classes, dropout, *, pooling: str, batch_norm: bool, units: tuple[int, int]):
    """Pool (when x is a feature map) -> [BN] -> Dropout -> Dense -> Dropout -> Dense -> softmax."""
    import keras

    _check(num_classes, dropout)
    L = keras.layers
    if len(x.shape) == 4:
        x = (L.GlobalAveragePooling2D(name="head_gap") if pooling == "gap" else L.Flatten(name="head_flatten"))(x)
    if batch_norm:
        x = L.BatchNormalization(name="head_bn")(x)
    for i, n in enumerate(units, start=1):
        x = L.Dropout(dropout, name=f"head_dropout_{i}")(x)
        x = L.Dense(n, activation="relu", name=f"head_dense_{n}")(x)
    return L.Dense(num_classes, activation="softmax", name="emotions")(x)


def vggface1_head(x, num_classes: int = 7, *, dropout: float = 0.5):
    """GAP -> BN -> Dropout -> Dense 512 (ReLU) -> Dropout -> Dense 128 (ReLU) -> Dense softmax."""
    return _mlp_head(x, num_classes, dropout, pooling="gap", batch_norm=True, units=(512, 128))


def vggface2_head(x, num_classes: int = 7, *, dropout: float = 0.5):
    """Flatten -> Dropout -> Dense 2048 (ReLU) -> Dropout -> Dense 1024 (ReLU) -> Dense softmax."""
    return _mlp_head(x, num_classes, dropout, pooling="flatten", batch_norm=False, units=(2048, 1024))


def add_head(backbone, head: str = "vggface1", num_classes: int = 7, *, dropout: float = 0.5,
             name: str | None = None):
    """A classifier ``keras.Model``: ``backbone`` (kept as one nested layer) followed by a seed head.

    Args:
        backbone: a ``keras.Model`` without top, e.g. ``VGGFace("vgg16", include_top=False)``.
            It stays a single nested layer (as in the project's summaries), so fine-tuning can
            freeze and unfreeze it.
        head: ``"vggface1"`` or ``"vggface2"``.
        num_classes: 7 (FER2013) or 8 (FER+).
        dropout: rate of both Dropout layers.
        name: model name; default ``<backbone name>_<head>``.
    """
    import keras

    if head not in HEADS:
        raise ValueError(f"head: expected one of {HEADS}, got {head!r}")
    inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
    features = backbone(inputs)
    build = vggface1_head if head == "vggface1" else vggface2_head
    outputs = build(features, num_classes, dropout=dropout)
    return keras.Model(inputs, outputs, name=name or f"{backbone.name}_{head}")
