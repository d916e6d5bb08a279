"""emolib: facial emotion recognition by transfer learning from face-recognition networks.

The package behind the emolib book. Submodules follow the pipeline:
``data`` -> ``faces`` -> ``models`` -> ``features`` -> ``ensemble`` -> ``group`` / ``video`` -> ``serve``.
Heavy submodules (TensorFlow, dlib) are imported only when used.
"""
__version__ = "0.1.0"

FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
