"""The in-memory face dataset that every loader returns."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import FER2013_CLASSES

__all__ = ["FaceDataset", "FER2013_CLASSES", "USAGES"]

USAGES = ("Training", "PublicTest", "PrivateTest")


@dataclass(frozen=True, eq=False)
class FaceDataset:
    """Images with labels.

    Attributes:
        images: uint8 array, N x H x W (grey) or N x H x W x 3 (RGB).
        labels: int64 array of N class indices into ``classes``.
        usage: array of N split names ("Training", "PublicTest", "PrivateTest").
        classes: class names, in index order.
        source: where the data came from (a path, or "sample:<seed>").
        votes: optional N x 10 FER+ annotator votes aligned by row.
    """

    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    classes: tuple[str, ...] = FER2013_CLASSES
    source: str = ""
    votes: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        n = len(self.images)
        if self.images.dtype != np.uint8 or self.images.ndim not in (3, 4):
            raise ValueError(f"images: expected uint8 N x H x W [x 3], got {self.images.dtype} "
                             f"{self.images.shape}")
        for name in ("labels", "usage"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name}: expected {n} entries (one per image), "
                                 f"got {len(getattr(self, name))}")
        if self.votes is not None and len(self.votes) != n:
            raise ValueError(f"votes: expected {n} rows, got {len(self.votes)}")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise ValueError(f"labels: expected values in 0..{len(self.classes) - 1}, "
                             f"got {self.labels.min()}..{self.labels.max()}")

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return (f"FaceDataset(n={len(self)}, shape={self.images.shape[1:]}, "
                f"splits={ {str(u): int(k) for u, k in zip(*np.unique(self.usage, return_counts=True))} }, "
                f"source={self.source!r})")

    def subset(self, index) -> FaceDataset:
        """Rows selected by a boolean mask or integer index, as a new dataset."""
        if not isinstance(index, slice):
            index = np.asarray(index)
        return FaceDataset(self.images[index], self.labels[index], self.usage[index], self.classes,
                           self.source, None if self.votes is None else self.votes[index])

    def split(self, usage: str) -> FaceDataset:
        """The rows of one split, e.g. ``ds.split("Training")``."""
        present = set(np.unique(self.usage))
        if usage not in present:
            raise ValueError(f"split {usage!r} not in this dataset: expected one of {sorted(present)}")
        return self.subset(self.usage == usage)

    def class_counts(self) -> dict[str, int]:
        """Images per class, in class order."""
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(k) for c, k in zip(self.classes, counts)}

    def counts_table(self):
        """A pandas table of images per split and class."""
        import pandas as pd

        table = pd.crosstab(pd.Series(self.usage, name="split"),
                            pd.Series(pd.Categorical.from_codes(self.labels, self.classes), name="class"),
                            dropna=False)
        order = [u for u in USAGES if u in table.index] + [u for u in table.index if u not in USAGES]
        return table.loc[order]
