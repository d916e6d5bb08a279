"""Faces: loading images, detection (Haar, HOG, MTCNN), 68 landmarks, alignment and non-face cleaning.

Heavy libraries (OpenCV, dlib, TensorFlow for MTCNN) load on first use, not on import.
"""
from .align import align
from .clean import FaceSignals, face_signals, find_non_faces, flag_metrics, low_variance
from .detect import METHODS, Face, detect, detect_batch, iou
from .image import MAX_PIXELS, load_image, to_grey
from .landmarks import eye_angle, eye_centres, landmark_features, landmarks68

__all__ = ["MAX_PIXELS", "load_image", "to_grey", "METHODS", "Face", "detect", "detect_batch", "iou",
           "landmarks68", "landmark_features", "eye_centres", "eye_angle", "align",
           "find_non_faces", "face_signals", "low_variance", "flag_metrics", "FaceSignals"]
