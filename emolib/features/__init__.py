"""Descriptors and their aggregation: per-face or per-frame features -> one vector per image or clip."""
from .aggregate import AGGREGATIONS, aggregate
from .scaling import Rescale, RootSIFT, Standardise, make_svm_scaler, rootsift

__all__ = ["AGGREGATIONS", "aggregate", "Rescale", "RootSIFT", "Standardise", "make_svm_scaler", "rootsift"]
