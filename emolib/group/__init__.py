"""Group-level emotion (EmotiW GAF: Positive, Neutral, Negative) from photos of several people.

Two published EmotiW systems, as scikit-learn estimators over lists of photos:

* :class:`GroupEmotionPipeline` (AMD, EmotiW 2017, {cite}`rassadin2017group`): aligned faces, deep face
  descriptors (avgpool / fc7, RGB / BGR) aggregated by median, one Random Forest per
  descriptor plus a landmark forest, a whole-image CNN that is also the no-face fallback, and an
  accuracy-weighted ensemble. :func:`predict_photo` runs a trained pipeline on any photo.
* :class:`GroupAttentionClassifier` (vlgiitr, EmotiW 2018, {cite}`vlgiitr2018group`): a global CNN and a face
  CNN trained end to end, the faces merged by attention (average, A, B or C).

Keras, dlib and OpenCV load only when a model is built or a photo is read.
"""
from .amd import DescriptorForest, FaceForest, LandmarkForest, WholeImageCNN, amd_descriptor_extractors
from .attention import (
    VARIANTS,
    FaceAttention,
    GroupAttentionClassifier,
    attention_weights_model,
    build_attention_model,
    group_inputs,
    load_attention_model,
    pretrain_face_encoder,
    vggface_encoder,
)
from .data import GroupData, load_group_data
from .pipeline import MEMBER_TITLES, GroupEmotionPipeline, default_members, member_title, predict_photo
from .scene import SceneFaceExtractor, SceneFaces, as_scene_faces

__all__ = ["SceneFaceExtractor", "SceneFaces", "as_scene_faces", "DescriptorForest", "FaceForest",
           "LandmarkForest", "WholeImageCNN", "amd_descriptor_extractors", "MEMBER_TITLES",
           "GroupEmotionPipeline", "default_members", "member_title", "predict_photo", "VARIANTS",
           "FaceAttention", "GroupAttentionClassifier", "attention_weights_model",
           "build_attention_model", "group_inputs", "load_attention_model", "pretrain_face_encoder",
           "vggface_encoder",
           "GroupData", "load_group_data"]
