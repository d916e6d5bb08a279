"""The EmotiW video pipeline of NTechLab (EmotiW 2017, {cite}`knyazev2017convolutional`).

clip -> frames (:func:`read_frames`) -> one face per frame, whole frame when none is found
(:func:`clip_faces`) -> frame features from a backbone, optionally averaged over flip/rotate/scale
transforms (:func:`clip_features`) -> clip descriptor (``emolib.features.aggregate``: mean, STAT,
STAT*, fft) -> rescale, rootsift, standardise -> linear SVM per feature set (:class:`LinearSVMClassifier`)
-> score average (:class:`ScoreAverage`) -> class-prior correction (:class:`PriorCorrection`).
Alongside: an LSTM over the frame sequences with frame shuffling (:class:`FrameLSTM`) and openSMILE
audio features (:func:`audio_features`, optional ``opensmile`` package).

Keras loads with the LSTM module (its batch server is a Keras class).
"""
from .audio import AUDIO_FEATURE_SET, audio_features, opensmile_available
from .classify import LinearSVMClassifier, PriorCorrection, ScoreAverage, prior_weights
from .faces import ClipFaces, clip_faces
from .features import (
    ClipFaceSet,
    FrameTransform,
    KerasBackbone,
    as_backbone,
    augmented_clip_features,
    clip_features,
    frame_transforms,
    hog_backbone,
    load_clip_faces,
)
from .io import ClipInfo, clip_info, read_frames
from .lstm import FrameLSTM, build_lstm, pad_sequences, shuffle_within

__all__ = ["read_frames", "clip_info", "ClipInfo", "clip_faces", "ClipFaces", "load_clip_faces",
           "ClipFaceSet", "FrameTransform", "frame_transforms", "as_backbone", "KerasBackbone",
           "hog_backbone", "clip_features", "augmented_clip_features", "LinearSVMClassifier",
           "ScoreAverage", "PriorCorrection", "prior_weights", "FrameLSTM", "build_lstm",
           "pad_sequences", "shuffle_within", "audio_features", "AUDIO_FEATURE_SET",
           "opensmile_available"]
