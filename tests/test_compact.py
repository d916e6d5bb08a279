"""The compact CPU-track CNN: architecture, schedule and budget, training, prediction, saving."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from emolib import FER2013_CLASSES  # noqa: E402
from emolib.data import FaceDataset  # noqa: E402
from emolib.models.compact import (CosineSchedule, KeepBest, TimeBudget, as_model_input,  # noqa: E402
                                   compact_cnn, compare_balancing, predict_proba, train)

TINY = dict(widths=(8, 16), convs=(1, 1), dense_units=16, dropout=0.0, augment=False)


def stripes(n, seed=0, size=16):
    """An easy 2-class task: horizontal (0) or vertical (1) stripes, random phase and contrast."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.empty((n, size, size), np.uint8)
    for i, c in enumerate(labels):
        coord = yy if c == 0 else xx
        wave = np.sin(coord * rng.uniform(0.8, 1.2) + rng.uniform(0, 6.3))
        images[i] = np.clip(128 + rng.uniform(40, 100) * wave + rng.normal(0, 10, (size, size)), 0, 255)
    return images, labels


# --- architecture ------------------------------------------------------------------------------------

def test_default_model_has_the_documented_size_and_fits_the_10mb_budget():
    model = compact_cnn()
    assert model.count_params() == 1_720_743
    assert model.count_params() * 4 < 10 * 2**20
    assert model.input_shape == (None, 48, 48, 1) and model.output_shape == (None, 7)


def test_output_is_a_softmax_over_the_classes():
    model = compact_cnn(8, (48, 48, 3), **TINY)
    x = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 3)).astype("float32")
    proba = np.asarray(model(x, training=False))
    assert proba.shape == (4, 8)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert model.layers[-1].get_config()["activation"] == "softmax"


def test_rescaling_inside_the_model_takes_raw_pixels():
    model = compact_cnn(**TINY)
    rescale = model.get_layer("rescale")
    assert rescale.get_config()["scale"] == pytest.approx(1 / 255)
    assert model.layers[1] is rescale  # the first layer after the input


def test_augmentation_acts_in_training_only():
    model = compact_cnn(widths=(8, 16), convs=(1, 1), dense_units=16, dropout=0.0)
    assert any(layer.name.startswith("aug_") for layer in model.layers)
    x = np.random.default_rng(1).integers(0, 256, (3, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(model(x, training=False), model(x, training=False))
    np.testing.assert_allclose(model(x, training=False), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    # training mode draws a random flip/rotation/shift/zoom: the first features change
    feats = keras.Model(model.input, model.get_layer("block1_conv1").output)
    assert not np.allclose(feats(x, training=True), feats(x, training=True))


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_classes=1), "num_classes"),
    (dict(input_shape=(48, 48, 2)), "input_shape"),
    (dict(input_shape=(50, 50, 1)), "divisible"),
    (dict(widths=(8, 16), convs=(1,)), "equal-length"),
    (dict(dropout=1.0), "dropout"),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compact_cnn(**kwargs)


def test_saved_model_loads_with_plain_keras_and_predicts_the_same(tmp_path):
    from emolib.models.saving import load_model, save_model

    model = compact_cnn(**TINY)
    path = save_model(model, tmp_path / "m.keras", classes=FER2013_CLASSES, preprocessing="none",
                      input_size=48, tta_flip=True)
    x = np.random.default_rng(2).integers(0, 256, (5, 48, 48, 1)).astype("uint8")
    plain = keras.models.load_model(path, compile=False)  # no custom objects needed
    np.testing.assert_allclose(plain.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)
    _, meta = load_model(path)
    assert meta["classes"] == list(FER2013_CLASSES) and meta["tta_flip"] is True


# --- inputs and prediction ----------------------------------------------------------------------------

def test_as_model_input_adds_channels_converts_colour_and_resizes():
    grey = np.random.default_rng(3).integers(0, 256, (2, 48, 48)).astype(np.uint8)
    assert as_model_input(grey, (None, 48, 48, 1)).shape == (2, 48, 48, 1)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    out = as_model_input(rgb, (None, 24, 24, 1))
    assert out.shape == (2, 24, 24, 1) and out.dtype == np.uint8
    assert as_model_input(grey, (None, 48, 48, 3)).shape == (2, 48, 48, 3)
    with pytest.raises(ValueError, match="N x H x W"):
        as_model_input(np.zeros((2, 48, 48, 2), np.uint8), (None, 48, 48, 1))


def test_test_time_flip_averages_a_face_and_its_mirror():
    model = compact_cnn(**TINY)
    x = np.random.default_rng(4).integers(0, 256, (6, 48, 48)).astype(np.uint8)
    plain = predict_proba(model, x)
    mirror = predict_proba(model, x[:, :, ::-1])
    np.testing.assert_allclose(predict_proba(model, x, tta_flip=True), (plain + mirror) / 2, rtol=1e-5)
    symmetric = np.concatenate([x[:, :, :24], x[:, :, :24][:, :, ::-1]], axis=2)
    np.testing.assert_allclose(predict_proba(model, symmetric, tta_flip=True), predict_proba(model, symmetric),
                               rtol=1e-5, atol=1e-7)


# --- schedule, budget, best epoch ---------------------------------------------------------------------

def test_cosine_schedule_warms_up_peaks_then_decays_to_the_floor():
    s = CosineSchedule(1e-3, total_steps=100, warmup=0.1, floor=1e-5)
    assert s.rate(0.0) == 0.0
    assert s.rate(0.05) == pytest.approx(0.5e-3)
    assert s.rate(0.1) == pytest.approx(1e-3)
    assert s.rate(0.55) == pytest.approx((1e-3 + 1e-5) / 2)
    assert s.rate(1.0) == pytest.approx(1e-5)
    rates = [s.rate(p) for p in np.linspace(0.1, 1, 50)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))
    with pytest.raises(ValueError, match="exactly one"):
        CosineSchedule(1e-3)


def test_time_budget_reports_progress_and_stops_when_spent():
    now = [100.0]
    budget = TimeBudget(2, clock=lambda: now[0])  # 2 minutes

    class Fake:
        stop_training = False

    budget.set_model(Fake())
    budget.on_train_begin()
    now[0] += 60
    budget.on_train_batch_end(0)
    assert budget.progress == pytest.approx(0.5) and not budget.model.stop_training
    now[0] += 61
    budget.on_train_batch_end(1)
    assert budget.progress == 1.0 and budget.model.stop_training and budget.stopped_early
    schedule = CosineSchedule(1.0, budget=budget, warmup=0.0)
    assert schedule.rate(budget.progress) == pytest.approx(0.0)


def test_keep_best_restores_the_best_epochs_weights():
    model = compact_cnn(**TINY)
    keep = KeepBest()
    keep.set_model(model)
    snapshots = []
    for epoch, acc in enumerate([0.5, 0.7, 0.6]):
        model.set_weights([w + epoch for w in model.get_weights()])
        snapshots.append(model.get_weights())
        keep.on_epoch_end(epoch, {"val_accuracy": acc})
    keep.on_train_end()
    assert keep.best_epoch == 1
    for w, best in zip(model.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(w, best)


def test_a_spent_time_budget_ends_training_early():
    x, y = stripes(256, size=16)
    model = compact_cnn(2, (16, 16, 1), **TINY)
    history = train(model, x, y, epochs=50, minutes=1e-4, batch_size=32)
    assert len(history.history["loss"]) == 1 and history.history["steps"][0] < 8
    assert history.budget.stopped_early


# --- learning ---------------------------------------------------------------------------------------

def test_learns_an_easy_task_after_a_fixed_number_of_epochs():
    x, y = stripes(512, seed=0)
    xv, yv = stripes(128, seed=1)
    model = compact_cnn(2, (16, 16, 1), **TINY)
    history = train(model, x, y, validation=(xv, yv), epochs=4, batch_size=32, learning_rate=1e-2,
                    label_smoothing=0.0, seed=0)
    accuracy = (predict_proba(model, xv).argmax(axis=1) == yv).mean()
    assert accuracy >= 0.9
    assert history.history["lr"][-1] < 1e-4  # the cosine decay ran to its end
    assert max(history.history["val_accuracy"]) == pytest.approx(
        history.history["val_accuracy"][history.best_epoch])


def test_train_rejects_bad_labels_and_missing_budget():
    x, y = stripes(16, size=16)
    model = compact_cnn(2, (16, 16, 1), **TINY)
    with pytest.raises(ValueError, match="epochs, minutes"):
        train(model, x, y)
    with pytest.raises(ValueError, match="class indices"):
        train(model, x, y + 5, epochs=1)


def test_compare_balancing_reports_each_method_on_the_same_test_set():
    x, y = stripes(200, seed=2)
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:20]]  # imbalanced: few of class 1
    usage = np.full(len(keep), "Training", dtype="U11")
    train_ds = FaceDataset(x[keep], y[keep], usage, ("h", "v"))
    xt, yt = stripes(60, seed=3)
    test_ds = FaceDataset(xt, yt, np.full(60, "PublicTest", dtype="U11"), ("h", "v"))
    rows = compare_balancing(train_ds, test_ds, ["none", "ros"], epochs=1,
                             model_kwargs=dict(TINY), train_kwargs={"batch_size": 32}, random_state=0)
    assert [r["method"] for r in rows] == ["none", "ros"]
    assert rows[0]["class_counts"] == {"h": int((y[keep] == 0).sum()), "v": 20}
    assert len(set(rows[1]["class_counts"].values())) == 1
    for r in rows:
        assert r["n"] == 60 and 0 <= r["accuracy"] <= 1 and r["epochs"] == 1
