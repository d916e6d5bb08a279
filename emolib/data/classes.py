"""Class lists of the datasets, in index order (one place, shared by the real and sample loaders)."""
from __future__ import annotations

from .. import FER2013_CLASSES

__all__ = ["FER2013_CLASSES", "GROUP_CLASSES", "AFEW_CLASSES"]

# EmotiW group-level emotion (GAF): the order of the AMD group pipeline's outputs.
GROUP_CLASSES = ("Positive", "Neutral", "Negative")
# EmotiW AFEW video emotion, alphabetical as its folders.
AFEW_CLASSES = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")
