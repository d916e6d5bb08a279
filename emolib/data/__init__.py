"""Datasets: FER2013 (CSV, class folders, FER+ PNGs), FER+ votes, GAF and AFEW layouts, and the
embedded sample data of the ``sample`` profile."""
from .afew import load_afew
from .classes import AFEW_CLASSES, GROUP_CLASSES
from .dataset import FER2013_CLASSES, USAGES, FaceDataset
from .download import download_ferplus_labels, fetch, instructions
from .fer2013 import load_fer2013, parse_fer2013_csv
from .ferplus import (
    FERPLUS_CLASSES,
    FERPLUS_COLUMNS,
    MODES,
    attach_ferplus_votes,
    ferplus_targets,
    ferplus_to_fer2013_labels,
    label_agreement,
    load_ferplus_votes,
    sample_onehot,
)
from .gaf import load_gaf
from .profiles import find_fer2013, find_ferplus_votes, load_faces

__all__ = ["FaceDataset", "FER2013_CLASSES", "GROUP_CLASSES", "AFEW_CLASSES", "USAGES", "load_fer2013",
           "parse_fer2013_csv",
           "FERPLUS_CLASSES", "FERPLUS_COLUMNS", "MODES", "attach_ferplus_votes", "ferplus_targets",
           "ferplus_to_fer2013_labels", "label_agreement", "load_ferplus_votes", "sample_onehot",
           "download_ferplus_labels", "fetch", "instructions", "load_faces", "find_fer2013",
           "find_ferplus_votes", "load_afew", "load_gaf"]
