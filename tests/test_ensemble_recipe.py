"""Ensemble recipes chosen by cross-validation on a holdout, and a FaceNet-sized member behind a 48 px input."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from emolib.ensemble.keras_average import average_model, resized_member  # noqa: E402
from emolib.ensemble.recipe import Recipe, all_recipes, cross_validate_recipes, fit_recipe  # noqa: E402

K = 4


def noisy_probs(y, strength, rng):
    """Probabilities that favour the true class by ``strength`` (0: pure noise)."""
    z = rng.normal(size=(len(y), K))
    z[np.arange(len(y)), y] += strength
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def holdout():
    rng = np.random.default_rng(0)
    y = rng.integers(0, K, 400)
    return [noisy_probs(y, 2.0, rng), noisy_probs(y, 2.0, rng), noisy_probs(y, 0.0, rng)], y


def test_all_recipes_lists_each_subset_with_each_weighting_and_offset_choice():
    recipes = all_recipes(3)
    subsets = {r.members for r in recipes}
    assert subsets == {(0, 1), (0, 2), (1, 2), (0, 1, 2)}
    assert len(recipes) == 4 * 4 and len(set(recipes)) == len(recipes)
    assert {r.members for r in all_recipes(1)} == {(0,)}


def test_cross_validation_leaves_out_the_member_that_is_noise(holdout):
    probs, y = holdout
    ranked = cross_validate_recipes(probs, y, repeats=2, recipes=[r for r in all_recipes(3) if not r.offsets])
    assert ranked[0]["recipe"].members == (0, 1)
    assert ranked[0]["accuracy"] >= ranked[-1]["accuracy"] + 0.05
    assert [d["accuracy"] for d in ranked] == sorted((d["accuracy"] for d in ranked), reverse=True)


def test_cross_validation_is_repeatable_for_a_seed(holdout):
    probs, y = holdout
    recipes = [Recipe((0, 1, 2), "fitted"), Recipe((0, 1))]
    a = cross_validate_recipes(probs, y, recipes, repeats=2, seed=3)
    b = cross_validate_recipes(probs, y, recipes, repeats=2, seed=3)
    assert [(d["recipe"], d["accuracy"]) for d in a] == [(d["recipe"], d["accuracy"]) for d in b]


def test_fit_recipe_gives_zero_weight_to_members_left_out_and_no_offsets_without_them(holdout):
    probs, y = holdout
    fitted = fit_recipe(Recipe((0, 1), "equal", offsets=False), probs, y)
    np.testing.assert_allclose(fitted.weights, [0.5, 0.5, 0.0])
    assert not np.any(fitted.log_bias) and fitted.temperature > 0
    p = fitted.predict_proba(probs)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_array_equal(p.argmax(1), ((probs[0] + probs[1]) / 2).argmax(1))


def test_fitted_weights_favour_the_informative_members(holdout):
    probs, y = holdout
    fitted = fit_recipe(Recipe((0, 1, 2), "fitted"), probs, y)
    assert fitted.weights[2] < 0.2 and abs(fitted.weights.sum() - 1) < 1e-9


@pytest.mark.parametrize("bad, match", [
    (dict(members=()), "distinct member indices"),
    (dict(members=(0, 0)), "distinct member indices"),
    (dict(members=(0,), weights="median"), "'equal' or 'fitted'"),
])
def test_recipe_refuses_bad_settings(bad, match):
    with pytest.raises(ValueError, match=match):
        Recipe(**bad)


def test_cross_validation_refuses_labels_of_another_length(holdout):
    probs, y = holdout
    with pytest.raises(ValueError, match="one per row"):
        cross_validate_recipes(probs, y[:-1], repeats=1)


def test_fit_recipe_refuses_a_member_index_that_does_not_exist(holdout):
    probs, y = holdout
    with pytest.raises(ValueError, match="only 3 members"):
        fit_recipe(Recipe((0, 5)), probs, y)


def rgb_net(size=16, name="rgb_net"):
    keras.utils.set_random_seed(0)
    inp = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(2, 3, name="c")(inp / 255.0)
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inp, out, name=name)


def test_resized_member_upscales_a_grey_face_and_repeats_it_into_rgb():
    import cv2

    net = rgb_net()
    wrapped = resized_member(net, (8, 8, 1))
    assert wrapped.input_shape[1:] == (8, 8, 1) and wrapped.output_shape[-1] == 3
    grey = np.random.default_rng(0).uniform(0, 255, (3, 8, 8)).astype("float32")
    by_hand = np.stack([np.repeat(cv2.resize(g, (16, 16), interpolation=cv2.INTER_LINEAR)[..., None], 3, -1)
                        for g in grey])
    np.testing.assert_allclose(wrapped.predict(grey[..., None], verbose=0), net.predict(by_hand, verbose=0),
                               atol=1e-5)


def test_resized_member_joins_an_average_model_with_48px_members():
    wrapped = resized_member(rgb_net(size=16), (8, 8, 1), name="big")
    keras.utils.set_random_seed(1)
    inp = keras.Input((8, 8, 1))
    small = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inp)), name="small")
    system = average_model([small, wrapped], [0.5, 0.5])
    assert system.predict(np.zeros((2, 8, 8, 1), "float32"), verbose=0).shape == (2, 3)


def test_resized_member_refuses_to_downscale_or_invent_channels():
    with pytest.raises(ValueError, match="only upscales"):
        resized_member(rgb_net(size=16), (32, 32, 1))
    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 2))
    two = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inp)))
    with pytest.raises(ValueError, match="channels"):
        resized_member(two, (8, 8, 1))
