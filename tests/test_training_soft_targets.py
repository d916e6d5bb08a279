"""train() with soft targets: N x classes rows summing to 1, checked before any training."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from emolib.models.compact import compact_cnn  # noqa: E402
from emolib.models.training import train  # noqa: E402

TINY = dict(widths=(4, 8), convs=(1, 1), dense_units=8, dropout=0.0, augment=False)


def tiny_model(seed=0, classes=3):
    keras.utils.set_random_seed(seed)
    return compact_cnn(classes, (16, 16, 1), **TINY)


def faces(n=24, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 16, 16), dtype=np.uint8)


def soft(labels, classes=3, blend=0.4, seed=0):
    """Labels blended with a random distribution: rows sum to 1."""
    dist = np.random.default_rng(seed).dirichlet(np.ones(classes), len(labels))
    return (1 - blend) * np.eye(classes)[labels] + blend * dist


def test_train_on_soft_targets_runs_every_epoch_with_a_finite_loss():
    y = np.arange(24) % 3
    history = train(tiny_model(), faces(), soft(y), epochs=2, batch_size=8)
    assert len(history.history["loss"]) == 2
    assert np.isfinite(history.history["loss"]).all()


def test_one_hot_soft_targets_train_exactly_like_class_indices():
    x, y = faces(), np.arange(24) % 3
    hard = train(tiny_model(), x, y, epochs=2, batch_size=8).history["loss"]
    onehot = train(tiny_model(), x, np.eye(3)[y], epochs=2, batch_size=8).history["loss"]
    np.testing.assert_allclose(onehot, hard, rtol=1e-5)


def test_soft_targets_change_what_is_learnt():
    x, y = faces(), np.arange(24) % 3
    hard = train(tiny_model(), x, y, epochs=2, batch_size=8).history["loss"]
    blended = train(tiny_model(), x, soft(y, blend=0.9), epochs=2, batch_size=8).history["loss"]
    assert not np.allclose(blended, hard)


def test_train_names_the_soft_target_row_that_does_not_sum_to_one():
    y = soft(np.arange(24) % 3)
    y[5] *= 1.5
    with pytest.raises(ValueError, match="row 5 "):
        train(tiny_model(), faces(), y, epochs=1)


def test_train_names_the_soft_target_row_with_a_negative_entry():
    y = soft(np.arange(24) % 3)
    y[7] = [1.2, -0.2, 0.0]                      # sums to 1, but is not a distribution
    with pytest.raises(ValueError, match="non-negative.*row 7 "):
        train(tiny_model(), faces(), y, epochs=1)


def test_train_refuses_a_nan_soft_target_row():
    y = soft(np.arange(24) % 3)
    y[2, 1] = np.nan
    with pytest.raises(ValueError, match="row 2 "):
        train(tiny_model(), faces(), y, epochs=1)


def test_train_refuses_soft_targets_with_the_wrong_number_of_columns():
    y = soft(np.arange(24) % 4, classes=4)
    with pytest.raises(ValueError, match="need 3 columns.*got 4"):
        train(tiny_model(), faces(), y, epochs=1)


def test_train_refuses_targets_of_three_dimensions():
    with pytest.raises(ValueError, match="class indices .*or soft targets"):
        train(tiny_model(), faces(), np.zeros((24, 3, 1)), epochs=1)
