"""Descriptors and their aggregation: per-face or per-frame features -> one vector per image or clip."""
from .aggregate import AGGREGATIONS, aggregate

__all__ = ["AGGREGATIONS", "aggregate"]
