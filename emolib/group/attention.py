"""Attention over the faces of a group photo, in Keras 3: the vlgiitr model (EmotiW 2018,
{cite}`vlgiitr2018group`).

Two branches are trained end to end. A global CNN reads the whole photo; a local CNN encodes
each face. An attention layer merges the variable number of faces into one vector, which is
concatenated with the global vector and classified. Faces are padded to ``max_faces`` and a mask
marks the real ones: padded slots get zero weight, and a photo without faces gets no face vector
(all weights zero), so the global branch decides alone.

The four ways of merging the faces, after the vlgiitr code (``f_i`` a face vector, ``g`` the
global image vector, weights ``w = softmax(s)`` over the real faces):

- ``average``: the plain mean of the face vectors (all ``s_i`` equal);
- ``A`` (global image feature vector): the global vector is the query, ``s_i = g . f_i``;
  ``g`` and ``f_i`` have the same size;
- ``B`` (intermediate feature vector): a learned layer maps the global vector to an intermediate
  query first, ``s_i = (W g + b) . f_i``;
- ``C`` (feature score): each face scores itself through a small two-layer network,
  ``s_i = w2 . (W1 f_i + b1) + b2``; the global vector plays no part in the weights.

Dot-product scores are divided by ``sqrt(d)`` (as in scaled dot-product attention) to keep
the softmax out of saturation at initialisation; vlgiitr's code used the raw dot product.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..config import quiet_tensorflow

quiet_tensorflow()
import keras  # noqa: E402  (after quiet_tensorflow, which must precede TensorFlow's import)

from ..faces.batch import to_batch  # noqa: E402
from ..models.predict import predict_batches  # noqa: E402
from .scene import SceneFaceExtractor, SceneFaces, as_scene_faces  # noqa: E402

__all__ = ["VARIANTS", "FaceAttention", "build_attention_model", "attention_weights_model",
           "group_inputs", "pretrain_face_encoder", "vggface_encoder", "GroupAttentionClassifier",
           "load_attention_model"]

VARIANTS = ("average", "A", "B", "C")
_NEG = -1e9
ops = keras.ops


@keras.saving.register_keras_serializable(package="emolib")
class FaceAttention(keras.layers.Layer):
    """Merge ``faces`` (B x F x D) under ``mask`` (B x F, 1 = real face) into B x D.

    Called on ``[faces, mask, global_vector]``; returns ``[attended, weights]`` where
    ``weights`` (B x F) sum to 1 over the real faces of each photo and are 0 elsewhere
    (all 0 for a photo without faces). ``variant`` is one of ``VARIANTS``; ``hidden`` is the
    width of variant C's scoring layer.
    """

    def __init__(self, variant: str = "A", hidden: int = 64, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if variant not in VARIANTS:
            raise ValueError(f"variant={variant!r}: expected one of {VARIANTS}")
        self.variant, self.hidden, self.dropout = variant, int(hidden), float(dropout)
        self.query = self.score_hidden = self.score_out = None
        self.drop = keras.layers.Dropout(self.dropout) if self.dropout else None

    def build(self, input_shape):
        faces_shape, _, global_shape = input_shape
        d, g = int(faces_shape[-1]), int(global_shape[-1])
        if self.variant == "A" and d != g:
            raise ValueError(f"attention A uses the global vector as the query: its size ({g}) "
                             f"must equal the face vector size ({d})")
        if self.variant == "B":
            self.query = keras.layers.Dense(d, name="query")
            self.query.build((None, g))
        if self.variant == "C":
            self.score_hidden = keras.layers.Dense(self.hidden, name="score_hidden")
            self.score_hidden.build((None, None, d))
            self.score_out = keras.layers.Dense(1, name="score")
            self.score_out.build((None, None, self.hidden))

    def call(self, inputs, training=None):
        faces, mask, glob = inputs
        mask = ops.cast(mask, faces.dtype)
        d = ops.cast(ops.shape(faces)[-1], faces.dtype)
        if self.variant == "average":
            scores = ops.zeros_like(mask)
        elif self.variant in ("A", "B"):
            q = glob if self.variant == "A" else self.query(glob)
            scores = ops.sum(faces * ops.expand_dims(q, 1), axis=-1) / ops.sqrt(d)
        else:
            h = self.score_hidden(faces)
            if self.drop is not None:
                h = self.drop(h, training=training)
            scores = ops.squeeze(self.score_out(h), axis=-1)
        scores = ops.where(mask > 0, scores, ops.full_like(scores, _NEG))
        weights = ops.softmax(scores, axis=-1) * mask         # all-padded rows -> all zero
        attended = ops.sum(ops.expand_dims(weights, -1) * faces, axis=1)
        return [attended, weights]

    def compute_output_shape(self, input_shape):
        faces_shape = input_shape[0]
        return [(faces_shape[0], faces_shape[-1]), (faces_shape[0], faces_shape[1])]

    def get_config(self):
        return {**super().get_config(), "variant": self.variant, "hidden": self.hidden,
                "dropout": self.dropout}


def _small_cnn(keras, input_shape, filters, out_dim, name, flatten=True, batchnorm=False):
    """A few conv blocks on raw 0-255 pixels, then ``out_dim`` features (sample profile).

    ``flatten`` keeps where things are (a mouth's corners versus its centre), which expressions
    need; global average pooling suits whole scenes. ``batchnorm`` speeds up pretraining.
    """
    L = keras.layers
    x_in = keras.Input(input_shape)
    x = L.Rescaling(1 / 127.5, offset=-1.0)(x_in)
    for k, f in enumerate(filters):
        x = L.Conv2D(f, 3, padding="same", use_bias=not batchnorm, name=f"conv{k + 1}")(x)
        if batchnorm:
            x = L.BatchNormalization(momentum=0.9, name=f"bn{k + 1}")(x)
        x = L.Activation("relu", name=f"relu{k + 1}")(x)
        x = L.MaxPooling2D(2, name=f"pool{k + 1}")(x)
    x = L.Flatten()(x) if flatten else L.GlobalAveragePooling2D()(x)
    x = L.Dense(out_dim, activation="relu", name="embedding")(x)
    return keras.Model(x_in, x, name=name)


def _all_layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _all_layers(layer)


def pretrain_face_encoder(images, labels, *, face_size: int = 24, face_dim: int = 64,
                          filters: tuple[int, ...] = (8, 16, 32), epochs: int = 6, batch_size: int = 16,
                          learning_rate: float = 3e-3, batchnorm: bool = False, validation=None,
                          random_state: int = 0, verbose: int = 0) -> tuple[keras.Model, dict]:
    """Train the small face CNN to recognise facial expressions, for the local branch to start from.

    vlgiitr's local branch started from a face network (SphereFace) fine-tuned on faces before
    the attention model was trained end to end. Here the sample profile trains the small CNN on
    labelled single faces (``emolib.data.sample.sample_faces``, standing in for FER2013), and
    :func:`build_attention_model` takes it as ``face_encoder``.

    Args:
        images: N x H x W grey or N x H x W x 3 RGB uint8 faces (e.g. ``FaceDataset.images``).
        labels: N class indices.
        validation: optional ``(images, labels)``; the accuracy on them after training is
            ``history["val_accuracy"]`` (one value).
        Others: the encoder's shape and Adam training settings.

    Returns ``(encoder, history)``: the ``keras.Model`` from face_size x face_size x 3 (0-255)
    to ``face_dim`` features, and the Keras history dict.
    """
    L = keras.layers
    labels = np.asarray(labels)
    if len(images) != len(labels) or len(labels) == 0:
        raise ValueError(f"images and labels: expected the same non-zero length, got {len(images)} "
                         f"and {len(labels)}")

    keras.utils.set_random_seed(random_state)
    encoder = _small_cnn(keras, (face_size, face_size, 3), filters, face_dim, "face_cnn",
                         batchnorm=batchnorm)
    n_classes = int(labels.max()) + 1
    clf = keras.Sequential([keras.Input((face_size, face_size, 3)), encoder, L.Dropout(0.3),
                            L.Dense(n_classes, activation="softmax")], name="face_pretraining")
    clf.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"], jit_compile=False)
    history = clf.fit(to_batch(images, face_size, 3), labels, epochs=epochs, batch_size=batch_size,
                      shuffle=True, verbose=verbose).history
    if validation is not None:                        # once, at the end (no per-epoch evaluation)
        probs = predict_batches(clf, to_batch(validation[0], face_size, 3), batch_size=128)
        history["val_accuracy"] = [float(np.mean(probs.argmax(1) == np.asarray(validation[1])))]
    return encoder, history


def build_attention_model(variant: str = "A", *, max_faces: int = 8, face_size: int = 32,
                          image_size: tuple[int, int] = (64, 96), num_classes: int = 3,
                          face_dim: int = 64, global_dim: int | None = None, hidden: int = 64,
                          dropout: float = 0.3, filters: tuple[int, ...] = (8, 16, 32),
                          face_encoder=None, global_backbone=None) -> keras.Model:
    """The two-branch group model of vlgiitr (Gupta et al., ICMI 2018), as a ``keras.Model``.

    Args:
        variant: how faces are merged: "average", "A", "B" or "C" (see the module docstring).
        max_faces: face slots per photo; photos with more faces are truncated (vlgiitr used 15).
        face_size: side of the face crops fed to the local branch.
        image_size: (height, width) of the whole photo fed to the global branch.
        num_classes: 3 for GAF (Positive, Neutral, Negative).
        face_dim: size of each face vector.
        global_dim: size of the global vector (defaults to ``face_dim``; variant A requires that).
        hidden: width of variant C's scoring layer.
        dropout: dropout before the classifier.
        filters: conv widths of the small CNNs built when ``face_encoder``/``global_backbone`` is None.
        face_encoder: a ``keras.Model`` mapping one face (face_size x face_size x 3, 0-255) to a
            vector, e.g. a VGGFace backbone with pooling; None builds a small CNN (sample profile).
            A ``Dense(face_dim)`` follows it.
        global_backbone: a ``keras.Model`` mapping the photo to a vector (vlgiitr: DenseNet-161);
            None builds a small CNN.

    Inputs: ``{"image": B x H x W x 3, "faces": B x F x s x s x 3, "mask": B x F}`` (0-255 pixels,
    mask 1 for a real face). Output: B x num_classes softmax probabilities. The attention layer
    is named ``"face_attention"``; :func:`attention_weights_model` reads its weights.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r}: expected one of {VARIANTS}")
    if max_faces < 1 or face_size < 8 or num_classes < 2:
        raise ValueError("expected max_faces >= 1, face_size >= 8 and num_classes >= 2")
    L = keras.layers
    global_dim = face_dim if global_dim is None else global_dim
    if variant == "A" and global_dim != face_dim:
        raise ValueError(f"variant A needs global_dim == face_dim, got {global_dim} and {face_dim}")
    h, w = image_size
    image_in = keras.Input((h, w, 3), name="image")
    faces_in = keras.Input((max_faces, face_size, face_size, 3), name="faces")
    mask_in = keras.Input((max_faces,), name="mask")

    if global_backbone is None:
        global_backbone = _small_cnn(keras, (h, w, 3), filters, 2 * global_dim, "global_cnn",
                                     flatten=False)
    g = global_backbone(image_in)
    g = L.Dense(global_dim, activation="relu", name="global_main")(L.Dropout(dropout)(g))

    if face_encoder is None:
        face_encoder = _small_cnn(keras, (face_size, face_size, 3), filters, face_dim, "face_cnn")
    for layer in _all_layers(face_encoder):
        if isinstance(layer, L.BatchNormalization):
            layer.trainable = False   # keep pretrained statistics: padded faces would skew batch ones
    # Faces of all photos through one encoder call: (B, F, s, s, 3) -> (B*F, s, s, 3) -> (B, F, D).
    flat = keras.ops.reshape(faces_in, (-1, face_size, face_size, 3))
    f = L.Dense(face_dim, name="face_vector")(face_encoder(flat))
    f = keras.ops.reshape(f, (-1, max_faces, face_dim))

    attended, _ = FaceAttention(variant, hidden=hidden, name="face_attention")([f, mask_in, g])
    x = L.Concatenate(name="faces_and_global")([
        L.BatchNormalization(momentum=0.9, name="bn_faces")(attended),
        L.BatchNormalization(momentum=0.9, name="bn_global")(g)])
    x = L.Dropout(dropout)(x)
    out = L.Dense(num_classes, activation="softmax", name="emotion")(x)
    return keras.Model({"image": image_in, "faces": faces_in, "mask": mask_in}, out,
                       name=f"group_attention_{variant}")


def load_attention_model(path) -> keras.Model:
    """Load a model saved with ``model.save("....keras")`` (:class:`FaceAttention` is registered)."""
    return keras.models.load_model(path)


def attention_weights_model(model: keras.Model) -> keras.Model:
    """A model sharing ``model``'s layers that outputs the attention weights (B x max_faces)."""
    return keras.Model(model.inputs, model.get_layer("face_attention").output[1])


def group_inputs(scenes: list[SceneFaces], *, max_faces: int = 8, face_size: int = 32,
                 image_size: tuple[int, int] = (64, 96)) -> dict[str, np.ndarray]:
    """Pad and mask the faces of ``scenes`` (list of :class:`SceneFaces`) into model inputs.

    Photos with more than ``max_faces`` faces keep their first (largest) ``max_faces``.
    """
    n = len(scenes)
    h, w = image_size
    images = to_batch([s.image for s in scenes], (h, w), 3) if n else np.zeros((0, h, w, 3), np.float32)
    faces = np.zeros((n, max_faces, face_size, face_size, 3), np.float32)
    mask = np.zeros((n, max_faces), np.float32)
    for i, s in enumerate(scenes):
        crops = list(s.crops[:max_faces])
        if crops:
            faces[i, :len(crops)] = to_batch(crops, face_size, 3)
            mask[i, :len(crops)] = 1.0
    return {"image": images, "faces": faces, "mask": mask}


def vggface_encoder(model: str = "resnet50", *, input_size: int = 96,
                    weights="vggface") -> keras.Model:
    """A VGGFace network as the local branch (full profile): faces (0-255 RGB) -> pooled vector.

    The network is ``emolib.models.vggface.VGGFace(model, include_top=False, pooling="avg")``;
    VGGFace's preprocessing (RGB to BGR, mean subtraction) runs inside the returned model.
    """
    from ..models import vggface

    net = vggface.VGGFace(model, include_top=False, weights=weights,
                          input_shape=(input_size, input_size, 3), pooling="avg")
    means = np.asarray(vggface.MEANS_BGR[vggface.PREPROCESS_VERSION[model]], np.float32)
    x_in = keras.Input((input_size, input_size, 3))
    x = keras.ops.flip(x_in, axis=-1) - means
    return keras.Model(x_in, net(x), name=f"vggface_{model}_encoder")


class GroupAttentionClassifier(ClassifierMixin, BaseEstimator):
    """The attention model as a scikit-learn classifier over group photos.

    ``fit(X, y)`` builds :func:`build_attention_model` and trains it end to end (every layer,
    the face encoder included, apart from its BatchNorm statistics) with Adam and cross-entropy
    for ``epochs`` epochs. ``X`` is a list of :class:`SceneFaces`, or items that ``faces`` (a
    :class:`SceneFaceExtractor`) turns into them: sample scenes, paths, arrays.

    Args:
        variant, max_faces, face_size, image_size, face_dim, hidden, dropout, filters,
            global_backbone: see :func:`build_attention_model`.
        face_encoder: a (pretrained) face encoder, e.g. from :func:`pretrain_face_encoder` or
            :func:`vggface_encoder`. ``fit`` trains a copy, so one encoder can start several models.
        epochs, batch_size, learning_rate, random_state, verbose: training settings.

    Fitted: ``model_`` (the Keras model), ``outputs_model_`` (the same layers, returning the
    probabilities and the attention weights), ``history_``, ``classes_``.
    """

    def __init__(self, variant: str = "A", *, max_faces: int = 8, face_size: int = 32,
                 image_size: tuple[int, int] = (48, 72), face_dim: int = 64, hidden: int = 64,
                 dropout: float = 0.3, filters: tuple[int, ...] = (8, 16, 32), epochs: int = 10,
                 batch_size: int = 16, learning_rate: float = 2e-3, random_state: int = 0,
                 verbose: int = 0, faces: SceneFaceExtractor | None = None, face_encoder=None,
                 global_backbone=None):
        self.variant = variant
        self.max_faces = max_faces
        self.face_size = face_size
        self.image_size = image_size
        self.face_dim = face_dim
        self.hidden = hidden
        self.dropout = dropout
        self.filters = filters
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.verbose = verbose
        self.faces = faces
        self.face_encoder = face_encoder
        self.global_backbone = global_backbone

    def inputs(self, X) -> dict[str, np.ndarray]:
        """The padded, masked model inputs of photos ``X`` (see :func:`group_inputs`)."""
        scenes = as_scene_faces(X, self.faces)
        return group_inputs(scenes, max_faces=self.max_faces, face_size=self.face_size,
                            image_size=tuple(self.image_size))

    def fit(self, X, y, validation_data=None):
        """Train on photos ``X`` with labels ``y``; ``validation_data=(X_val, y_val)`` is optional."""
        if self.variant not in VARIANTS:
            raise ValueError(f"variant={self.variant!r}: expected one of {VARIANTS}")
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"y: expected {len(X)} labels (one per photo), got {len(y)}")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2 or not np.array_equal(self.classes_, np.arange(len(self.classes_))):
            raise ValueError(f"y: expected class indices 0..K-1 with K >= 2, got {self.classes_}")
        keras.utils.set_random_seed(self.random_state)
        encoder = None
        if self.face_encoder is not None:              # train a copy; the caller's stays as it is
            encoder = keras.models.clone_model(self.face_encoder)
            encoder.set_weights(self.face_encoder.get_weights())
        self.model_ = build_attention_model(
            self.variant, max_faces=self.max_faces, face_size=self.face_size,
            image_size=tuple(self.image_size), num_classes=len(self.classes_), face_dim=self.face_dim,
            hidden=self.hidden, dropout=self.dropout, filters=tuple(self.filters),
            face_encoder=encoder, global_backbone=self.global_backbone)
        self.model_.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                            loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                            jit_compile=False)   # XLA compiles for minutes on CPU and saves little
        val = None
        if validation_data is not None:
            val = (self.inputs(validation_data[0]), np.asarray(validation_data[1]))
        self.history_ = self.model_.fit(self.inputs(X), y, epochs=self.epochs,
                                        batch_size=self.batch_size, validation_data=val,
                                        shuffle=True, verbose=self.verbose).history
        # one model for both outputs, so predicting and reading the weights trace one function
        self.outputs_model_ = keras.Model(self.model_.inputs, [self.model_.output,
                                          self.model_.get_layer("face_attention").output[1]])
        return self

    def predict_proba(self, X) -> np.ndarray:
        probs, _ = predict_batches(self.outputs_model_, self.inputs(X), batch_size=128)
        return probs.astype(float)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def attention_weights(self, X) -> list[np.ndarray]:
        """Per photo, the attention weight of each of its faces (largest first, at most max_faces)."""
        scenes = as_scene_faces(X, self.faces)
        inputs = group_inputs(scenes, max_faces=self.max_faces, face_size=self.face_size,
                              image_size=tuple(self.image_size))
        _, w = predict_batches(self.outputs_model_, inputs, batch_size=128)
        return [w[i, : min(s.n_faces, self.max_faces)] for i, s in enumerate(scenes)]
