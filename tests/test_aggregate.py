"""Clip/group aggregations against values computed by hand (AMD's median, NTechLab's STAT/fft)."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from emolib.features.aggregate import Aggregate, aggregate, aggregate_clips, fft_features, parse_aggregation

# 3 frames x 2 neurons
X = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 1.0]])
MEAN, MIN, MAX, MEDIAN = [3, 3], [1, 1], [5, 6], [3, 2]
STD = [np.sqrt(8 / 3), np.sqrt(14 / 3)]           # population std: ((1-3)^2+0+(5-3)^2)/3, (1+9+4)/3
# |DFT| of [1, 3, 5] is [9, sqrt 12, sqrt 12]; of [2, 6, 1] is [9, sqrt 21, sqrt 21]; mean over k.
FFT = [(9 + 2 * np.sqrt(12)) / 3, (9 + 2 * np.sqrt(21)) / 3]


@pytest.mark.parametrize("how, expected", [
    ("mean", MEAN), ("std", STD), ("min", MIN), ("max", MAX), ("median", MEDIAN), ("fft", FFT),
    ("stat", MEAN + STD + MIN + MAX), ("stat*", MEAN + STD + MIN),
    ("stat*+fft", MEAN + STD + MIN + FFT), ("mean+max", MEAN + MAX),
])
def test_each_aggregation_matches_hand_computed_values(how, expected):
    np.testing.assert_allclose(aggregate(X, how), expected, rtol=1e-12)


def test_fft_gives_one_value_per_neuron_as_in_ntechlab():
    assert fft_features(np.random.default_rng(0).normal(size=(17, 4096))).shape == (4096,)


def test_fft_with_n_coefficients_gives_leading_magnitudes_coefficient_major():
    np.testing.assert_allclose(fft_features(X, n_coefficients=2), [3, 3, np.sqrt(12) / 3, np.sqrt(21) / 3])
    assert fft_features(X, n_coefficients=5).shape == (10,)       # zero-padded past the clip length


def test_fft_of_a_constant_neuron_is_its_value_whatever_the_clip_length():
    assert fft_features(np.full((5, 1), -2.0))[0] == pytest.approx(2.0)
    assert fft_features(np.full((50, 1), -2.0))[0] == pytest.approx(2.0)


def test_single_frame_clip_has_zero_std_and_fft_equal_to_magnitude():
    one = np.array([[2.0, -3.0]])
    np.testing.assert_allclose(aggregate(one, "stat*+fft"), [2, -3, 0, 0, 2, -3, 2, 3])


def test_names_are_case_insensitive_and_keep_their_order():
    assert parse_aggregation("STAT* + FFT") == ["stat*", "fft"]
    np.testing.assert_allclose(aggregate(X, "MAX+mean"), MAX + MEAN)


@pytest.mark.parametrize("how", ["average", "stat+", "", "mean+sum"])
def test_unknown_aggregation_names_the_bad_part(how):
    with pytest.raises(ValueError, match="aggregation"):
        aggregate(X, how)


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.zeros(4), np.zeros((2, 2, 2))])
def test_descriptors_must_be_a_non_empty_matrix(bad):
    with pytest.raises(ValueError, match="N x D"):
        aggregate(bad, "mean")


def test_aggregate_clips_stacks_one_row_per_clip_and_names_the_bad_clip():
    clips = [X, X[:1] * 2]
    np.testing.assert_allclose(aggregate_clips(clips, "mean"), [MEAN, [2, 4]])
    with pytest.raises(ValueError, match="sequence 1"):
        aggregate_clips([X, np.zeros((0, 2))], "mean")


def test_aggregate_transformer_feeds_a_classifier_in_a_pipeline():
    rng = np.random.default_rng(0)
    clips = [rng.normal(loc=k % 2 * 3, size=(int(rng.integers(2, 9)), 3)) for k in range(20)]
    y = np.arange(20) % 2
    model = make_pipeline(Aggregate("stat*"), LogisticRegression()).fit(clips, y)
    assert model.score(clips, y) == 1.0
    assert Aggregate("mean+fft").fit_transform(clips).shape == (20, 6)
