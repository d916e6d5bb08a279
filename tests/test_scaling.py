"""NTechLab's feature normalisation: [-1, 1] rescaling, rootsift and standardisation."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from emolib.features.scaling import Rescale, RootSIFT, Standardise, make_svm_scaler, rootsift


def test_rootsift_follows_its_formula():
    x = np.array([[3.0, -4.0, 0.0, 1.0]])            # ||x||_1 = 8
    np.testing.assert_allclose(rootsift(x), [[np.sqrt(3 / 8), -np.sqrt(4 / 8), 0.0, np.sqrt(1 / 8)]])


@settings(max_examples=50, deadline=None)
@given(arrays(float, (4, 6), elements=st.floats(-1e3, 1e3)))
def test_rootsift_equals_sign_times_sqrt_of_l1_normalised_values(x):
    l1 = np.abs(x).sum(axis=1, keepdims=True)
    expected = np.where(l1 > 0, np.sign(x) * np.sqrt(np.abs(x) / np.where(l1 > 0, l1, 1)), 0)
    np.testing.assert_allclose(rootsift(x), expected, atol=1e-12)
    norms = np.linalg.norm(rootsift(x), axis=1)
    np.testing.assert_allclose(norms[l1[:, 0] > 0], 1.0)       # the Hellinger map: unit L2 rows


def test_rootsift_keeps_a_zero_row_zero_and_the_transformer_matches_the_function():
    x = np.array([[0.0, 0.0], [1.0, -1.0]])
    out = RootSIFT().fit(x).transform(x)
    np.testing.assert_array_equal(out[0], [0, 0])
    np.testing.assert_allclose(out, rootsift(x))


def test_rescale_maps_the_training_range_to_minus_one_one_and_constants_to_zero():
    x = np.array([[0.0, 5.0, 7.0], [10.0, 5.0, 9.0], [5.0, 5.0, 8.0]])
    r = Rescale().fit(x)
    np.testing.assert_allclose(r.transform(x), [[-1, 0, -1], [1, 0, 1], [0, 0, 0]])
    np.testing.assert_allclose(r.transform([[20.0, 0.0, 7.0]]), [[3, 0, -1]])     # extrapolates
    np.testing.assert_allclose(Rescale(clip=True).fit(x).transform([[20.0, 0.0, 7.0]]), [[1, 0, -1]])


def test_standardise_per_feature_and_globally():
    x = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]])
    z = Standardise().fit(x).transform(x)
    np.testing.assert_allclose(z[:, 0], np.array([-1, 0, 1]) / np.sqrt(2 / 3))
    np.testing.assert_allclose(z[:, 1], 0)                       # zero std: centred, not scaled
    g = Standardise(scope="global").fit(x).transform(x)
    assert g.mean() == pytest.approx(0) and g.std() == pytest.approx(1)


def test_scalers_reject_bad_input_clearly():
    with pytest.raises(ValueError, match="2-D"):
        Rescale().fit(np.zeros(3))
    with pytest.raises(ValueError, match="finite.*row 1, column 0"):
        Standardise().fit([[1.0, 2.0], [np.nan, 1.0]])
    with pytest.raises(ValueError, match="3 features.*fitted with 2"):
        Standardise().fit(np.ones((2, 2))).transform(np.ones((1, 3)))
    with pytest.raises(ValueError, match="scope"):
        Standardise(scope="row").fit(np.ones((2, 2)))
    with pytest.raises(ValueError, match="feature_range"):
        Rescale(feature_range=(1, -1)).fit(np.ones((2, 2)))


def test_svm_scaler_chains_rescale_rootsift_standardise_in_seed_order():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 8)) * rng.uniform(1, 100, 8)
    pipe = make_svm_scaler().fit(x)
    assert [name for name, _ in pipe.steps] == ["rescale", "rootsift", "standardise"]
    manual = Standardise().fit(rootsift(Rescale().fit(x).transform(x)))
    np.testing.assert_allclose(pipe.transform(x), manual.transform(rootsift(Rescale().fit(x).transform(x))))
