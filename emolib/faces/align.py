"""Face alignment: rotate the eyes level, then crop a square around the face with a margin.

This is the pipeline of Ramos's FER thesis {cite}`ramos2018fer` (HOG box, dlib landmarks,
rotation and a crop keeping 25 % around the box) done as one affine warp, so the pixels are interpolated once.
"""
from __future__ import annotations

import numpy as np

from .detect import Face
from .image import load_image
from .landmarks import eye_centres, landmarks68

__all__ = ["align", "alignment_matrix"]


def _eyes(rgb: np.ndarray, face: Face, points) -> tuple[np.ndarray, np.ndarray]:
    if points is not None:
        return eye_centres(points)
    if face.keypoints and {"left_eye", "right_eye"} <= set(face.keypoints):
        a, b = (np.asarray(face.keypoints[k], float) for k in ("left_eye", "right_eye"))
        return (a, b) if a[0] <= b[0] else (b, a)
    return eye_centres(landmarks68(rgb, face))


def alignment_matrix(face: Face, left_eye, right_eye, size: int, margin: float = 0.25) -> np.ndarray:
    """The 2 x 3 affine matrix that levels the eye line and maps the face's square crop to
    ``size x size`` (see :func:`align`)."""
    import cv2

    (lx, ly), (rx, ry) = np.asarray(left_eye, float), np.asarray(right_eye, float)
    angle = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
    cx, cy = face.center
    side = max(face.box[2], face.box[3]) * (1.0 + margin)
    m = cv2.getRotationMatrix2D((cx, cy), angle, size / side)
    m[:, 2] += (size / 2 - cx, size / 2 - cy)
    return m


def align(image, face: Face | tuple, size: int = 48, margin: float = 0.25, grey: bool | None = None,
          *, points=None, return_matrix: bool = False):
    """Rotate ``face`` so its eyes are level and crop it to a ``size x size`` image.

    Args:
        image: anything :func:`~emolib.faces.load_image` takes.
        face: a :class:`~emolib.faces.Face` or an (x, y, w, h) box.
        size: side of the output in pixels: 48 for FER2013-style models, 224 for VGGFace.
        margin: the square crop is ``(1 + margin)`` times the box's longer side, centred on the
            box, so the default 0.25 keeps 12.5 % of the box size beyond each edge.
        grey: return H x W grey (True) or H x W x 3 RGB (False). ``None`` chooses grey when
            ``size <= 64`` (FER-style inputs) and RGB above (VGGFace-style inputs).
        points: 68 x 2 landmarks of this face, if already computed. Otherwise the eyes come from
            the face's MTCNN keypoints when it has them, else from :func:`landmarks68`.
        return_matrix: also return the 2 x 3 affine matrix from image to output coordinates.

    Pixels outside the image repeat the border.
    """
    import cv2

    if not (isinstance(size, (int, np.integer)) and size >= 8):
        raise ValueError(f"size={size!r}: expected an integer of at least 8 pixels")
    if not (np.isfinite(margin) and -0.5 < margin <= 3):
        raise ValueError(f"margin={margin!r}: expected a number in (-0.5, 3]")
    if not isinstance(face, Face):
        face = Face(face)
    rgb = load_image(image)
    left, right = _eyes(rgb, face, points)
    m = alignment_matrix(face, left, right, int(size), margin)
    out = cv2.warpAffine(rgb, m, (int(size), int(size)), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    if grey if grey is not None else size <= 64:
        out = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
    return (out, m) if return_matrix else out
