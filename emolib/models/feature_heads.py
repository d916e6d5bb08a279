"""Train a classification head on cached feature vectors, with early stopping on a holdout.

The heads are those of the FER2013 VGGFace student project {cite}`seed003fer2013` applied to
feature vectors (``vggface1``: BN -> Dropout -> Dense 512 -> Dropout -> Dense 128 -> Dense k;
``vggface2``: Dropout -> Dense 2048 -> Dropout -> Dense 1024 -> Dense k), a linear softmax
(``linear``, multinomial logistic regression trained by Adam), and scikit-learn's
:class:`~sklearn.linear_model.LogisticRegression` (:func:`fit_logistic`). :func:`fit_head`
standardises the features on the training part, trains with early stopping on the holdout
(patience, best weights restored) and reports whether training stopped by early stopping or by
the epoch cap, so that a result can say whether a head converged.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["HEADS", "HeadFit", "balanced_class_weight", "build_head", "fit_head", "fit_logistic",
           "holdout_split"]

HEADS = ("linear", "vggface1", "vggface2")


def holdout_split(labels, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, deterministic (fit, holdout) index arrays over ``labels`` (sorted)."""
    from sklearn.model_selection import train_test_split

    y = np.asarray(labels)
    if y.ndim != 1 or len(y) < 2:
        raise ValueError(f"labels: expected a 1-d array of at least 2 labels, got shape {y.shape}")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction: expected a number in (0, 1), got {fraction!r}")
    fit, hold = train_test_split(np.arange(len(y)), test_size=fraction, stratify=y, random_state=seed)
    return np.sort(fit), np.sort(hold)


def balanced_class_weight(labels, num_classes: int) -> dict[int, float]:
    """``n / (k * n_c)`` per class present (scikit-learn's "balanced"); absent classes get 1."""
    y = np.asarray(labels)
    counts = np.bincount(y, minlength=num_classes)
    present = counts > 0
    k = int(present.sum())
    return {c: (len(y) / (k * counts[c]) if counts[c] else 1.0) for c in range(num_classes)}


def build_head(kind: str, input_dim: int, num_classes: int, *, dropout: float = 0.5, seed: int = 0):
    """The Keras head ``kind`` (one of :data:`HEADS`) on ``input_dim``-d vectors, softmax output."""
    import keras
    from keras import layers

    if kind not in HEADS:
        raise ValueError(f"kind: expected one of {HEADS}, got {kind!r}")
    keras.utils.set_random_seed(seed)
    inp = keras.Input((input_dim,))
    x = inp
    if kind == "vggface1":
        x = layers.BatchNormalization()(x)
        x = layers.Dropout(dropout)(x)
        x = layers.Dense(512, activation="relu")(x)
        x = layers.Dropout(dropout)(x)
        x = layers.Dense(128, activation="relu")(x)
    elif kind == "vggface2":
        x = layers.Dropout(dropout)(x)
        x = layers.Dense(2048, activation="relu")(x)
        x = layers.Dropout(dropout)(x)
        x = layers.Dense(1024, activation="relu")(x)
    out = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inp, out, name=f"{kind}_head")


@dataclass
class HeadFit:
    """A trained head: ``predict_proba`` on raw features, its history and how training ended."""

    model: object
    mean: np.ndarray
    scale: np.ndarray
    history: dict = field(default_factory=dict)
    epochs_run: int = 0
    best_epoch: int = 0
    epoch_cap: int = 0
    converged: bool = False

    def predict_proba(self, x) -> np.ndarray:
        z = (np.asarray(x, np.float32) - self.mean) / self.scale
        return np.asarray(self.model.predict(z, batch_size=1024, verbose=0))

    def summary(self) -> dict:
        """JSON-ready: epochs run, best epoch, cap, converged and stop reason."""
        return {"epochs_run": self.epochs_run, "best_epoch": self.best_epoch, "epoch_cap": self.epoch_cap,
                "converged": self.converged,
                "stopped_by": "early_stopping" if self.converged else "epoch_cap"}


def _targets(y, num_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 1:
        return np.eye(num_classes, dtype=np.float32)[y]
    if y.ndim != 2 or y.shape[1] != num_classes:
        raise ValueError(f"y: expected labels or N x {num_classes} targets, got shape {y.shape}")
    return y.astype(np.float32)


def fit_head(kind: str, x_train, y_train, x_hold, y_hold, *, num_classes: int, loss="categorical_crossentropy",
             class_weight: dict | None = None, epochs: int = 200, patience: int = 8, batch_size: int = 256,
             learning_rate: float = 1e-3, monitor: str = "val_loss", dropout: float = 0.5, seed: int = 0,
             sample_targets: bool = False, verbose: int = 0) -> HeadFit:
    """Train head ``kind`` on standardised features with early stopping on the holdout.

    Args:
        y_train, y_hold: class indices or ``N x num_classes`` target distributions.
        loss: a Keras loss (name or object), e.g. a FER+ mode's loss.
        class_weight: per-class weights for the training loss (the holdout loss is unweighted).
        epochs: the cap; ``converged`` is True only when early stopping ended training first.
        patience: epochs without improvement of ``monitor`` before stopping (best weights restored).
        sample_targets: treat ``y_train`` as distributions and draw fresh one-hot targets from them
            every epoch (FER+'s ``probability`` mode).
    """
    import keras

    x_train = np.asarray(x_train, np.float32)
    x_hold = np.asarray(x_hold, np.float32)
    if x_train.ndim != 2 or x_hold.ndim != 2 or x_train.shape[1] != x_hold.shape[1]:
        raise ValueError(f"x_train, x_hold: expected N x d arrays with the same d, got {x_train.shape} "
                         f"and {x_hold.shape}")
    t_train, t_hold = _targets(y_train, num_classes), _targets(y_hold, num_classes)
    if len(t_train) != len(x_train) or len(t_hold) != len(x_hold):
        raise ValueError("y_train, y_hold: expected one target per feature row")
    mean = x_train.mean(0)
    scale = x_train.std(0) + 1e-6
    model = build_head(kind, x_train.shape[1], num_classes, dropout=dropout, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True,
                                         mode="min" if "loss" in monitor else "max")
    z_train = (x_train - mean) / scale
    if sample_targets:
        data = {"x": _SampledTargets(z_train, t_train, batch_size, seed)}
    else:
        data = {"x": z_train, "y": t_train, "batch_size": batch_size, "shuffle": True}
    h = model.fit(**data, validation_data=((x_hold - mean) / scale, t_hold), epochs=epochs,
                  class_weight=class_weight, callbacks=[stop], verbose=verbose)
    history = {k: [round(float(v), 5) for v in vals] for k, vals in h.history.items()}
    run = len(history["loss"])
    track = history[monitor]
    best = int(np.argmin(track) if "loss" in monitor else np.argmax(track)) + 1
    converged = stop.stopped_epoch > 0 and run < epochs
    return HeadFit(model, mean, scale, history, run, best, epochs, bool(converged))


def _SampledTargets(x: np.ndarray, dist: np.ndarray, batch_size: int, seed: int):
    """A Keras dataset giving one-hot targets drawn from ``dist`` anew each epoch, rows shuffled."""
    import keras

    class Sampled(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.on_epoch_end()

        def on_epoch_end(self):
            cum = np.cumsum(dist, axis=1)
            pick = (self.rng.random((len(dist), 1)) < cum).argmax(axis=1)
            self.y = np.eye(dist.shape[1], dtype=np.float32)[pick]
            self.order = self.rng.permutation(len(x))

        def __len__(self):
            return -(-len(x) // batch_size)  # noqa: PLE0303

        def __getitem__(self, i):
            rows = self.order[i * batch_size:(i + 1) * batch_size]
            return x[rows], self.y[rows]

    return Sampled()


def fit_logistic(x_train, y_train, *, C: float = 1.0, class_weight=None, max_iter: int = 1000):
    """Standardise + multinomial logistic regression (lbfgs); returns (pipeline, converged)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        pipe.fit(np.asarray(x_train, np.float32), np.asarray(y_train))
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return pipe, converged
