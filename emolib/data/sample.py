"""Embedded sample data: procedural faces, annotator votes, group scenes and video clips.

Everything here is drawn, not recorded, so the ``sample`` profile runs offline and fast while
exercising the same code as the real datasets. All of it is deterministic given ``seed``.
The faces are cartoons: numbers measured on them show that code runs and learns, never how
well a method recognises real emotions.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classes import AFEW_CLASSES, FER2013_CLASSES, GROUP_CLASSES
from .dataset import FaceDataset

__all__ = ["render_face", "sample_faces", "sample_votes", "GroupScene", "sample_group_scenes", "crowd_scene",
           "GROUP_CLASSES", "AFEW_CLASSES", "write_sample_clips", "FER2013_TRAIN_FRACTIONS"]

# FER2013 Training class shares (Goodfellow et al. 2013): angry .. neutral.
_TRAIN_COUNTS = np.array([3995, 436, 4097, 7215, 4830, 3171, 4965])
FER2013_TRAIN_FRACTIONS = _TRAIN_COUNTS / _TRAIN_COUNTS.sum()

# Expression parameters per FER2013 class: brow height, brow tilt (inner end up > 0), eye opening,
# mouth curve (smile > 0), mouth opening, mouth width, asymmetry (one-sided lip raise).
_PARAMS = np.array([
    [-0.5, -1.0, 0.65, -0.3, 0.10, 0.80, 0.0],   # angry
    [-0.3, -0.5, 0.55, -0.6, 0.15, 0.90, 1.0],   # disgust
    [0.8, 0.9, 1.50, -0.3, 0.55, 1.25, 0.0],     # fear
    [0.1, 0.0, 0.70, 1.00, 0.35, 1.30, 0.0],     # happy
    [0.2, 1.0, 0.75, -0.9, 0.00, 0.90, 0.0],     # sad
    [1.0, 0.2, 1.60, 0.00, 1.00, 0.75, 0.0],     # surprise
    [0.0, 0.0, 1.00, 0.00, 0.00, 1.00, 0.0],     # neutral
])
_NEUTRAL = 6


def _expression(label: int, intensity: float, rng: np.random.Generator, jitter: float) -> np.ndarray:
    p = _PARAMS[_NEUTRAL] + intensity * (_PARAMS[label] - _PARAMS[_NEUTRAL])
    return p + rng.normal(0, jitter, p.shape) * np.array([0.3, 0.3, 0.2, 0.25, 0.15, 0.1, 0.3])


def render_face(label: int, *, rng: np.random.Generator | int | None = 0, size: int = 48,
                intensity: float = 1.0, rgb: bool = False, pose: bool = True, jitter: float = 1.0,
                identity: np.ndarray | None = None, angle: float | None = None) -> np.ndarray:
    """Draw one cartoon face showing FER2013 class ``label`` at ``intensity`` (0 = neutral).

    Returns ``size x size`` uint8 grey, or ``size x size x 3`` RGB when ``rgb``. ``pose`` adds
    rotation, scale, shift, lighting and noise; ``identity`` (6 numbers) fixes the person.
    """
    import cv2

    rng = np.random.default_rng(rng)
    S = 96  # draw large, then resample
    ident = rng.normal(0, 1, 6) if identity is None else np.asarray(identity)
    brow_h, brow_tilt, eye_open, curve, mouth_open, mouth_w, asym = _expression(label, intensity, rng, jitter)
    skin = float(np.clip(165 + 25 * ident[0], 90, 230))
    bg = float(np.clip(skin + rng.choice([-1, 1]) * rng.uniform(50, 110), 0, 255))
    img = np.full((S, S), bg, np.float32)
    cx, cy = S / 2, S / 2 + 4
    fw, fh = 30 + 2 * ident[1], 38 + 2 * ident[2]  # face half-width, half-height
    cv2.ellipse(img, (int(cx), int(cy)), (int(fw), int(fh)), 0, 0, 360, skin, -1, cv2.LINE_AA)
    hair = float(np.clip(skin - 90 + 30 * ident[3], 0, 255))
    cv2.ellipse(img, (int(cx), int(cy - fh * 0.55)), (int(fw + 2), int(fh * 0.5)), 0, 180, 360, hair, -1,
                cv2.LINE_AA)
    dark = max(skin - 120, 10)
    eye_dx, eye_y = 12 + ident[4], cy - 8
    for side in (-1, 1):
        ex = cx + side * eye_dx
        h = max(0.6, 3.2 * eye_open)
        cv2.ellipse(img, (int(ex), int(eye_y)), (5, int(round(h))), 0, 0, 360, 245, -1, cv2.LINE_AA)
        cv2.circle(img, (int(ex), int(eye_y)), max(1, int(min(h, 2.5))), dark, -1, cv2.LINE_AA)
        by = eye_y - 8 - 4 * brow_h
        inner, outer = (ex - side * 6, by - 3 * brow_tilt), (ex + side * 6, by + 1.5 * brow_tilt)
        cv2.line(img, tuple(map(int, inner)), tuple(map(int, outer)), hair * 0.6, 2, cv2.LINE_AA)
    cv2.line(img, (int(cx), int(eye_y + 4)), (int(cx - 2), int(cy + 8)), skin - 40, 1, cv2.LINE_AA)
    my, half = cy + 19, 10 * mouth_w
    xs = np.linspace(-half, half, 21)
    lift = asym * 4 * (xs > 0) * (xs / half)
    upper = my - curve * 5 * ((xs / half) ** 2 - 0.5) - lift   # smile: corners up
    lower = upper + mouth_open * 9 * (1 - (xs / half) ** 2)
    pts = np.concatenate([np.stack([cx + xs, upper], 1), np.stack([cx + xs, lower], 1)[::-1]])
    if mouth_open > 0.08:
        cv2.fillPoly(img, [np.round(pts).astype(np.int32)], dark, cv2.LINE_AA)
    else:
        cv2.polylines(img, [np.round(np.stack([cx + xs, upper], 1)).astype(np.int32)], False, dark, 2,
                      cv2.LINE_AA)
    if pose:
        ang = rng.uniform(-15, 15) if angle is None else angle
        scale = rng.uniform(0.85, 1.15)
        m = cv2.getRotationMatrix2D((S / 2, S / 2), ang, scale)
        m[:, 2] += rng.uniform(-5, 5, 2)
        img = cv2.warpAffine(img, m, (S, S), borderMode=cv2.BORDER_REPLICATE)
        gx, gy = rng.normal(0, 0.4, 2)
        yy, xx = np.mgrid[-1:1:S * 1j, -1:1:S * 1j]
        img = img * (1 + 0.25 * (gx * xx + gy * yy)) + rng.normal(0, 6, img.shape)
    elif angle is not None:
        m = cv2.getRotationMatrix2D((S / 2, S / 2), angle, 1.0)
        img = cv2.warpAffine(img, m, (S, S), borderMode=cv2.BORDER_REPLICATE)
    img = cv2.resize(np.clip(img, 0, 255), (size, size), interpolation=cv2.INTER_AREA)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if not rgb:
        return img
    tone = np.array([1.0, 0.82, 0.68]) * (0.9 + 0.1 * np.tanh(ident[5]))
    return np.clip(img[..., None] * tone, 0, 255).astype(np.uint8)


def _split_usage(n: int, rng: np.random.Generator) -> np.ndarray:
    usage = np.array(["Training"] * n, dtype="U11")
    order = rng.permutation(n)
    usage[order[: n // 10]] = "PublicTest"
    usage[order[n // 10: n // 5]] = "PrivateTest"
    return usage


def sample_faces(n: int = 1400, *, seed: int = 0, balanced: bool = False, size: int = 48,
                 non_faces: int = 0) -> FaceDataset:
    """``n`` procedural 48x48 grey faces over the 7 FER2013 classes, split 80/10/10.

    Class shares follow FER2013's Training imbalance unless ``balanced``. ``non_faces`` images
    are textures instead of faces (their label is random), for cleaning demonstrations; their
    indices are in ``dataset.source`` order at the end.
    """
    if n < 7:
        raise ValueError(f"n={n}: expected at least 7 faces (one per class)")
    rng = np.random.default_rng(seed)
    probs = np.full(7, 1 / 7) if balanced else FER2013_TRAIN_FRACTIONS
    labels = np.concatenate([np.arange(7), rng.choice(7, n - 7, p=probs)])
    labels = labels[rng.permutation(n)]
    seeds = rng.integers(0, 2**31, n)
    images = np.stack([render_face(int(c), rng=int(s), size=size) for c, s in zip(labels, seeds)])
    for i in range(n - non_faces, n):
        images[i] = _non_face(np.random.default_rng(int(seeds[i])), size)
    return FaceDataset(images, labels.astype(np.int64), _split_usage(n, rng), FER2013_CLASSES,
                       f"sample:faces(n={n}, seed={seed})")


def _non_face(rng: np.random.Generator, size: int) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:                                      # blank
        return np.full((size, size), rng.integers(0, 256), np.uint8)
    if kind == 1:                                      # noise
        return rng.integers(0, 256, (size, size)).astype(np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]                  # stripes, like text or a logo
    return (127 + 120 * np.sin(xx / rng.uniform(1.5, 4) + yy / rng.uniform(3, 9))).astype(np.uint8)


# FER2013 class -> FER+ column (neutral, happiness, surprise, sadness, anger, disgust, fear, contempt).
_FER_TO_PLUS = np.array([4, 5, 6, 1, 3, 2, 0])
_CONFUSIONS = {4: [5, 3, 7], 5: [4, 7, 3], 6: [2, 3, 0], 1: [0, 2], 3: [0, 6], 2: [6, 1], 0: [3, 1, 7],
               7: [4, 5, 0]}


def sample_votes(labels, *, seed: int = 0, agreement: float = 0.7, ambiguous: float = 0.3,
                 n_annotators: int = 10, not_face=None) -> np.ndarray:
    """Simulated FER+ votes (N x 10) for FER2013 ``labels``.

    Most annotators agree, the rest confuse the expression with its neighbours (anger/disgust,
    fear/surprise, sadness/neutral) and a few say 'unknown'. For an ``ambiguous`` share of the
    rows the crowd sees a neighbouring expression instead of the FER2013 label, which is how
    FER+ comes to disagree with FER2013 on about a third of the real images. Rows flagged in
    ``not_face`` get mostly 'NF' votes.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    votes = np.zeros((len(labels), 10), np.int64)
    for i, c in enumerate(labels):
        true = _FER_TO_PLUS[c]
        if rng.random() < ambiguous:
            true = int(rng.choice(_CONFUSIONS[true]))
        a = np.clip(rng.normal(agreement, 0.15), 0.3, 1.0)
        p = np.full(10, 0.0)
        p[true] = a
        conf = _CONFUSIONS[true]
        p[conf] += (1 - a) * 0.85 / len(conf)
        p[8] += (1 - a) * 0.15
        votes[i] = rng.multinomial(n_annotators, p / p.sum())
    if not_face is not None:
        for i in np.flatnonzero(np.asarray(not_face)):
            votes[i] = rng.multinomial(n_annotators, [0.02] * 8 + [0.06, 0.78])
    return votes


@dataclass(frozen=True)
class GroupScene:
    """A group photo: RGB image, face boxes (x, y, w, h), each face's FER2013 class, scene label."""

    image: np.ndarray
    boxes: np.ndarray
    face_labels: np.ndarray
    label: int

    @property
    def label_name(self) -> str:
        return GROUP_CLASSES[self.label]


_GROUP_FACES = {0: ([3, 5], [0.8, 0.2]), 1: ([6], [1.0]), 2: ([0, 1, 2, 4], [0.3, 0.1, 0.2, 0.4])}


def sample_group_scenes(n: int = 120, *, seed: int = 0, size: tuple[int, int] = (192, 288),
                        max_faces: int = 6, face_noise: float = 0.25, no_face_rate: float = 0.05
                        ) -> list[GroupScene]:
    """``n`` group scenes labelled Positive / Neutral / Negative with known face boxes.

    Each face shows an expression drawn from its scene's mood; ``face_noise`` of the faces show
    a random expression instead. ``no_face_rate`` of the scenes have no face at all (the
    whole-image fallback's case). The background tint carries a weak hint of the mood, as real
    scenes (parties, protests) do.
    """
    rng = np.random.default_rng(seed)
    H, W = size
    scenes = []
    for k in range(n):
        label = int(k % 3) if k < 3 else int(rng.integers(3))
        tint = np.array([[40, 25, 0], [0, 0, 0], [-20, -10, 25]][label]) + rng.normal(0, 30, 3)
        base = np.clip(rng.uniform(60, 190) + tint, 0, 255)
        yy, xx = np.mgrid[0:H, 0:W]
        img = base + rng.normal(0, 25) * (yy / H)[..., None] + rng.normal(0, 25) * (xx / W)[..., None]
        for _ in range(rng.integers(2, 6)):              # clutter
            x0, y0 = rng.integers(0, W - 20), rng.integers(0, H - 20)
            img[y0:y0 + rng.integers(10, 60), x0:x0 + rng.integers(10, 80)] = rng.uniform(0, 255, 3)
        n_faces = 0 if rng.random() < no_face_rate else int(rng.integers(1, max_faces + 1))
        boxes, face_labels = [], []
        for _ in range(n_faces * 20):                    # rejection sampling without overlap
            if len(boxes) == n_faces:
                break
            s = int(rng.integers(36, 64))
            x, y = int(rng.integers(0, W - s)), int(rng.integers(0, H - s))
            if any(x < bx + bw and bx < x + s and y < by + bh and by < y + s for bx, by, bw, bh in boxes):
                continue
            classes, p = _GROUP_FACES[label]
            c = int(rng.integers(7)) if rng.random() < face_noise else int(rng.choice(classes, p=p))
            face = render_face(c, rng=int(rng.integers(2**31)), size=s, rgb=True)
            img[y:y + s, x:x + s] = face
            boxes.append((x, y, s, s))
            face_labels.append(c)
        scenes.append(GroupScene(np.clip(img, 0, 255).astype(np.uint8),
                                 np.array(boxes, np.int64).reshape(-1, 4),
                                 np.array(face_labels, np.int64), label))
    return scenes


def crowd_scene(n_faces: int, *, seed: int = 0, label: int = 0, face_size: int = 40) -> GroupScene:
    """A scene of exactly ``n_faces`` faces on a grid, any number (``sample_group_scenes`` caps
    faces at ``max_faces``): for crowds larger than a model's face limit, and for no face at all."""
    rng = np.random.default_rng(seed)
    cell = face_size + 4
    cols = max(1, int(np.ceil(np.sqrt(n_faces * 1.5))))
    rows = max(1, int(np.ceil(n_faces / cols)))
    img = np.full((rows * cell + 4, cols * cell + 4, 3), 120, np.uint8)
    boxes, face_labels = [], []
    for k in range(n_faces):
        y, x = 4 + cell * (k // cols), 4 + cell * (k % cols)
        c = int(rng.integers(7))
        img[y:y + face_size, x:x + face_size] = render_face(c, rng=int(rng.integers(2**31)),
                                                            size=face_size, rgb=True)
        boxes.append((x, y, face_size, face_size))
        face_labels.append(c)
    return GroupScene(img, np.array(boxes, np.int64).reshape(-1, 4), np.array(face_labels, np.int64), label)


# FER2013 class index of each AFEW class name.
_AFEW_TO_FER = {"Angry": 0, "Disgust": 1, "Fear": 2, "Happy": 3, "Neutral": 6, "Sad": 4, "Surprise": 5}


def write_sample_clips(dest: str | os.PathLike, n: int = 70, *, seed: int = 0, frame_size: int = 96,
                       frames: tuple[int, int] = (8, 20), fps: int = 10, val_fraction: float = 0.3,
                       no_face_rate: float = 0.05) -> list[tuple[Path, int]]:
    """Write ``n`` short clips as MJPEG ``.avi`` files in the AFEW layout ``Train|Val/<Emotion>/``.

    Each clip shows one person whose expression grows from neutral to the clip's emotion while
    the head moves. ``no_face_rate`` of the clips show only the background (no face), to
    exercise the whole-frame fallback. Returns ``(path, class index into AFEW_CLASSES)`` pairs.
    Existing files with the same names are overwritten; nothing else in ``dest`` is touched.
    """
    import cv2

    rng = np.random.default_rng(seed)
    dest = Path(dest)
    out = []
    for k in range(n):
        cls = k % 7 if k < 7 else int(rng.integers(7))
        name = AFEW_CLASSES[cls]
        split = "Val" if rng.random() < val_fraction else "Train"
        folder = dest / split / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{k:04d}.avi"
        length = int(rng.integers(frames[0], frames[1] + 1))
        identity = rng.normal(0, 1, 6)
        bg = rng.uniform(40, 200, 3)
        empty = rng.random() < no_face_rate
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frame_size, frame_size))
        if not writer.isOpened():
            raise OSError(f"{path}: OpenCV could not open an MJPEG writer")
        face_px = int(frame_size * 0.7)
        x0, y0 = (frame_size - face_px) // 2, (frame_size - face_px) // 2
        peak = rng.uniform(0.4, 0.8) * length
        for t in range(length):
            frame = np.empty((frame_size, frame_size, 3), np.float32)
            frame[:] = bg
            if not empty:
                intensity = float(np.clip(t / max(peak, 1), 0, 1))
                face = render_face(_AFEW_TO_FER[name], rng=int(rng.integers(2**31)), size=face_px,
                                   intensity=intensity, rgb=True, identity=identity, jitter=0.5)
                dx, dy = (rng.normal(0, 2, 2)).astype(int)
                y1, x1 = max(y0 + dy, 0), max(x0 + dx, 0)
                ys, xs = slice(y1, y1 + face_px), slice(x1, x1 + face_px)
                frame[ys, xs] = face[: frame[ys, xs].shape[0], : frame[ys, xs].shape[1]]
            writer.write(cv2.cvtColor(np.clip(frame, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
        writer.release()
        out.append((path, cls))
    return out
