"""An ensemble served as one Keras model: mirror, weighted mean, calibration, saving, weight fitting."""
import io
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from emolib.ensemble.keras_average import (  # noqa: E402
    AdjustProbabilities,
    Mirror,
    Shift,
    WeightedMean,
    average_model,
    fit_average_weights,
    shift_images,
)

SHAPE = (6, 8, 1)   # height != width, so a flip along the wrong axis shows


def member(name: str, seed: int, shape=SHAPE, classes: int = 3) -> keras.Model:
    """A small softmax classifier with random weights (its scores depend on pixel positions)."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape)
    out = keras.layers.Dense(classes, activation="softmax")(keras.layers.Flatten()(inp))
    return keras.Model(inp, out, name=name)


def images(n: int = 5, seed: int = 0, shape=SHAPE) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, *shape)).astype("float32")


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def expected(members, weights, x, *, flip=True, temperature=1.0, log_bias=None):
    """The ensemble computed in numpy from the members' own predictions."""
    scores = []
    for m in members:
        p = m.predict(x, verbose=0)
        if flip:
            p = (p + m.predict(x[:, :, ::-1], verbose=0)) / 2
        scores.append(p)
    w = np.asarray(weights, float) / np.sum(weights)
    mean = np.tensordot(w, np.stack(scores), axes=1)
    z = np.log(np.clip(mean, 1e-7, 1)) / temperature + (0 if log_bias is None else np.asarray(log_bias))
    return softmax(z)


# --- layers ---------------------------------------------------------------------------------------

def test_mirror_flips_the_width_axis():
    x = np.arange(2 * 6 * 8 * 1, dtype="float32").reshape(2, 6, 8, 1)
    np.testing.assert_array_equal(np.asarray(Mirror()(x)), x[:, :, ::-1, :])


@pytest.mark.parametrize("dy,dx", [(2, 0), (-2, 0), (0, 1), (-1, -3)])
def test_shift_moves_content_and_repeats_the_edges(dy, dx):
    x = np.arange(2 * 6 * 8 * 1, dtype="float32").reshape(2, 6, 8, 1)
    got = np.asarray(Shift(dy, dx)(x))
    want = np.pad(x, ((0, 0), (3, 3), (3, 3), (0, 0)), mode="edge")[:, 3 + dy:9 + dy, 3 + dx:11 + dx]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(shift_images(x, dy, dx), want)
    assert Shift.from_config(Shift(dy, dx).get_config()).dy == dy


def test_shift_rejects_fractions():
    with pytest.raises(ValueError, match="whole pixels"):
        Shift(0.5, 0)


def test_average_model_with_shifts_averages_every_view():
    members = [member("a", 0), member("b", 1)]
    x = images()
    shifts = [(1, 0), (0, -2)]
    got = average_model(members, [1, 2], tta_shifts=shifts).predict(x, verbose=0)
    per_member = []
    for m in members:
        views = [x] + [shift_images(x, dy, dx) for dy, dx in shifts]
        views += [v[:, :, ::-1] for v in views]
        per_member.append(np.mean([m.predict(v, verbose=0) for v in views], axis=0))
    want = (per_member[0] + 2 * per_member[1]) / 3
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert not np.allclose(got, expected(members, [1, 2], x), atol=1e-4)


def test_average_model_rejects_bad_shifts():
    with pytest.raises(ValueError, match="tta_shifts"):
        average_model([member("a", 0)], tta_shifts=[(0, 0)])
    with pytest.raises(ValueError, match="tta_shifts"):
        average_model([member("a", 0)], tta_shifts=[(1, 0), (1, 0)])


def test_weighted_mean_normalises_its_weights():
    a, b = np.ones((2, 3), "float32"), np.zeros((2, 3), "float32")
    layer = WeightedMean([3, 1])
    assert layer.member_weights == [0.75, 0.25]
    np.testing.assert_allclose(np.asarray(layer([a, b])), 0.75)


def test_weighted_mean_config_round_trips():
    layer = WeightedMean([1, 3], name="wm")
    again = WeightedMean.from_config(layer.get_config())
    assert again.member_weights == [0.25, 0.75] and again.name == "wm"


def test_adjust_probabilities_config_round_trips():
    layer = AdjustProbabilities(1.5, [0.5, 0.0, -0.25], name="cal")
    again = AdjustProbabilities.from_config(layer.get_config())
    assert (again.temperature, again.log_bias, again.name) == (1.5, [0.5, 0.0, -0.25], "cal")


def test_adjust_probabilities_applies_temperature_and_offsets():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], "float32")
    out = np.asarray(AdjustProbabilities(2.0, [0.0, 1.0, 0.0])(p))
    np.testing.assert_allclose(out, softmax(np.log(p) / 2 + [0, 1, 0]), atol=1e-6)


# --- the ensemble model ---------------------------------------------------------------------------

def test_average_model_matches_numpy_with_flip_weights_and_calibration():
    members = [member("a", 0), member("b", 1)]
    x = images()
    model = average_model(members, [1.0, 3.0], temperature=1.7, log_bias=[0.3, -0.2, 0.0])
    got = model.predict(x, verbose=0)
    want = expected(members, [1.0, 3.0], x, temperature=1.7, log_bias=[0.3, -0.2, 0.0])
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)


def test_average_model_without_flip_skips_the_mirror():
    members = [member("a", 0), member("b", 1)]
    x = images()
    model = average_model(members, tta_flip=False)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected(members, [1, 1], x, flip=False), atol=1e-6)
    assert not any(isinstance(layer, Mirror) for layer in model.layers)
    # the members really are position-sensitive, so skipping the mirror changes the answer
    assert not np.allclose(expected(members, [1, 1], x, flip=True), expected(members, [1, 1], x, flip=False))


def test_average_model_of_one_member_with_defaults_is_that_member_on_both_views():
    a = member("a", 0)
    x = images()
    np.testing.assert_allclose(average_model([a]).predict(x, verbose=0), expected([a], [1], x), atol=1e-6)


def test_saved_average_model_reloads_with_the_same_probabilities(tmp_path):
    from emolib.models.pretrained import load_model
    from emolib.models.saving import save_model

    model = average_model([member("a", 0), member("b", 1)], [2, 1], tta_shifts=[(1, 0), (0, -1)],
                          temperature=1.3, log_bias=[0.1, 0.0, -0.1])
    faces = np.random.default_rng(1).integers(0, 256, (4, 6, 8), dtype=np.uint8)
    want = model.predict(faces[..., None].astype("float32"), verbose=0)
    path = save_model(model, tmp_path / "ensemble.keras", classes=["x", "y", "z"], preprocessing="none",
                      input_size=(6, 8))
    got = load_model(path).predict_proba(faces)
    np.testing.assert_allclose(got, want, atol=1e-5)


def weight_entries(path) -> list[str]:
    import h5py

    with zipfile.ZipFile(path) as archive:
        data = archive.read("model.weights.h5")
    names = []
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visit(names.append)
    return names


def test_saved_average_model_of_trained_members_holds_no_optimizer_state(tmp_path):
    from emolib.models.saving import save_model

    a, b = member("a", 0), member("b", 1)
    for m in (a, b):
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        m.fit(images(8), np.arange(8) % 3, verbose=0)
    x = images()
    model = average_model([a, b])
    np.testing.assert_allclose(model.predict(x, verbose=0), expected([a, b], [1, 1], x), atol=1e-6)
    path = save_model(model, tmp_path / "ensemble.keras", classes=["x", "y", "z"], preprocessing="none",
                      input_size=(6, 8))
    entries = weight_entries(path)
    assert entries and not [e for e in entries if "optimizer" in e]
    assert model.count_params() == a.count_params() + b.count_params()


def test_average_model_refuses_no_members():
    with pytest.raises(ValueError, match="at least one"):
        average_model([])


def test_average_model_refuses_members_with_different_input_shapes():
    with pytest.raises(ValueError, match="'b'.*expected"):
        average_model([member("a", 0), member("b", 1, shape=(8, 8, 1))])


def test_average_model_refuses_members_with_different_class_counts():
    with pytest.raises(ValueError, match="'b'.*outputs"):
        average_model([member("a", 0), member("b", 1, classes=4)])


def test_average_model_refuses_duplicate_member_names():
    with pytest.raises(ValueError, match="distinct"):
        average_model([member("a", 0), member("a", 1)])


def test_average_model_refuses_the_wrong_number_of_weights():
    with pytest.raises(ValueError, match="expected 2 .*got 3"):
        average_model([member("a", 0), member("b", 1)], [1, 1, 1])


@pytest.mark.parametrize("n_members", [1, 2])
def test_average_model_refuses_negative_weights(n_members):
    members = [member("a", 0), member("b", 1)][:n_members]
    with pytest.raises(ValueError, match="non-negative"):
        average_model(members, [-1.0] + [1.0] * (n_members - 1))


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan")])
def test_average_model_refuses_a_non_positive_temperature(temperature):
    with pytest.raises(ValueError, match="temperature"):
        average_model([member("a", 0)], temperature=temperature)


def test_average_model_refuses_log_bias_of_the_wrong_length():
    with pytest.raises(ValueError, match="log_bias: expected 3"):
        average_model([member("a", 0)], log_bias=[0.1, 0.2])


# --- fitting the weights --------------------------------------------------------------------------

def holdout(n=400, k=4, seed=0):
    """Labels, an informative member (mostly right) and a noise member (random probabilities)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    good = np.full((n, k), 0.1 / (k - 1))
    good[np.arange(n), y] = 0.9
    wrong = rng.random(n) < 0.2                            # 20 % confidently wrong
    good[wrong] = np.roll(good[wrong], 1, axis=1)
    noise = rng.dirichlet(np.ones(k), n)
    return y, good, noise


def test_fit_average_weights_favours_the_informative_member():
    y, good, noise = holdout()
    w = fit_average_weights([noise, good], y)
    assert w[1] > 0.6 > w[0]


def test_fit_average_weights_are_non_negative_and_sum_to_one():
    y, good, noise = holdout(seed=3)
    w = fit_average_weights([good, noise, (good + noise) / 2], y)
    assert w.shape == (3,) and (w >= 0).all()
    assert w.sum() == pytest.approx(1.0)


def test_fit_average_weights_refuses_members_of_another_row_count():
    y, good, noise = holdout()
    with pytest.raises(ValueError, match="member_probs"):
        fit_average_weights([good[:-1], noise[:-1]], y)


def test_fit_average_weights_refuses_a_single_matrix_instead_of_a_list():
    y, good, _ = holdout()
    with pytest.raises(ValueError, match="member_probs"):
        fit_average_weights(good, y)


def test_fit_average_weights_refuses_labels_out_of_range():
    y, good, noise = holdout(k=4)
    y[0] = 4
    with pytest.raises(ValueError, match="labels: .*0..3"):
        fit_average_weights([good, noise], y)


def test_trained_compact_cnns_nest_with_their_batch_norm_statistics_and_no_optimizer():
    from emolib.models.compact import compact_cnn

    members = []
    for i, name in enumerate(("cnn_a", "cnn_b")):
        keras.utils.set_random_seed(i)
        m = compact_cnn(3, (16, 16, 1), widths=(4, 8), convs=(1, 1), dense_units=8, name=name)
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        m.fit(images(16, shape=(16, 16, 1)) * 255, np.arange(16) % 3, epochs=2, verbose=0)
        members.append(m)
    x = images(4, seed=2, shape=(16, 16, 1)) * 255
    model = average_model(members, [1, 2])
    np.testing.assert_allclose(model.predict(x, verbose=0), expected(members, [1, 2], x), atol=1e-5)
    assert all(getattr(layer, "optimizer", None) is None for layer in model.layers)
