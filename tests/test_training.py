"""Training within a budget: the cosine schedule, the time budget, keeping the best epoch, learning."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from emolib.models.compact import compact_cnn  # noqa: E402
from emolib.models.predict import predict_faces  # noqa: E402
from emolib.models.training import CosineSchedule, KeepBest, TimeBudget, train  # noqa: E402

TINY = dict(widths=(8, 16), convs=(1, 1), dense_units=16, dropout=0.0, augment=False)


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


def test_a_spent_time_budget_ends_training_early(stripes_task):
    x, y = stripes_task(256, size=16)
    model = compact_cnn(2, (16, 16, 1), **TINY)
    history = train(model, x, y, epochs=50, minutes=1e-4, batch_size=32)
    assert len(history.history["loss"]) == 1 and history.history["steps"][0] < 8
    assert history.budget.stopped_early


# --- learning ---------------------------------------------------------------------------------------

def test_learns_an_easy_task_after_a_fixed_number_of_epochs(stripes_task):
    x, y = stripes_task(512, seed=0)
    xv, yv = stripes_task(128, seed=1)
    model = compact_cnn(2, (16, 16, 1), **TINY)
    history = train(model, x, y, validation=(xv, yv), epochs=4, batch_size=32, learning_rate=1e-2,
                    label_smoothing=0.0, seed=0)
    accuracy = (predict_faces(model, xv).argmax(axis=1) == yv).mean()
    assert accuracy >= 0.9
    assert history.history["lr"][-1] < 1e-4  # the cosine decay ran to its end
    assert max(history.history["val_accuracy"]) == pytest.approx(
        history.history["val_accuracy"][history.best_epoch])


def test_train_rejects_bad_labels_and_missing_budget(stripes_task):
    x, y = stripes_task(16, size=16)
    model = compact_cnn(2, (16, 16, 1), **TINY)
    with pytest.raises(ValueError, match="epochs, minutes"):
        train(model, x, y)
    with pytest.raises(ValueError, match="class indices"):
        train(model, x, y + 5, epochs=1)
