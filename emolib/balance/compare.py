"""Comparing balancing methods: the same compact CNN trained under each, scored on one test set.

The comparison of the FER2013 VGGFace student project {cite}`seed003fer2013` (oversampling, SMOTE,
ADASYN, augmentation, class weights), run at equal compute on the CPU-track model.
"""
from __future__ import annotations

import time

from ..data.dataset import FaceDataset
from .resampling import METHODS, resample

__all__ = ["compare_balancing"]


def compare_balancing(train_ds: FaceDataset, test_ds: FaceDataset, methods=None, *, epochs: int | None = None,
                      minutes: float | None = None, random_state: int = 0, model_kwargs=None,
                      train_kwargs=None, tta_flip: bool = False, features=None,
                      resampled=None, log=None) -> list[dict]:
    """Train the same compact CNN under each balancing method and score it on ``test_ds``.

    Each method (default: all of :data:`emolib.balance.METHODS`) resamples ``train_ds``, then
    trains the model from the same initial weights, with the same seed and the same budget
    (``epochs``, or ``minutes`` per method). In a time budget a larger resampled set gets fewer
    passes, so the comparison is at equal compute. One model is built and traced once; its
    weights and optimizer are reset for every method. ``model_kwargs`` go to :func:`compact_cnn`;
    an ``input_shape`` there smaller than the images makes the images be resized to it (a quick
    look on small data).

    Returns one dict per method: the class counts after balancing, the class weights (if any),
    ``classification_summary`` metrics on ``test_ds``, the epochs run and the seconds spent.
    ``resampled`` maps a method to the ``(dataset, class_weight)`` that
    :func:`emolib.balance.resample` already returned for it, to skip resampling again.
    ``log`` (a callable taking a string) reports each method as it finishes.
    """
    import keras

    from ..evaluate import classification_summary
    from ..models.compact import compact_cnn
    from ..models.predict import predict_faces
    from ..models.training import train

    methods = list(METHODS if methods is None else methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"methods {unknown}: expected some of {list(METHODS)}")
    keras.utils.set_random_seed(random_state)
    kwargs = {"input_shape": train_ds.images.shape[1:3] + (1 if train_ds.images.ndim == 3 else 3,),
              **(model_kwargs or {})}
    model = compact_cnn(len(train_ds.classes), **kwargs)
    initial = model.get_weights()
    rows = []
    for i, method in enumerate(methods):
        t0 = time.monotonic()
        if resampled and method in resampled:
            balanced, weights = resampled[method]
        else:
            balanced, weights = resample(train_ds, method, random_state=random_state,
                                         features=features)
        t_balance = time.monotonic() - t0
        model.set_weights(initial)
        history = train(model, balanced.images, balanced.labels, epochs=epochs, minutes=minutes,
                        class_weight=weights, seed=random_state, recompile=i == 0,
                        **(train_kwargs or {}))
        pred = predict_faces(model, test_ds.images, tta_flip=tta_flip).argmax(axis=1)
        row = {"method": method, "class_counts": balanced.class_counts(), "n_train": len(balanced),
               "class_weight": None if weights is None else
               {train_ds.classes[k]: round(v, 4) for k, v in weights.items()},
               "epochs": len(history.history.get("loss", [])),
               "balance_seconds": round(t_balance, 2), "seconds": round(time.monotonic() - t0, 2),
               **classification_summary(test_ds.labels, pred, train_ds.classes)}
        rows.append(row)
        if log:
            log(f"{method:>22}: accuracy {row['accuracy']:.4f}  macro-F1 {row['macro_f1']:.4f}  "
                f"({row['epochs']} epochs on {row['n_train']} images, {row['seconds']:.0f} s)")
    return rows
