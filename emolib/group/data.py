"""The photos a group chapter works on: sample scenes, or a GAF copy under DATA_DIR."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..config import Profile
from ..config import profile as get_profile
from ..data.classes import GROUP_CLASSES

__all__ = ["GroupData", "load_group_data"]


@dataclass(frozen=True, eq=False)
class GroupData:
    """Three splits of group photos with labels (indices into ``classes``).

    ``train`` trains the members or the model; ``val`` weighs the ensemble members (AMD) or
    monitors training; ``test`` is reported. Each split is ``(items, labels)``; items are
    sample ``GroupScene`` objects (known face boxes) or image paths (GAF).
    """

    train: tuple[list, np.ndarray]
    val: tuple[list, np.ndarray]
    test: tuple[list, np.ndarray]
    classes: tuple[str, ...]
    source: str

    def counts(self):
        """Photos per split and class, as a pandas table."""
        import pandas as pd

        rows = {name: np.bincount(split[1], minlength=len(self.classes))
                for name, split in (("train", self.train), ("val", self.val), ("test", self.test))}
        return pd.DataFrame(rows, index=list(self.classes)).T


def _split(items, labels, fractions, seed):
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    rest, first = train_test_split(idx, test_size=fractions[0], stratify=labels, random_state=seed)
    out = [first]
    if len(fractions) > 1:
        share = fractions[1] / (1 - fractions[0])
        rest, second = train_test_split(rest, test_size=share, stratify=labels[rest], random_state=seed)
        out.append(second)
    out.append(rest)
    return [([items[i] for i in part], labels[part]) for part in out]


def load_group_data(profile: str | Profile = "sample", data_dir: str | os.PathLike | None = None, *,
                    val_fraction: float = 0.25, test_fraction: float = 0.25,
                    seed: int | None = None) -> GroupData:
    """Group photos split into train / val / test.

    * sample profile: ``profile.n_scenes`` procedural scenes (``sample_group_scenes``), split
      stratified by ``val_fraction`` and ``test_fraction``.
    * full profile: a GAF copy in ``data_dir`` (``train|val/<class>/*.jpg``). GAF's test labels
      are not public, so GAF ``val`` is the test split here (the AMD and vlgiitr papers report it too), and
      ``val_fraction`` of GAF ``train`` is held out to weigh the members.
    """
    p = get_profile(profile) if isinstance(profile, str) else profile
    seed = p.seed if seed is None else seed
    if p.data == "embedded":
        from ..data.sample import sample_group_scenes

        scenes = sample_group_scenes(p.n_scenes, seed=seed)
        labels = np.array([s.label for s in scenes], np.int64)
        test, val, train = _split(scenes, labels, (test_fraction, val_fraction), seed)
        return GroupData(train, val, test, GROUP_CLASSES,
                         f"sample:group_scenes(n={p.n_scenes}, seed={seed})")
    if data_dir is None:
        raise ValueError(f"profile {p.name!r} reads real data: set DATA_DIR to a GAF copy "
                         "(train|val/<Positive|Neutral|Negative>/*.jpg)")
    from ..data.gaf import load_gaf

    gaf = load_gaf(data_dir, split=["train", "val"])
    tr, te = gaf.only("train"), gaf.only("val")
    val, train = _split(list(tr.paths), tr.labels, (val_fraction,), seed)
    return GroupData(train, val, (list(te.paths), te.labels), GROUP_CLASSES, str(data_dir))
