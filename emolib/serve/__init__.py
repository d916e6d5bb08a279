"""emolib.serve: the web demo and the analysis it shares with the command line.

- :func:`create_app` builds the Flask app: an upload page (``/``) that draws the photo with its
  face boxes, each face's emotion and the group's mood, and ``POST /api/predict`` (multipart field
  ``file``) returning the same JSON object as ``python -m emolib predict --json``.
- :func:`~emolib.serve.analysis.analyze_image` is the analysis itself.

Run it with ``python -m emolib serve`` (binds 127.0.0.1:8000 by default). Flask is imported only
when the app is built.
"""
from .analysis import (
    DEFAULT_DETECTOR,
    EMOTION_TO_GROUP,
    GROUP_CLASSES,
    analyze_image,
    crop_face,
    format_text,
    group_from_probabilities,
)

__all__ = ["create_app", "analyze_image", "crop_face", "format_text", "group_from_probabilities",
           "GROUP_CLASSES", "EMOTION_TO_GROUP", "DEFAULT_DETECTOR"]


def create_app(*args, **kwargs):
    """Build the Flask app (see :func:`emolib.serve.app.create_app` for the arguments)."""
    from .app import create_app as _create_app

    return _create_app(*args, **kwargs)
