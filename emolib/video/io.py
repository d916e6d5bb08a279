"""Reading clips with OpenCV: every frame, or frames sampled at a chosen rate."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VideoReadError

__all__ = ["ClipInfo", "clip_info", "read_frames"]


@dataclass(frozen=True)
class ClipInfo:
    """What the container says about a clip (``n_frames`` may be 0 or approximate for some codecs)."""

    path: Path
    fps: float
    n_frames: int
    width: int
    height: int


def _open(path: str | os.PathLike):
    import cv2

    path = Path(path)
    if not path.is_file():
        raise VideoReadError(path, "an existing video file", got="no such file")
    if path.stat().st_size == 0:
        raise VideoReadError(path, "a video file with at least one frame", got="an empty (0-byte) file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise VideoReadError(path, "a video OpenCV can decode (e.g. MJPEG/XVID .avi, H.264 .mp4)",
                             got="a file OpenCV could not open (corrupt, or an unsupported codec)")
    return cap


def clip_info(path: str | os.PathLike) -> ClipInfo:
    """Frame rate, frame count and size from the container, without decoding the frames."""
    import cv2

    cap = _open(path)
    try:
        return ClipInfo(Path(path), float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
                        int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
                        int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        cap.release()


def read_frames(path: str | os.PathLike, *, rate: float | None = None, step: int = 1,
                max_frames: int | None = None, rgb: bool = True) -> np.ndarray:
    """Decode a clip into a ``T x H x W x 3`` uint8 array (RGB unless ``rgb=False``).

    - ``rate=None`` and ``step=1`` keep every frame;
    - ``step=k`` keeps every k-th frame (0, k, 2k, ...);
    - ``rate=r`` keeps about ``r`` frames per second of video: frame i is kept when the time
      ``i / fps`` reaches the next sampling instant ``j / r``. If the container gives no frame
      rate, every frame is kept, with a warning;
    - ``max_frames`` then thins the kept frames evenly to at most that many (first and last kept).

    Frames are read in order (seeking is unreliable in many AVI files); skipped frames are grabbed
    without decoding. Raises ``VideoReadError`` for a missing, empty, corrupt or frameless file.
    """
    import cv2

    if rate is not None and not rate > 0:
        raise ValueError(f"rate: expected a positive number of frames per second or None, got {rate}")
    if not (isinstance(step, (int, np.integer)) and step >= 1):
        raise ValueError(f"step: expected a positive integer, got {step!r}")
    if max_frames is not None and not (isinstance(max_frames, (int, np.integer)) and max_frames >= 1):
        raise ValueError(f"max_frames: expected a positive integer or None, got {max_frames!r}")
    cap = _open(path)
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if rate is not None and not (np.isfinite(fps) and fps > 0):
        warnings.warn(f"{path}: the container gives no frame rate; keeping every frame", stacklevel=2)
        rate = None
    frames, shapes = [], set()
    i, next_time = 0, 0.0
    try:
        while True:
            if not cap.grab():
                break
            if rate is not None:
                keep = i / fps + 1e-9 >= next_time
                if keep:
                    next_time += 1.0 / rate
            else:
                keep = i % step == 0
            if keep:
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    raise VideoReadError(path, "decodable frames", got=f"a frame that failed to decode at index {i}")
                if frame.ndim == 2:
                    frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
                frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if rgb else frame)
                shapes.add(frame.shape)
            i += 1
    finally:
        cap.release()
    if not frames:
        raise VideoReadError(path, "a video with at least one decodable frame", got="0 frames")
    if len(shapes) > 1:
        raise VideoReadError(path, "frames of one size", got=f"sizes {sorted(shapes)}")
    if max_frames is not None and len(frames) > max_frames:
        idx = np.unique(np.round(np.linspace(0, len(frames) - 1, max_frames)).astype(int))
        frames = [frames[k] for k in idx]
    return np.stack(frames)
