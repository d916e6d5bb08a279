"""FER+ annotator votes (Barsoum et al. 2016, microsoft/FERPlus, MIT) and the targets they give.

The four label modes of FERPlus turn votes into distributions (:func:`ferplus_targets`); a head
(``"ferplus"``, 8 classes, or ``"fer2013"``, 7) maps them to a model's classes and each mode to
its training targets (:func:`training_targets`).

``fer2013new.csv`` holds 10 votes per FER2013 image, in the same row order as ``fer2013.csv``.
Join the two by row position: the number in ``Image name`` is not the row index.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DataFormatError, DataNotFoundError
from .dataset import FER2013_CLASSES, FaceDataset

__all__ = ["FERPLUS_COLUMNS", "FERPLUS_CLASSES", "FERPLUS_TO_FER2013", "MODES", "FerPlusTargets",
           "load_ferplus_votes", "attach_ferplus_votes", "ferplus_targets", "sample_onehot",
           "ferplus_to_fer2013_labels", "label_agreement", "FERPLUS_HEADS", "EPSILON", "head_classes",
           "to_head", "TrainingTargets", "training_targets", "majority_labels"]

FERPLUS_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                   "contempt", "unknown", "NF")
FERPLUS_CLASSES = FERPLUS_COLUMNS[:8]
# FER+ class index -> FER2013 class index (contempt has no FER2013 class).
FERPLUS_TO_FER2013 = {0: 6, 1: 3, 2: 5, 3: 4, 4: 0, 5: 1, 6: 2, 7: None}
MODES = ("majority", "probability", "crossentropy", "multi_target")
UNKNOWN, NOT_FACE = 8, 9
_HINT = "Get it with emolib.data.download_ferplus_labels() or from https://github.com/microsoft/FERPlus"


def load_ferplus_votes(path: str | os.PathLike, *, return_usage: bool = False):
    """Read ``fer2013new.csv`` and return its N x 10 int vote matrix, aligned by row position.

    Columns follow the file: neutral, happiness, surprise, sadness, anger, disgust, fear,
    contempt, unknown, NF. With ``return_usage=True`` also returns the N Usage strings.
    """
    import io

    import pandas as pd

    from .textio import read_small_text

    path = Path(path).expanduser()
    if not path.exists():
        raise DataNotFoundError(path, _HINT)
    if path.is_dir():
        raise DataFormatError(path, "the file fer2013new.csv, not a folder", got="a folder")
    try:   # UTF-8 with or without BOM, UTF-16/32 by BOM, else Latin-1 with a warning
        table = pd.read_csv(io.StringIO(read_small_text(path)), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as e:
        raise DataFormatError(path, "a CSV with 12 fields per row", got=str(e).strip()) from None
    except pd.errors.EmptyDataError:
        raise DataFormatError(path, "a header 'Usage,Image name,neutral,...,NF'", row=0,
                              got="an empty file") from None
    table.columns = [c.strip() for c in table.columns]
    expected = ["Usage", "Image name", *FERPLUS_COLUMNS]
    if list(table.columns) != expected:
        raise DataFormatError(path, f"columns {expected}", row=0, got=list(table.columns))
    if table.empty:
        raise DataFormatError(path, "at least one data row", row=1, got="no rows")
    raw = table[list(FERPLUS_COLUMNS)]
    ok = raw.apply(lambda col: col.str.strip().str.fullmatch(r"\d{1,2}")).to_numpy()
    if not ok.all():
        r, c = map(int, np.argwhere(~ok)[0])
        raise DataFormatError(path, "an integer vote count 0-10", row=r + 1, field=FERPLUS_COLUMNS[c],
                              got=raw.iat[r, c])
    votes = raw.to_numpy().astype(np.int64)
    too_many = votes.sum(axis=1) > 10
    if too_many.any():
        r = int(np.flatnonzero(too_many)[0])
        raise DataFormatError(path, "at most 10 votes per row", row=r + 1, got=int(votes[r].sum()))
    return (votes, table["Usage"].str.strip().to_numpy()) if return_usage else votes


def attach_ferplus_votes(dataset: FaceDataset, votes_path: str | os.PathLike) -> FaceDataset:
    """Attach FER+ votes to a FER2013 dataset loaded from the CSV, joined by row position.

    The dataset must hold the CSV's rows in file order (load it without ``usage=``). The Usage
    column of both files is compared row by row, and the first mismatch raises.
    """
    votes, usage = load_ferplus_votes(votes_path, return_usage=True)
    n = len(dataset)
    if n > len(votes):
        raise DataFormatError(votes_path, f"at least {n} rows (one per FER2013 image)", got=len(votes))
    bad = np.flatnonzero(usage[:n] != dataset.usage)
    if bad.size:
        r = int(bad[0])
        raise DataFormatError(votes_path, f"Usage {dataset.usage[r]!r} as in {dataset.source}, "
                              "the same row order as fer2013.csv", row=r + 1, field="Usage", got=usage[r])
    return FaceDataset(dataset.images, dataset.labels, dataset.usage, dataset.classes,
                       dataset.source, votes=votes[:n])


class FerPlusTargets(NamedTuple):
    """Result of :func:`ferplus_targets`.

    keep: N bool, the rows that survive (their argmax is one of the 8 emotions).
    distribution: K x 8 label distribution of the kept rows (sums to 1).
    targets: K x 8 training targets. majority/crossentropy: the distribution; probability: the
        distribution to sample from (see :func:`sample_onehot`); multi_target: 0.999*binary+0.001.
    """

    keep: np.ndarray
    distribution: np.ndarray
    targets: np.ndarray


def _row_distribution(v: np.ndarray, mode: str) -> np.ndarray:
    """One row's 10-way distribution, exactly as FERPlus' ``_process_data`` builds it."""
    size = len(v)
    unknown = np.zeros(size)
    unknown[UNKNOWN] = 1.0
    if v.sum() == 0:                                       # no votes at all: unknown, never neutral
        return unknown
    raw = np.where(v <= 1, 0.0, v.astype(float))          # outliers: single votes removed
    total = raw.sum()
    out = np.zeros(size)
    if mode == "majority":
        top = raw.max()
        if top > 0.5 * total:
            out[int(np.argmax(raw))] = top
        else:
            out = unknown
    elif mode in ("probability", "crossentropy"):
        taken_sum, count, valid = 0.0, 0, True
        while taken_sum < 0.75 * total and count < 3 and valid:
            top = raw.max()
            for i in range(size):
                if raw[i] == top:
                    out[i] = top
                    raw[i] = 0.0
                    taken_sum += top
                    count += 1
                    if i >= UNKNOWN:                       # unknown / not-a-face ends the loop
                        valid = False
                        if out.sum() > top:                # other classes came first: drop it
                            out[i] = 0.0
                            count -= 1
                        break
        if out.sum() <= 0.5 * total or count > 3:
            out = unknown
    elif mode == "multi_target":
        out = np.where(raw >= 0.3 * total, raw, 0.0)
        if out.sum() <= 0.5 * total:
            out = unknown
    return out / out.sum()


def ferplus_targets(votes, mode: str = "majority") -> FerPlusTargets:
    """FER+ training targets from N x 10 votes, in one of FERPlus' four modes.

    Follows microsoft/FERPlus ``src/ferplus.py``: single votes are outliers and removed; majority
    needs more than half the votes; probability/crossentropy take the top classes (ties together)
    until 75 % of the votes, at most 3 classes, stopping at unknown/NF; multi_target keeps classes
    with at least 30 %. Rows whose result is unknown or not-a-face are dropped, leaving 8 classes.
    A row without any vote is unknown, so it is dropped in every mode.
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {MODES}")
    votes = np.asarray(votes)
    if votes.ndim != 2 or votes.shape[1] != len(FERPLUS_COLUMNS):
        raise ValueError(f"votes: expected an N x 10 array, got shape {votes.shape}")
    if (votes < 0).any():
        raise ValueError("votes: expected non-negative counts")
    dist10 = np.array([_row_distribution(v, mode) for v in votes]) if len(votes) else np.zeros((0, 10))
    keep = dist10.argmax(axis=1) < UNKNOWN if len(votes) else np.zeros(0, bool)
    dist = dist10[keep, :UNKNOWN]
    dist = dist / dist.sum(axis=1, keepdims=True)
    if mode == "multi_target":
        targets = (1 - 0.001) * (dist > 0).astype(float) + 0.001
    else:
        targets = dist.copy()
    return FerPlusTargets(keep, dist, targets)


def sample_onehot(distribution: np.ndarray, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Draw one-hot targets from each row's distribution (the 'probability' mode, per epoch)."""
    rng = np.random.default_rng(rng)
    distribution = np.asarray(distribution, float)
    cum = distribution.cumsum(axis=1)
    u = rng.random((len(distribution), 1)) * cum[:, -1:]
    idx = np.minimum((u >= cum).sum(axis=1), distribution.shape[1] - 1)
    return np.eye(distribution.shape[1])[idx]


def ferplus_to_fer2013_labels(ferplus_labels: np.ndarray) -> np.ndarray:
    """Map FER+ class indices to FER2013 indices; contempt maps to -1."""
    lut = np.array([-1 if FERPLUS_TO_FER2013[i] is None else FERPLUS_TO_FER2013[i] for i in range(8)])
    return lut[np.asarray(ferplus_labels)]


def label_agreement(fer_labels, votes) -> dict:
    """How often FER+ agrees with the FER2013 labels.

    ``argmax``: the FER+ vote argmax (all 10 columns, first on ties) equals the FER2013 label;
    contempt, unknown, NF and rows without votes (counted as unknown) are disagreement.
    ``majority``: the same over the rows that survive FER+'s majority rule. ``crosstab``: FER2013
    label (rows) x FER+ argmax column.
    """
    import pandas as pd

    from .. import FER2013_CLASSES

    fer_labels, votes = np.asarray(fer_labels), np.asarray(votes)
    if len(fer_labels) != len(votes):
        raise ValueError(f"expected one vote row per label, got {len(votes)} rows for {len(fer_labels)} labels")
    top = np.where(votes.sum(axis=1) > 0, votes.argmax(axis=1), UNKNOWN)   # no votes: unknown
    mapped = np.where(top < 7, ferplus_to_fer2013_labels(np.minimum(top, 7)), -1)
    maj = ferplus_targets(votes, "majority")
    maj_mapped = ferplus_to_fer2013_labels(maj.distribution.argmax(axis=1))
    crosstab = pd.crosstab(pd.Series(pd.Categorical.from_codes(fer_labels, FER2013_CLASSES), name="FER2013 label"),
                           pd.Series(pd.Categorical.from_codes(top, FERPLUS_COLUMNS), name="FER+ argmax"),
                           dropna=False)
    return {"argmax": float((mapped == fer_labels).mean()),
            "majority": float((maj_mapped == fer_labels[maj.keep]).mean()) if maj.keep.any() else float("nan"),
            "kept_by_majority": int(maj.keep.sum()),
            "crosstab": crosstab}


# ----------------------------------------------------------------- targets of a model head
FERPLUS_HEADS = ("ferplus", "fer2013")
EPSILON = 0.001          # FERPlus' multi_target smoothing: (1 - eps) * binary + eps
CONTEMPT = FERPLUS_CLASSES.index("contempt")


def head_classes(head: str) -> tuple[str, ...]:
    """Class names of a head: ``"ferplus"`` (8, FER+ column order) or ``"fer2013"`` (7)."""
    if head == "ferplus":
        return tuple(FERPLUS_CLASSES)
    if head == "fer2013":
        return tuple(FER2013_CLASSES)
    raise ValueError(f"head {head!r}: expected one of {FERPLUS_HEADS}")


def to_head(distribution: np.ndarray, head: str) -> tuple[np.ndarray, np.ndarray]:
    """Map K x 8 FER+ distributions to a head. Returns ``(distribution, valid)``.

    ``"ferplus"`` returns them unchanged. ``"fer2013"`` reorders the 7 shared emotions into
    FER2013 order, drops contempt's share and renormalises. Rows whose dominant class (argmax,
    first index on ties) is contempt are not ``valid``: they have no FER2013 class.
    """
    distribution = np.asarray(distribution, float)
    if distribution.ndim != 2 or distribution.shape[1] != 8:
        raise ValueError(f"distribution: expected K x 8 (FER+ classes), got shape {distribution.shape}")
    if head == "ferplus":
        return distribution, np.ones(len(distribution), bool)
    head_classes(head)  # validates
    out = np.zeros((len(distribution), 7))
    for plus, fer in FERPLUS_TO_FER2013.items():
        if fer is not None:
            out[:, fer] += distribution[:, plus]
    total = out.sum(axis=1)
    valid = (distribution.argmax(axis=1) != CONTEMPT) & (total > 0)
    out[valid] /= total[valid, None]
    return out, valid


def _mode_targets(distribution: np.ndarray, mode: str) -> np.ndarray:
    if mode == "multi_target":
        return (1 - EPSILON) * (distribution > 0).astype(float) + EPSILON
    return distribution.copy()


@dataclass(frozen=True)
class TrainingTargets:
    """Targets for one mode and head, for the rows that survive the FER+ rules.

    index: positions (into the vote rows) of the rows kept.
    distribution: K x C label distribution (C = 8 or 7) of those rows.
    targets: K x C training targets. For ``probability`` these are the distribution to draw the
        per-epoch one-hot targets from (see :class:`VoteSequence`).
    labels: K argmax classes of the distribution (first index on ties).
    """

    mode: str
    head: str
    index: np.ndarray
    distribution: np.ndarray
    targets: np.ndarray
    labels: np.ndarray

    @property
    def classes(self) -> tuple[str, ...]:
        return head_classes(self.head)

    def __len__(self) -> int:
        return len(self.index)


def training_targets(votes, mode: str, head: str = "ferplus") -> TrainingTargets:
    """FER+ training targets of ``mode`` for a head (see :func:`ferplus_targets`)."""
    head_classes(head)
    t = ferplus_targets(votes, mode)
    dist, valid = to_head(t.distribution, head)
    index = np.flatnonzero(t.keep)[valid]
    dist = dist[valid]
    return TrainingTargets(mode, head, index, dist, _mode_targets(dist, mode), dist.argmax(axis=1))


def majority_labels(votes, head: str = "ferplus") -> tuple[np.ndarray, np.ndarray]:
    """Majority-rule evaluation labels: ``(index of rows kept, class per kept row)``."""
    t = training_targets(votes, "majority", head)
    return t.index, t.labels
