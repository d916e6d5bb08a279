"""emolib.models.feature_heads: holdout split, early stopping, class weights, logistic head."""
import numpy as np
import pytest

from emolib.models.feature_heads import (
    balanced_class_weight,
    build_head,
    fit_head,
    fit_logistic,
    holdout_split,
)


def _blobs(n=300, d=8, k=3, sep=6.0, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    centres = rng.normal(size=(k, d)) * sep
    return (centres[y] + rng.normal(size=(n, d))).astype(np.float32), y


def test_holdout_split_is_stratified():
    y = np.array([0] * 900 + [1] * 90 + [2] * 10)
    _, hold = holdout_split(y, fraction=0.1, seed=0)
    assert np.bincount(y[hold], minlength=3).tolist() == [90, 9, 1]


def test_holdout_split_is_deterministic_for_a_seed():
    y = np.arange(200) % 4
    a = holdout_split(y, fraction=0.2, seed=3)
    b = holdout_split(y, fraction=0.2, seed=3)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))


def test_holdout_split_partitions_the_rows():
    y = np.arange(100) % 2
    fit, hold = holdout_split(y, fraction=0.1)
    assert sorted(np.concatenate([fit, hold]).tolist()) == list(range(100))


def test_holdout_split_rejects_a_bad_fraction():
    with pytest.raises(ValueError, match="fraction"):
        holdout_split(np.arange(10) % 2, fraction=1.5)


def test_early_stopping_stops_before_the_cap_on_separable_data():
    x, y = _blobs()
    fit, hold = holdout_split(y, 0.2)
    head = fit_head("linear", x[fit], y[fit], x[hold], y[hold], num_classes=3, epochs=300, patience=3,
                    batch_size=32, learning_rate=0.05, monitor="val_accuracy")
    assert head.converged and head.epochs_run < 300
    assert head.summary()["stopped_by"] == "early_stopping"


def test_a_head_stopped_by_the_cap_is_not_converged():
    x, y = _blobs()
    fit, hold = holdout_split(y, 0.2)
    head = fit_head("linear", x[fit], y[fit], x[hold], y[hold], num_classes=3, epochs=2, patience=50)
    assert not head.converged and head.epochs_run == 2


def test_fitted_head_classifies_separable_data():
    x, y = _blobs()
    fit, hold = holdout_split(y, 0.2)
    head = fit_head("vggface1", x[fit], y[fit], x[hold], y[hold], num_classes=3, epochs=40, patience=5,
                    batch_size=32)
    assert (head.predict_proba(x[hold]).argmax(1) == y[hold]).mean() > 0.9


def test_class_weights_change_the_training_loss():
    x, y = _blobs(sep=0.5)
    fit, hold = holdout_split(y, 0.2)
    kw = {"num_classes": 3, "epochs": 1, "patience": 1, "batch_size": 64}
    plain = fit_head("linear", x[fit], y[fit], x[hold], y[hold], **kw)
    weighted = fit_head("linear", x[fit], y[fit], x[hold], y[hold], class_weight={0: 5.0, 1: 1.0, 2: 0.2}, **kw)
    assert plain.history["loss"][0] != pytest.approx(weighted.history["loss"][0], rel=1e-3)


def test_sampled_targets_train_on_distributions():
    x, y = _blobs()
    dist = np.eye(3)[y] * 0.8 + 0.2 / 3
    fit, hold = holdout_split(y, 0.2)
    head = fit_head("linear", x[fit], dist[fit], x[hold], y[hold], num_classes=3, epochs=30, patience=3,
                    batch_size=32, learning_rate=0.05, sample_targets=True)
    assert (head.predict_proba(x[hold]).argmax(1) == y[hold]).mean() > 0.9


def test_balanced_class_weight_upweights_the_rare_class():
    w = balanced_class_weight(np.array([0] * 9 + [1]), 3)
    assert w[1] == pytest.approx(5.0) and w[0] == pytest.approx(10 / 18) and w[2] == 1.0


def test_build_head_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        build_head("resnet", 8, 3)


def test_fit_head_rejects_mismatched_feature_widths():
    with pytest.raises(ValueError, match="same d"):
        fit_head("linear", np.zeros((4, 3)), np.zeros(4, int), np.zeros((4, 5)), np.zeros(4, int), num_classes=2)


def test_fit_logistic_reports_convergence():
    x, y = _blobs()
    model, converged = fit_logistic(x, y)
    assert converged and (model.predict(x) == y).mean() > 0.95


def test_fit_logistic_reports_an_iteration_cap():
    x, y = _blobs(sep=0.3)
    _, converged = fit_logistic(x, y, C=1e4, max_iter=1)
    assert not converged
