"""Per-class log-offsets fitted for macro-F1 on a holdout (fit_class_bias)."""
import numpy as np
import pytest
from sklearn.metrics import f1_score

from emolib.calibration import fit_class_bias


def scores(n=900, k=3, rare=2, under=0.0, seed=0):
    """Labels (class ``rare`` ~8 %) and softmax scores; the rare class's log-score is lowered by ``under``."""
    rng = np.random.default_rng(seed)
    y = rng.choice(k, n, p=[0.46, 0.46, 0.08] if k == 3 else None)
    z = 3.0 * np.eye(k)[y] + rng.normal(0, 1.0, (n, k))
    z[:, rare] -= under
    p = np.exp(z)
    return y, p / p.sum(axis=1, keepdims=True)


def macro_f1(y, p, bias):
    k = p.shape[1]
    pred = (np.log(p) + bias).argmax(axis=1)
    return f1_score(y, pred, average="macro", labels=np.arange(k), zero_division=0)


def test_an_under_scored_rare_class_gets_a_positive_offset():
    y, p = scores(under=2.0)
    bias = fit_class_bias(p, y)
    assert bias[2] > 0
    assert bias[2] > max(bias[0], bias[1])


def test_the_offsets_raise_macro_f1_for_an_under_scored_class():
    y, p = scores(under=2.0)
    bias = fit_class_bias(p, y)
    assert macro_f1(y, p, bias) > macro_f1(y, p, np.zeros(3)) + 0.02


def test_the_offsets_never_lower_macro_f1_on_unbiased_scores():
    y, p = scores(under=0.0, seed=5)
    bias = fit_class_bias(p, y)
    assert macro_f1(y, p, bias) >= macro_f1(y, p, np.zeros(3))


def test_the_offsets_are_centred():
    y, p = scores(under=2.0)
    bias = fit_class_bias(p, y)
    assert bias.shape == (3,) and bias.sum() == pytest.approx(0.0, abs=1e-12)


def test_the_offset_differences_come_from_the_given_steps():
    y, p = scores(under=2.0)
    bias = fit_class_bias(p, y, steps=[-0.5, 0.0, 0.5])
    gaps = np.round(np.subtract.outer(bias, bias), 9)
    assert set(gaps.ravel()) <= {-1.0, -0.5, 0.0, 0.5, 1.0} and gaps.any()


def test_a_single_zero_step_leaves_the_scores_alone():
    y, p = scores(under=2.0)
    np.testing.assert_array_equal(fit_class_bias(p, y, steps=[0.0]), np.zeros(3))


def test_zero_rounds_return_zero_offsets():
    y, p = scores(under=2.0)
    np.testing.assert_array_equal(fit_class_bias(p, y, rounds=0), np.zeros(3))


def test_labels_of_another_length_are_refused():
    y, p = scores()
    with pytest.raises(ValueError, match=f"labels: expected {len(p)}"):
        fit_class_bias(p, y[:-1])


def test_probabilities_that_are_not_a_matrix_are_refused():
    y, p = scores()
    with pytest.raises(ValueError, match="N x K"):
        fit_class_bias(p[:, 0], y)



def accuracy(y, p, bias):
    return float(((np.log(p) + bias).argmax(axis=1) == y).mean())


def trade_off_case():
    """Two rare faces share their scores with three majority faces: lifting the rare class wins
    both rare faces (macro-F1 up) and loses three majority ones (accuracy down)."""
    rows = [(0, [0.8, 0.1, 0.1])] * 10 + [(1, [0.1, 0.8, 0.1])] * 10 + [(2, [0.5, 0.1, 0.4])] * 2 \
        + [(0, [0.5, 0.1, 0.4])] * 3
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])


def test_without_a_floor_macro_f1_is_bought_with_accuracy():
    y, p = trade_off_case()
    bias = fit_class_bias(p, y)
    assert macro_f1(y, p, bias) > macro_f1(y, p, np.zeros(3))
    assert accuracy(y, p, bias) < accuracy(y, p, np.zeros(3))


def test_an_accuracy_floor_refuses_offsets_that_cost_more_than_the_allowed_drop():
    y, p = trade_off_case()
    base = accuracy(y, p, np.zeros(3))                   # 23 of 25
    assert accuracy(y, p, fit_class_bias(p, y, max_accuracy_drop=0.0)) == pytest.approx(base)
    assert accuracy(y, p, fit_class_bias(p, y, max_accuracy_drop=0.05)) == pytest.approx(base - 0.04)
