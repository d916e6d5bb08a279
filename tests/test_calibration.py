"""Calibration metrics: ECE, KL from FER+ votes, temperature scaling."""
import numpy as np
import pytest

from emolib.calibration import (
    TemperatureScaling,
    expected_calibration_error,
    mean_kl_from_votes,
    votes_to_fer2013_distribution,
)


def test_ece_is_zero_when_confidence_equals_accuracy():
    # 10 predictions at confidence 0.8, 8 of them right
    probs = np.tile([0.8, 0.2], (10, 1))
    labels = np.array([0] * 8 + [1] * 2)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0)


def test_ece_measures_overconfidence():
    probs = np.tile([0.9, 0.1], (10, 1))
    labels = np.array([0] * 5 + [1] * 5)   # 50 % right at 90 % confidence
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4)


def test_ece_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="labels must have shape"):
        expected_calibration_error(np.full((3, 2), 0.5), [0, 1])


def test_votes_map_onto_fer2013_order_and_drop_contempt_unknown_nf():
    # FER+ columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
    votes = np.array([[5, 5, 0, 0, 0, 0, 0, 3, 1, 1],
                      [0, 0, 0, 0, 0, 0, 0, 4, 3, 3]])
    dist, kept = votes_to_fer2013_distribution(votes)
    assert kept.tolist() == [True, False]
    # FER2013 order: angry, disgust, fear, happy, sad, surprise, neutral
    assert dist[0].tolist() == [0, 0, 0, 0.5, 0, 0, 0.5]


def test_kl_is_zero_for_the_vote_distribution_itself_and_positive_otherwise():
    votes = np.array([[6, 4, 0, 0, 0, 0, 0, 0, 0, 0]])
    q, _ = votes_to_fer2013_distribution(votes)
    assert mean_kl_from_votes(q, votes)[0] == pytest.approx(0.0, abs=1e-9)
    uniform = np.full((1, 7), 1 / 7)
    kl, n = mean_kl_from_votes(uniform, votes)
    assert n == 1 and kl > 0.5


def test_temperature_above_one_for_an_overconfident_model():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 600)
    right = rng.random(600) < 0.6
    pred = np.where(right, labels, (labels + 1) % 3)
    probs = np.full((600, 3), 0.01)
    probs[np.arange(600), pred] = 0.98   # 98 % confident, 60 % right
    ts = TemperatureScaling().fit(probs, labels)
    assert ts.temperature_ > 1.5
    calibrated = ts.transform(probs)
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    assert (calibrated.argmax(axis=1) == pred).all()
    assert expected_calibration_error(calibrated, labels) < expected_calibration_error(probs, labels)


def test_transform_before_fit_is_a_clear_error():
    with pytest.raises(RuntimeError, match="not fitted"):
        TemperatureScaling().transform(np.full((2, 3), 1 / 3))
