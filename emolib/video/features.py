"""Frame features from any backbone, and NTechLab's augmentation averaging.

A *backbone* is anything that turns a batch of RGB uint8 face crops into an ``N x D`` array:
an :class:`emolib.features.descriptors.DescriptorExtractor` (or any object with ``transform``),
a ``keras.Model`` (optionally cut at ``layer``), or a plain callable. :func:`as_backbone` wraps all
three; :func:`hog_backbone` is a network-free baseline.

NTechLab averages each frame's features over 18 flip/rotate/scale transformations of the frame
(``frame_transforms()``: 2 flips x 3 angles x 3 scales).
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .faces import clip_faces
from .io import read_frames

__all__ = ["FrameTransform", "frame_transforms", "as_backbone", "KerasBackbone", "hog_backbone",
           "clip_features", "augmented_clip_features", "ClipFaceSet", "load_clip_faces"]


@dataclass(frozen=True)
class FrameTransform:
    """Horizontal flip, then rotation by ``angle`` degrees and scaling by ``scale`` about the centre."""

    flip: bool = False
    angle: float = 0.0
    scale: float = 1.0

    @property
    def is_identity(self) -> bool:
        return not self.flip and self.angle == 0 and self.scale == 1

    def __call__(self, images: np.ndarray) -> np.ndarray:
        import cv2

        images = np.asarray(images)
        if self.is_identity:
            return images
        out = images[:, :, ::-1] if self.flip else images
        if self.angle == 0 and self.scale == 1:
            return np.ascontiguousarray(out)
        h, w = images.shape[1:3]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), self.angle, self.scale)
        return np.stack([cv2.warpAffine(np.ascontiguousarray(im), m, (w, h), flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REFLECT_101) for im in out])


def frame_transforms(flips: Sequence[bool] = (False, True), angles: Sequence[float] = (-10.0, 0.0, 10.0),
                     scales: Sequence[float] = (0.9, 1.0, 1.1)) -> list[FrameTransform]:
    """Every combination of ``flips x angles x scales``; the default gives NTechLab's 18 transforms.

    The identity (no flip, angle 0, scale 1) comes first when it is among them.
    """
    out = [FrameTransform(bool(f), float(a), float(s)) for f, a, s in itertools.product(flips, angles, scales)]
    if not out:
        raise ValueError("frame_transforms: expected at least one flip, angle and scale")
    return sorted(out, key=lambda t: not t.is_identity)


class KerasBackbone:
    """Features of a ``keras.Model`` at ``layer`` (default: its output) for RGB uint8 images.

    Images are resized to the model's input size and turned grey when it takes one channel;
    ``preprocess`` maps the float32 0-255 batch to the model's input range (default: unchanged).
    4-D outputs are average-pooled over space (``pooling="avg"``) or flattened (``"flatten"``).
    """

    def __init__(self, model, layer: str | None = None, preprocess: Callable | None = None,
                 pooling: str = "avg", batch_size: int = 256):
        if pooling not in ("avg", "flatten"):
            raise ValueError(f"pooling: expected 'avg' or 'flatten', got {pooling!r}")
        import keras

        if len(model.inputs) != 1:
            raise ValueError(f"model: expected a single-input model, got {len(model.inputs)} inputs")
        names = [l.name for l in model.layers]
        if layer is not None and layer not in names:
            raise ValueError(f"layer {layer!r} is not in the model; its last layers are {names[-5:]}")
        # a single input tensor (Keras 2 HDF5 models declare a one-element input list)
        output = model.get_layer(layer).output if layer is not None else model.outputs[0]
        model = keras.Model(model.inputs[0], output)
        shape = model.input_shape
        self.model, self.preprocess, self.pooling, self.batch_size = model, preprocess, pooling, batch_size
        self.input_hw = (shape[1], shape[2])
        self.channels = shape[3]

    def __call__(self, images) -> np.ndarray:
        from ..faces.batch import to_batch
        from ..models.predict import predict_batches

        images = np.asarray(images)
        size = self.input_hw if None not in self.input_hw else images.shape[1:3]
        x = to_batch(images, size, self.channels)
        if self.preprocess is not None:
            x = self.preprocess(x)
        out = predict_batches(self.model, x, batch_size=self.batch_size, compiled=True)
        if out.ndim == 4:
            out = out.mean(axis=(1, 2)) if self.pooling == "avg" else out.reshape(len(out), -1)
        return np.asarray(out, np.float32).reshape(len(out), -1)


def as_backbone(backbone, **keras_options) -> Callable[[np.ndarray], np.ndarray]:
    """A callable ``images (N x H x W x 3 uint8) -> N x D`` from a transformer, keras model or callable."""
    if hasattr(backbone, "transform") and not hasattr(backbone, "layers"):
        return lambda images: np.asarray(backbone.transform(np.asarray(images)), np.float32)
    if hasattr(backbone, "predict") and hasattr(backbone, "layers"):
        return KerasBackbone(backbone, **keras_options)
    if callable(backbone):
        return backbone
    raise TypeError(f"backbone: expected an object with transform(), a keras.Model or a callable, "
                    f"got {type(backbone).__name__}")


def hog_backbone(size: int = 48, cell: int = 8, bins: int = 9) -> Callable[[np.ndarray], np.ndarray]:
    """Histogram-of-oriented-gradients features of grey ``size x size`` crops (OpenCV), no network.

    With the defaults: 5 x 5 blocks of 2 x 2 cells of 9 bins = 900 values per image.
    """
    import cv2

    if size % cell or size < 2 * cell:
        raise ValueError(f"size: expected a multiple of cell={cell} and at least {2 * cell}, got {size}")
    hog = cv2.HOGDescriptor((size, size), (2 * cell, 2 * cell), (cell, cell), (cell, cell), bins)

    def features(images) -> np.ndarray:
        from ..faces.batch import to_batch

        grey = np.rint(to_batch(np.asarray(images), size, 1)[..., 0]).astype(np.uint8)
        return np.stack([hog.compute(g).ravel() for g in grey]).astype(np.float32)

    return features


def _run(fn, images: np.ndarray) -> np.ndarray:
    out = np.asarray(fn(images), np.float32)
    if out.ndim != 2 or len(out) != len(images):
        raise ValueError(f"backbone: expected an N x D array for {len(images)} images, got shape {out.shape}")
    return out


def _split(features: np.ndarray, lengths: Sequence[int]) -> list[np.ndarray]:
    return np.split(features, np.cumsum(lengths)[:-1])


def _stack_clips(clips) -> tuple[np.ndarray, list[int]]:
    clips = [np.asarray(c) for c in clips]
    if not clips or any(c.ndim != 4 or len(c) == 0 for c in clips):
        raise ValueError("clips: expected a non-empty list of T x H x W x 3 crop arrays with T >= 1")
    return np.concatenate(clips), [len(c) for c in clips]


def clip_features(clips, backbone, *, transforms: Sequence[FrameTransform] | None = None,
                  **keras_options) -> list[np.ndarray]:
    """Frame features of each clip (a list of ``T_i x H x W x 3`` crops) -> list of ``T_i x D``.

    All frames go through the backbone in one batch. With ``transforms``, each frame's features
    are the mean over the transformed copies (augmentation averaging).
    """
    return augmented_clip_features(clips, backbone, transforms=transforms or [FrameTransform()],
                                   **keras_options)[1]


def augmented_clip_features(clips, backbone, *, transforms: Sequence[FrameTransform] | None = None,
                            **keras_options) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Both the plain and the augmentation-averaged frame features, sharing the identity pass.

    ``transforms`` defaults to NTechLab's 18 (``frame_transforms()``). Returns ``(plain, averaged)``,
    each a list of ``T_i x D`` arrays.
    """
    fn = as_backbone(backbone, **keras_options)
    transforms = list(transforms) if transforms is not None else frame_transforms()
    images, lengths = _stack_clips(clips)
    plain = _run(fn, images)
    total = plain.astype(np.float64) * sum(t.is_identity for t in transforms)
    for t in transforms:
        if not t.is_identity:
            total = total + _run(fn, t(images))
    averaged = (total / len(transforms)).astype(np.float32)
    return _split(plain, lengths), _split(averaged, lengths)


@dataclass(frozen=True)
class ClipFaceSet:
    """Face crops of many clips: ``crops[i]`` is ``T_i x S x S x 3``; ``n_missing[i]`` frames had
    no face (whole-frame fallback); ``n_frames[i] = T_i``."""

    crops: list
    n_missing: np.ndarray
    n_frames: np.ndarray


def load_clip_faces(paths: Sequence[str | os.PathLike], *, rate: float | None = None, step: int = 1,
                    max_frames: int | None = None, detector="centre", size: int = 64,
                    progress: bool = False, **face_options) -> ClipFaceSet:
    """Read each clip (:func:`read_frames`) and crop a face per frame (:func:`clip_faces`)."""
    from tqdm.auto import tqdm

    crops, missing, counts = [], [], []
    for path in tqdm(list(paths), desc="clips", disable=not progress):
        frames = read_frames(path, rate=rate, step=step, max_frames=max_frames)
        faces = clip_faces(frames, detector=detector, size=size, **face_options)
        crops.append(faces.crops)
        missing.append(faces.n_missing)
        counts.append(len(faces))
    return ClipFaceSet(crops, np.array(missing, np.int64), np.array(counts, np.int64))
