"""Photo in, emotions out: the one analysis that the command line and the web demo share.

:func:`analyze_image` detects the faces (``emolib.faces.detect``), classifies each crop with a
face-emotion model (default: :func:`emolib.models.pretrained.load_default_model`) and derives the
group's mood. It returns the JSON-ready dict both front ends print::

    {"image": PATH, "faces": [{"box": [x, y, w, h], "emotion": NAME, "probabilities": {NAME: p}}],
     "group": {"label": "Positive"|"Neutral"|"Negative", "confidence": p}}

When no face is found, ``faces`` is empty, ``message`` says ``"no face found"`` and ``group`` is
None: no emotion is invented for a photo without a face. Only when asked (``whole_image=True``,
``--whole-image``) is the whole image classified as if it were a face: ``fallback`` then holds that
emotion (box = the whole image) and the group label comes from it.

**Scaling**: faces are searched on the photo scaled by ``min(1, 40 / min_face)`` (so a face of
``min_face`` pixels, default 40, is still 40 px for the detector), shrunk further only when the
photo would exceed ``max_detect_pixels`` (default 16 megapixels) at that scale. Boxes are mapped
back, and each face is cropped from the full-resolution photo. Detections smaller than
``min_face`` or scoring below ``min_confidence`` (per detector, :data:`MIN_CONFIDENCE`) are dropped.

**Group rule** (:func:`group_from_probabilities`): average the faces' probability vectors, then
sum them into three moods: Positive = happy; Negative = angry + disgust + fear + sad (+ contempt
for FER+ models); Neutral = neutral + surprise. Surprise goes to Neutral because its valence is
ambiguous: it sits near zero valence, high arousal on Russell's circumplex, and a surprised face
is as often delighted as alarmed, so letting it tip the group either way would be a guess. The
label is the largest of the three sums and its confidence is that sum. A trained group model
(``group_model``, e.g. the AMD pipeline of ``emolib.group``) can replace the rule.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from emolib.data.classes import GROUP_CLASSES

__all__ = ["GROUP_CLASSES", "find_faces", "EMOTION_TO_GROUP", "DEFAULT_DETECTOR", "MIN_FACE", "DETECT_FACE_PX",
           "MAX_DETECT_PIXELS", "MIN_CONFIDENCE", "detection_scale", "analyze_image", "crop_face",
           "group_from_probabilities", "group_model_from_file", "format_text"]

EMOTION_TO_GROUP = {
    "happy": "Positive", "happiness": "Positive",
    "neutral": "Neutral", "surprise": "Neutral",
    "angry": "Negative", "anger": "Negative", "disgust": "Negative", "fear": "Negative",
    "sad": "Negative", "sadness": "Negative", "contempt": "Negative",
}
DEFAULT_DETECTOR = "mtcnn"
"""Chosen by recall and precision on real photos (``benchmarks/face_detection.py``, results in
``face_detection.json``): through :func:`find_faces`, MTCNN found every face of a six-person table
scene and five portraits, also with the group shrunk into a 12-Mpx frame, with no false box; Haar
missed a third of them and boxed a hand, HOG missed one small face. MTCNN costs a few seconds to
load once, then a fraction of a second for a photo of about one megapixel on two CPU cores."""
MIN_FACE = 40
"""Smallest face side, in pixels of the original photo, that is searched and reported."""
DETECT_FACE_PX = 40
"""The side a ``MIN_FACE`` face keeps at the detection scale (detectors search from 20-40 px)."""
MAX_DETECT_PIXELS = 16_000_000
"""The detection image is shrunk below this (haar takes ~2 s for 16 Mpx on one CPU core)."""
MIN_CONFIDENCE = {"haar": 1.0, "hog": 0.3, "mtcnn": 0.9}
"""Default score cut per detector. On skimage's sample photos the astronaut's face scores 4.9-5.8
(haar), 1.16 (hog) and > 0.99 (mtcnn); haar's weakest false positives on coins and textures score
below 1 and hog's false positive on the astronaut 0.12."""
_WINDOW = {"haar": 24, "hog": 40, "mtcnn": 20}   # smallest face each detector finds, detection px


def detection_scale(height: int, width: int, min_face: int = MIN_FACE,
                    max_detect_pixels: int = MAX_DETECT_PIXELS) -> float:
    """The factor a ``height x width`` photo is resized by for detection (see the module docstring)."""
    return min(1.0, DETECT_FACE_PX / min_face, (max_detect_pixels / (height * width)) ** 0.5)


def smallest_face(scale: float, detector: str, min_face: int = MIN_FACE) -> int:
    """About the smallest face (original pixels) found at detection ``scale``."""
    return max(min_face, int(np.ceil(_WINDOW[detector] / scale)))


def crop_face(rgb: np.ndarray, box, margin: float = 0.1) -> np.ndarray:
    """The face crop a classifier sees: ``box`` made square, widened by ``margin`` of its side on
    each side (the fer package widens by 10 px around ~100 px faces), clipped to the image."""
    x, y, w, h = (int(v) for v in box)
    side = max(w, h)
    cx, cy = x + w / 2, y + h / 2
    half = side * (0.5 + margin)
    img_h, img_w = rgb.shape[:2]
    x0, y0 = max(0, int(round(cx - half))), max(0, int(round(cy - half)))
    x1, y1 = min(img_w, int(round(cx + half))), min(img_h, int(round(cy + half)))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box={tuple(box)}: expected a box inside the {img_w} x {img_h} image")
    return rgb[y0:y1, x0:x1]


def group_from_probabilities(proba, classes) -> tuple[str, float, dict[str, float]]:
    """The group label, its confidence and the three mood scores from N x C face probabilities.

    The faces' probabilities are averaged and summed per mood by :data:`EMOTION_TO_GROUP` (see the
    module docstring for the rule and why surprise counts as Neutral).
    """
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[0] == 0 or proba.shape[1] != len(classes):
        raise ValueError(f"proba: expected a non-empty N x {len(classes)} array, got shape {proba.shape}")
    unknown = [c for c in classes if c not in EMOTION_TO_GROUP]
    if unknown:
        raise ValueError(f"classes: no group mood is defined for {unknown}; "
                         f"known emotion names are {sorted(EMOTION_TO_GROUP)}")
    mean = proba.mean(axis=0)
    scores = {g: 0.0 for g in GROUP_CLASSES}
    for name, p in zip(classes, mean):
        scores[EMOTION_TO_GROUP[name]] += float(p)
    label = max(GROUP_CLASSES, key=lambda g: scores[g])   # ties: Positive, Neutral, Negative order
    return label, scores[label], scores


def _face_entry(box, proba_row, classes) -> dict:
    return {
        "box": [int(v) for v in box],
        "emotion": classes[int(np.argmax(proba_row))],
        "probabilities": {c: round(float(p), 4) for c, p in zip(classes, proba_row)},
    }


def find_faces(rgb: np.ndarray, detector: str = DEFAULT_DETECTOR, *, min_face: int = MIN_FACE,
               min_confidence: float | None = None, max_detect_pixels: int = MAX_DETECT_PIXELS):
    """The product's face finder: ``(faces, detection scale)`` for an RGB photo, with the scaling,
    minimum size and confidence cut described in the module docstring."""
    from emolib import faces as face_lib

    if detector not in face_lib.METHODS:
        raise ValueError(f"detector={detector!r}: expected one of {face_lib.METHODS}")
    for name, value in (("min_face", min_face), ("max_detect_pixels", max_detect_pixels)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}={value!r}: expected a whole number >= 1")
    if min_confidence is None:
        min_confidence = MIN_CONFIDENCE[detector]
    height, width = rgb.shape[:2]
    scale = detection_scale(height, width, min_face, max_detect_pixels)
    found = face_lib.detect(rgb, detector, upscale=scale, min_size=min_face,
                            min_confidence=min_confidence, max_pixels=max(height * width, 1))
    return found, scale


def analyze_image(image, model=None, detector: str = DEFAULT_DETECTOR, *, source=None,
                  max_pixels: int | None = None, min_face: int = MIN_FACE,
                  min_confidence: float | None = None, max_detect_pixels: int = MAX_DETECT_PIXELS,
                  whole_image: bool = False, group_model=None) -> dict:
    """Detect, classify and summarise the faces of one photo.

    Args:
        image: a path, encoded bytes, PIL image or array (anything ``emolib.faces.load_image``
            takes).
        model: an object with ``predict_proba(faces)`` and ``classes`` (default: the project's
            default model).
        detector: ``"haar"``, ``"hog"`` or ``"mtcnn"``.
        source: the name reported as ``"image"`` (default: the path, or ``"<array>"``).
        max_pixels: refuse larger images before decoding (default: ``emolib.faces.MAX_PIXELS``).
        min_face: smallest face side searched, in pixels of the photo (an integer >= 1).
        min_confidence: drop detections scoring below this (default: :data:`MIN_CONFIDENCE`).
        max_detect_pixels: largest detection image, in pixels (see the module docstring).
        whole_image: when no face is found, classify the whole image as one face (``fallback``).
        group_model: optional callable ``f(rgb) -> {"label": NAME, "probabilities": {NAME: p}}``
            (e.g. :func:`group_model_from_file`) that replaces the averaging rule for the group
            label; the group confidence is then the probability of its label.

    Returns:
        The JSON-ready result dict described in the module docstring.

    Raises:
        emolib.errors.ImageReadError: the image cannot be read, or is too large.
        ValueError: a bad ``detector``, ``min_face``, ``min_confidence`` or ``max_detect_pixels``.
    """
    from emolib import faces as face_lib

    if detector not in face_lib.METHODS:
        raise ValueError(f"detector={detector!r}: expected one of {face_lib.METHODS}")
    if model is None:
        from emolib.models.pretrained import load_default_model

        model = load_default_model()
    if source is None:
        source = str(image) if isinstance(image, (str, Path)) else "<array>"
    kwargs = {} if max_pixels is None else {"max_pixels": max_pixels}
    rgb = face_lib.load_image(image, **kwargs)
    height, width = rgb.shape[:2]
    found, scale = find_faces(rgb, detector, min_face=min_face, min_confidence=min_confidence,
                              max_detect_pixels=max_detect_pixels)
    classes = tuple(model.classes)
    result: dict = {"image": str(source), "faces": []}
    proba = None
    if found:
        boxes = [f.box for f in found]
        proba = model.predict_proba([crop_face(rgb, b) for b in boxes])   # full-resolution crops
        result["faces"] = [_face_entry(b, p, classes) for b, p in zip(boxes, proba)]
    else:
        result["message"] = "no face found"
        result["smallest_face_searched"] = smallest_face(scale, detector, min_face)
        if whole_image:
            proba = model.predict_proba([rgb])
            result["fallback"] = _face_entry((0, 0, width, height), proba[0], classes)
    if group_model is not None:
        answer = group_model(rgb)
        label = str(answer["label"])
        result["group"] = {"label": label, "confidence": round(float(answer["probabilities"][label]), 4)}
    elif proba is not None:
        label, confidence, _ = group_from_probabilities(proba, classes)
        result["group"] = {"label": label, "confidence": round(confidence, 4)}
    else:
        result["group"] = None
    return result


def group_model_from_file(path, detector: str = DEFAULT_DETECTOR):
    """A trained group pipeline (``emolib.group.GroupEmotionPipeline`` saved with
    ``joblib.dump``) as a ``group_model`` callable for :func:`analyze_image`.

    Only load files you made or trust: unpickling runs code.
    """
    import joblib

    from emolib.errors import WeightsError

    path = Path(path)
    if not path.is_file():
        raise WeightsError(path, "no such group-model file (expected a joblib dump of a trained "
                                 "emolib.group.GroupEmotionPipeline)")
    try:
        pipeline = joblib.load(path)
    except Exception as exc:
        raise WeightsError(path, f"cannot load it with joblib ({exc})") from exc

    def predict(rgb):
        from emolib.group.pipeline import predict_photo

        return predict_photo(rgb, pipeline, method=detector)

    return predict


def format_text(result: dict) -> str:
    """A human-readable summary of one :func:`analyze_image` result."""
    lines = [f"{result['image']}:"]
    if "error" in result:
        return f"{result['image']}: error: {result['error']}"
    for i, face in enumerate(result["faces"], 1):
        p = face["probabilities"][face["emotion"]]
        x, y, w, h = face["box"]
        lines.append(f"  face {i} at x={x} y={y} w={w} h={h}: {face['emotion']} ({p:.2f})")
    if not result["faces"]:
        line = f"  {result.get('message', 'no face found')}"
        if result.get("smallest_face_searched"):
            line += f" (faces of at least {result['smallest_face_searched']} px were searched)"
        fb = result.get("fallback")
        if fb:
            line += (f"; whole-image fallback: {fb['emotion']} "
                     f"({fb['probabilities'][fb['emotion']]:.2f})")
        lines.append(line)
    g = result["group"]
    lines.append(f"  group mood: {g['label']} ({g['confidence']:.2f})" if g else "  group mood: none (no face)")
    return "\n".join(lines)
