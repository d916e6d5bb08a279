"""Plots used across the chapters. Every figure states the profile and data that made it."""
from __future__ import annotations

import numpy as np

__all__ = ["provenance_caption", "image_grid", "plot_class_counts", "plot_confusion", "plot_history"]


def provenance_caption(fig, profile_label: str, data: str | None = None) -> None:
    """Stamp a figure with its provenance, e.g. 'sample profile, embedded procedural data'."""
    text = profile_label + (f" | {data}" if data else "")
    fig.text(0.99, 0.005, text, ha="right", va="bottom", fontsize=7, color="0.35", style="italic")


def image_grid(images, titles=None, *, cols: int = 8, size: float = 1.2, cmap="gray", suptitle=None,
               provenance: str | None = None):
    """Show images in a grid; returns the figure."""
    import matplotlib.pyplot as plt

    images = list(images)
    rows = max(1, int(np.ceil(len(images) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 1.15), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, (ax, img) in enumerate(zip(axes.ravel(), images)):
        ax.imshow(img, cmap=cmap if np.ndim(img) == 2 else None, vmin=0, vmax=255)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    if provenance:
        provenance_caption(fig, provenance)
    fig.tight_layout()
    return fig


def plot_class_counts(table, *, title="Images per class", provenance: str | None = None, ax=None):
    """Bar chart of a split x class count table (``FaceDataset.counts_table()``)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    long = table.reset_index().melt(id_vars=table.index.name or "index", var_name="class", value_name="images")
    split = table.index.name or "index"
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 3.2))
    sns.barplot(data=long, x="class", y="images", hue=split, ax=ax)
    ax.set_title(title)
    if provenance:
        provenance_caption(ax.figure, provenance)
    ax.figure.tight_layout()
    return ax.figure


def plot_confusion(confusion, classes, *, title="Confusion matrix", normalize: bool = True,
                   provenance: str | None = None, ax=None):
    """Heat map of a confusion matrix (rows: true class), row-normalised by default."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    cm = np.asarray(confusion, float)
    if normalize:
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.6, 3.9))
    sns.heatmap(cm, annot=True, fmt=".2f" if normalize else ".0f", cmap="Blues", cbar=False,
                xticklabels=classes, yticklabels=classes, ax=ax, annot_kws={"fontsize": 7})
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    if provenance:
        provenance_caption(ax.figure, provenance)
    ax.figure.tight_layout()
    return ax.figure


def plot_history(history, *, metrics=("loss", "accuracy"), title="Training curves",
                 provenance: str | None = None):
    """Training and validation curves from a Keras ``History`` or its ``.history`` dict."""
    import matplotlib.pyplot as plt

    h = getattr(history, "history", history)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3))
    for ax, m in zip(np.atleast_1d(axes), metrics):
        for key in (m, f"val_{m}"):
            if key in h:
                ax.plot(np.arange(1, len(h[key]) + 1), h[key], marker="o", label=key)
        ax.set_xlabel("epoch")
        ax.set_title(m)
        ax.legend()
    return _finish(fig, title, provenance)


def plot_stage_curves(stages, *, metrics=("val_loss", "val_accuracy"), title="Holdout curves per stage",
                      provenance: str | None = None):
    """Per-epoch curves of a multi-stage run (records with ``stage`` and a list per metric, e.g.
    ``transfer_finetune.json``'s ``training.stages``), epochs numbered across stages, a dashed
    line where each later stage begins and a ring on each stage's best epoch (lowest loss)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3))
    for ax, m in zip(np.atleast_1d(axes), metrics):
        start = 0
        for s in stages:
            values = s.get(m) or []
            x = np.arange(start + 1, start + len(values) + 1)
            ax.plot(x, values, marker="o", label=f"stage {s['stage']}")
            if s.get("best_epoch"):
                ax.plot(start + s["best_epoch"], values[s["best_epoch"] - 1], "o", ms=12, mfc="none", mec="k")
            if start:
                ax.axvline(start + 0.5, ls="--", c="grey")
            start += len(values)
        ax.set_xlabel("epoch (both stages)")
        ax.set_title(m.replace("_", " "))
        ax.legend()
    return _finish(fig, title, provenance)


def _finish(fig, title: str, provenance: str | None):
    """Title, the provenance caption (if any) and a tight layout; returns ``fig``."""
    fig.suptitle(title, fontsize=10)
    if provenance:
        provenance_caption(fig, provenance)
    fig.tight_layout()
    return fig
