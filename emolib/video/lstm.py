"""An LSTM over frame-feature sequences, with NTechLab's frame-shuffle augmentation.

NTechLab {cite}`knyazev2017convolutional` (Table 6) trained an LSTM on FR-Net-B frame features and
shuffled the order of each clip's frames afresh during training: 50.39 % val against 46.48 % in the
original order (order is fixed at inference). Clips of different lengths are padded at the end and
masked.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..config import quiet_tensorflow

quiet_tensorflow()
import keras  # noqa: E402  (after quiet_tensorflow, which must precede TensorFlow's import)

from ..models.predict import predict_batches  # noqa: E402

__all__ = ["pad_sequences", "shuffle_within", "build_lstm", "FrameLSTM", "ShuffledBatches"]


def pad_sequences(sequences: Sequence, max_len: int | None = None, value: float = 0.0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``T_i x D`` sequences into ``N x T x D`` (padded at the end with ``value``) and lengths.

    ``T`` is the longest sequence, or ``max_len``; a longer sequence is thinned to ``max_len``
    evenly spaced frames (first and last kept), so the whole clip is still seen.
    """
    seqs = [np.asarray(s, np.float32) for s in sequences]
    if not seqs or any(s.ndim != 2 or len(s) == 0 for s in seqs):
        raise ValueError("sequences: expected a non-empty list of T_i x D arrays with T_i >= 1")
    widths = {s.shape[1] for s in seqs}
    if len(widths) != 1:
        raise ValueError(f"sequences: expected one feature width D, got {sorted(widths)}")
    if max_len is not None:
        if max_len < 1:
            raise ValueError(f"max_len: expected a positive integer, got {max_len}")
        seqs = [s if len(s) <= max_len else s[np.round(np.linspace(0, len(s) - 1, max_len)).astype(int)]
                for s in seqs]
    lengths = np.array([len(s) for s in seqs], np.int64)
    T = int(lengths.max()) if max_len is None else max_len
    X = np.full((len(seqs), T, widths.pop()), value, np.float32)
    for i, s in enumerate(seqs):
        X[i, :len(s)] = s
    return X, lengths


def shuffle_within(X: np.ndarray, lengths: Sequence[int], rng: np.random.Generator | int | None = None
                   ) -> np.ndarray:
    """A copy of padded ``X`` (``N x T x ...``) with each clip's first ``lengths[i]`` frames in a new
    random order; padding stays where it is. ``X`` itself is not changed."""
    rng = np.random.default_rng(rng)
    lengths = np.asarray(lengths)
    if len(lengths) != len(X) or (lengths < 1).any() or (lengths > X.shape[1]).any():
        raise ValueError(f"lengths: expected {len(X)} values in 1..{X.shape[1]}, got {lengths.tolist()}")
    out = X.copy()
    for i, n in enumerate(lengths):
        out[i, :n] = X[i, rng.permutation(n)]
    return out


class ShuffledBatches(keras.utils.PyDataset):
    """Batches of ``((frames, mask), label)`` clips in a new order each epoch; with
    ``shuffle_frames`` each clip's real frames are permuted afresh every time it is served."""

    def __init__(self, X, mask, y, lengths, batch_size: int, shuffle_frames: bool,
                 rng: np.random.Generator):
        super().__init__()
        self.X, self.mask, self.y, self.lengths = X, mask, y, lengths
        self.batch_size, self.shuffle_frames, self.rng = batch_size, shuffle_frames, rng
        self.order = rng.permutation(len(X))

    def __len__(self) -> int:
        return int(np.ceil(len(self.X) / self.batch_size))

    def __getitem__(self, i: int):
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        X = self.X[idx]
        if self.shuffle_frames:
            X = shuffle_within(X, self.lengths[idx], self.rng)
        return (X, self.mask[idx]), self.y[idx]

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(len(self.X))


def _mask(lengths: np.ndarray, T: int) -> np.ndarray:
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def build_lstm(n_features: int, n_classes: int, *, units: int = 32, dropout: float = 0.3,
               learning_rate: float = 3e-3, jit_compile: bool | str = False) -> keras.Model:
    """A compiled ``keras.Model``: inputs ``[frames N x T x D, mask N x T bool]`` -> class softmax.

    The mask marks real frames; padded steps are skipped by the LSTM, so the output is its state
    after each clip's last real frame. Dropout applies to the input features and the LSTM's output.
    ``jit_compile`` is passed to ``compile`` (XLA off by default: it only slows small CPU runs).
    """
    if n_features < 1 or n_classes < 2 or units < 1 or not 0 <= dropout < 1:
        raise ValueError(f"build_lstm: expected n_features >= 1, n_classes >= 2, units >= 1 and dropout in "
                         f"[0, 1), got {n_features}, {n_classes}, {units}, {dropout}")
    frames = keras.Input((None, n_features), name="frames")
    mask = keras.Input((None,), dtype="bool", name="mask")
    h = keras.layers.Dropout(dropout, name="input_dropout")(frames)
    h = keras.layers.LSTM(units, name="lstm")(h, mask=mask)
    h = keras.layers.Dropout(dropout, name="dropout")(h)
    out = keras.layers.Dense(n_classes, activation="softmax", name="scores")(h)
    model = keras.Model([frames, mask], out, name="frame_lstm")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=jit_compile)
    return model


class FrameLSTM(ClassifierMixin, BaseEstimator):
    """scikit-learn-style LSTM classifier over lists of ``T_i x D`` frame-feature sequences.

    Features are standardised with the mean and std of the real training frames. With
    ``shuffle_frames=True`` every epoch sees each clip's real frames in a new random order
    (padding untouched); prediction always uses the original order. ``max_len`` thins long clips.
    ``history_`` holds per-epoch loss and accuracy.
    """

    def __init__(self, units: int = 32, dropout: float = 0.3, epochs: int = 40, batch_size: int = 16,
                 learning_rate: float = 3e-3, shuffle_frames: bool = True, max_len: int | None = None,
                 random_state: int | None = 0, verbose: int = 0):
        self.units = units
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.shuffle_frames = shuffle_frames
        self.max_len = max_len
        self.random_state = random_state
        self.verbose = verbose

    def _inputs(self, sequences) -> tuple[np.ndarray, np.ndarray]:
        X, lengths = pad_sequences(sequences, self.max_len)
        if X.shape[2] != self.n_features_in_:
            raise ValueError(f"sequences have {X.shape[2]} features, but FrameLSTM was fitted with "
                             f"{self.n_features_in_}")
        X = (X - self.mean_) / self.scale_
        mask = _mask(lengths, X.shape[1])
        X[~mask] = 0.0
        return X, lengths

    def fit(self, sequences, y, validation: tuple | None = None):
        """Train on ``sequences`` (list of ``T_i x D``) and labels ``y``; ``validation`` is an optional
        ``(sequences, y)`` pair scored after each epoch (``val_loss``/``val_accuracy`` in ``history_``)."""
        y = np.asarray(y)
        if len(y) != len(sequences):
            raise ValueError(f"y: expected {len(sequences)} labels, got {len(y)}")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y: expected at least 2 classes, got {self.classes_.tolist()}")
        frames = np.concatenate([np.asarray(s, np.float32) for s in sequences])
        self.n_features_in_ = frames.shape[1]
        self.mean_ = frames.mean(axis=0)
        std = frames.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0).astype(np.float32)
        X, lengths = self._inputs(sequences)
        mask = _mask(lengths, X.shape[1])
        if self.random_state is not None:
            keras.utils.set_random_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        self.model_ = build_lstm(self.n_features_in_, len(self.classes_), units=self.units,
                                 dropout=self.dropout, learning_rate=self.learning_rate)
        data = ShuffledBatches(X, mask, y_idx, lengths, self.batch_size, self.shuffle_frames, rng)
        val = None
        if validation is not None:
            v_seqs, v_y = validation
            Xv, v_len = self._inputs(v_seqs)
            v_idx = np.searchsorted(self.classes_, np.asarray(v_y))
            if not np.array_equal(self.classes_[np.minimum(v_idx, len(self.classes_) - 1)], np.asarray(v_y)):
                raise ValueError("validation: labels must be classes seen in y")
            val = ([Xv, _mask(v_len, Xv.shape[1])], v_idx)
        h = self.model_.fit(data, epochs=self.epochs, validation_data=val, verbose=self.verbose)
        self.history_ = {key: [float(v) for v in values] for key, values in h.history.items()}
        return self

    def predict_proba(self, sequences) -> np.ndarray:
        check_is_fitted(self, "model_")
        X, lengths = self._inputs(sequences)
        return predict_batches(self.model_, [X, _mask(lengths, X.shape[1])], compiled=True)

    def predict(self, sequences) -> np.ndarray:
        return self.classes_[self.predict_proba(sequences).argmax(axis=1)]
