"""Training on FER+ targets: the multi-target loss, per-epoch re-sampling, heads, a learning check."""
import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from emolib.data.ferplus import majority_labels, to_head, training_targets  # noqa: E402
from emolib.models.ferplus_training import (  # noqa: E402
    MultiTargetLoss,
    VoteSequence,
    evaluate_majority,
    ferplus_loss,
    pocket_net,
    train_ferplus,
)


def test_multi_target_loss_matches_hand_computed_value():
    t = np.array([[0.999, 0.999, 0.001, 0.001],      # two accepted classes
                  [0.001, 0.999, 0.001, 0.001]], np.float32)
    p = np.array([[0.2, 0.5, 0.2, 0.1],
                  [0.7, 0.1, 0.1, 0.1]], np.float32)
    # max(t*p): 0.999*0.5 = 0.4995 and 0.999*0.1 = 0.0999
    want = [-math.log(0.4995), -math.log(0.0999)]    # 0.694148, 2.303586
    per_sample = MultiTargetLoss(reduction=None)(t, p)
    np.testing.assert_allclose(np.asarray(per_sample), want, rtol=1e-5)
    np.testing.assert_allclose(float(MultiTargetLoss()(t, p)), np.mean(want), rtol=1e-5)


def test_multi_target_loss_does_not_care_which_accepted_class_wins():
    t = np.array([[0.999, 0.999, 0.001]] * 2, np.float32)
    p = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05]], np.float32)
    loss = np.asarray(MultiTargetLoss(reduction=None)(t, p))
    assert loss[0] == pytest.approx(loss[1])
    soft = np.asarray(keras.losses.CategoricalCrossentropy(reduction=None)(t / t.sum(1, keepdims=True), p))
    assert loss[0] < soft[0]          # cross-entropy would push towards a 50/50 split


def test_each_mode_gets_its_ferplus_loss():
    assert isinstance(ferplus_loss("multi_target"), MultiTargetLoss)
    for mode in ("majority", "probability", "crossentropy"):
        assert isinstance(ferplus_loss(mode), keras.losses.CategoricalCrossentropy)
    with pytest.raises(ValueError, match="expected one of"):
        ferplus_loss("hard")


def test_multi_target_loss_survives_keras_serialisation():
    loss = keras.losses.deserialize(keras.losses.serialize(MultiTargetLoss(clip=1e-6)))
    assert isinstance(loss, MultiTargetLoss) and loss.clip == 1e-6


def test_fer2013_head_reorders_classes_and_drops_contempt():
    # FER+ order: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt
    dist = np.array([[0.6, 0, 0, 0, 0, 0, 0, 0.4],       # neutral, some contempt
                     [0, 0.25, 0, 0, 0.75, 0, 0, 0],      # happiness + anger
                     [0.3, 0, 0, 0, 0, 0, 0, 0.7],        # mostly contempt
                     [0.5, 0, 0, 0, 0, 0, 0, 0.5]])       # tie: argmax is neutral (first index)
    out, valid = to_head(dist, "fer2013")
    # FER2013 order: angry, disgust, fear, happy, sad, surprise, neutral
    np.testing.assert_allclose(out[0], [0, 0, 0, 0, 0, 0, 1.0])
    np.testing.assert_allclose(out[1], [0.75, 0, 0, 0.25, 0, 0, 0])
    np.testing.assert_array_equal(valid, [True, True, False, True])


def test_training_targets_for_the_fer2013_head_leave_out_contempt_rows():
    votes = np.array([[8, 2, 0, 0, 0, 0, 0, 0, 0, 0],      # neutral
                      [0, 0, 0, 0, 0, 0, 0, 9, 1, 0],      # contempt
                      [0, 5, 0, 0, 5, 0, 0, 0, 0, 0]])     # happiness / anger tie
    plus = training_targets(votes, "multi_target", "ferplus")
    fer = training_targets(votes, "multi_target", "fer2013")
    np.testing.assert_array_equal(plus.index, [0, 1, 2])
    np.testing.assert_array_equal(fer.index, [0, 2])
    np.testing.assert_allclose(fer.targets[1], [1.0, .001, .001, 1.0, .001, .001, .001])
    assert fer.classes[fer.labels[0]] == "neutral"
    idx, labels = majority_labels(votes, "fer2013")          # the tie has no majority
    np.testing.assert_array_equal(idx, [0])


def _distribution_rows(n=64):
    rng = np.random.default_rng(0)
    return rng.dirichlet(np.ones(8), n)


def test_probability_targets_are_one_hot_and_change_every_epoch():
    dist = _distribution_rows()
    seq = VoteSequence(np.zeros((64, 6, 6), np.uint8), dist, "probability", batch_size=16, shuffle=False)
    seq.on_epoch_begin()                    # what Keras calls before each epoch
    _, y0 = seq[0]
    seq.on_epoch_begin()
    _, y1 = seq[0]
    assert set(np.unique(y0)) == {0.0, 1.0} and (y0.sum(axis=1) == 1).all()
    assert not np.array_equal(y0, y1)
    assert not np.array_equal(seq.epoch_targets(1), seq.epoch_targets(2))
    np.testing.assert_array_equal(seq.epoch_targets(1), seq.epoch_targets(1))   # reproducible


def test_probability_draws_follow_the_distribution_over_many_epochs():
    dist = np.array([[0.5, 0.3, 0.2, 0, 0, 0, 0, 0]])
    seq = VoteSequence(np.zeros((1, 4, 4), np.uint8), dist, "probability", seed=3)
    draws = np.stack([seq.epoch_targets(e)[0] for e in range(3000)])
    freq = draws.mean(axis=0)
    np.testing.assert_allclose(freq, dist[0], atol=0.03)      # sd of each share is about 0.009
    assert freq[3:].sum() == 0                                 # never a class with no share


@pytest.mark.parametrize("mode", ["majority", "crossentropy", "multi_target"])
def test_other_modes_serve_the_same_targets_every_epoch(mode):
    t = training_targets(np.array([[5, 4, 1, 0, 0, 0, 0, 0, 0, 0]] * 4), mode)
    seq = VoteSequence(np.zeros((4, 4, 4), np.uint8), t.targets, mode, shuffle=False)
    _, y0 = seq[0]
    seq.on_epoch_begin()
    seq.on_epoch_begin()
    np.testing.assert_array_equal(seq[0][1], y0)


def test_sequence_rejects_targets_that_do_not_match_images():
    with pytest.raises(ValueError, match="one row per image"):
        VoteSequence(np.zeros((3, 4, 4), np.uint8), np.ones((2, 8)) / 8, "crossentropy")
    with pytest.raises(ValueError, match="distributions"):
        VoteSequence(np.zeros((2, 4, 4), np.uint8), np.ones((2, 8)), "probability")


# ------------------------------------------------------------------ learning on a toy FER+ set
def _tiny_model(num_classes, input_shape):
    inp = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 255)(inp)
    x = keras.layers.Flatten()(x)
    return keras.Model(inp, keras.layers.Dense(num_classes, activation="softmax")(x))


def _toy_set(n, seed):
    """8x8 images with a bright cell whose position is the FER+ class. 8 of 10 votes agree and 2
    name the next class; every 4th row is split 7/3, so multi_target accepts two classes there."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 8, n)
    images = rng.integers(0, 60, (n, 8, 8)).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i, (c // 4) * 4:(c // 4) * 4 + 4, (c % 4) * 2:(c % 4) * 2 + 2] = 250
    votes = np.zeros((n, 10), int)
    split = np.arange(n) % 4 == 0
    votes[np.arange(n), labels] = np.where(split, 7, 8)
    votes[np.arange(n), (labels + 1) % 8] += np.where(split, 3, 2)
    return images, votes, labels


@pytest.mark.parametrize("mode", ["majority", "probability", "crossentropy", "multi_target"])
def test_every_mode_learns_the_majority_label(mode):
    x, v, _ = _toy_set(240, 0)
    xv, vv, _ = _toy_set(120, 1)
    run = train_ferplus(_tiny_model, x, v, mode=mode, epochs=6, batch_size=24, learning_rate=0.02, seed=0)
    assert run.epochs_run == 6 and run.n_train == 240
    acc = evaluate_majority(run.model, xv, vv)["accuracy"]
    assert acc >= 0.95, f"{mode}: majority accuracy {acc:.3f}"


def test_probability_mode_resamples_inside_keras_fit():
    x, v, _ = _toy_set(64, 0)
    t = training_targets(v, "probability")
    served = {}

    class Recording(VoteSequence):
        def __getitem__(self, i):
            batch = super().__getitem__(i)
            served[self.epoch, i] = batch[1]
            return batch

    seq = Recording(x, t.targets, "probability", batch_size=32, shuffle=False)
    model = _tiny_model(8, (8, 8, 1))
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(seq, epochs=3, verbose=0)
    assert seq.epochs_begun == 3 and {e for e, _ in served} == {0, 1, 2}
    first = [np.concatenate([served[e, 0], served[e, 1]]) for e in range(3)]
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[1], first[2])
    for e in range(3):                       # each Keras epoch served that epoch's own draw
        np.testing.assert_array_equal(first[e], seq.epoch_targets(e))


def test_fer2013_head_trains_seven_outputs_and_is_scored_without_contempt():
    x, v, labels = _toy_set(120, 0)
    run = train_ferplus(_tiny_model, x, v, mode="crossentropy", head="fer2013", epochs=1, seed=0,
                        val_images=x[:30], val_votes=v[:30])
    assert "val_accuracy" in run.history            # scored on majority labels each epoch
    assert run.model.output_shape[-1] == 7
    assert run.n_train == int((labels != 7).sum())           # contempt majority rows have no class
    result = evaluate_majority(run.model, x, v, head="fer2013")
    assert result["n"] == int((labels != 7).sum()) and result["n_rows"] == 120
    assert len(result["classes"]) == 7


def test_time_budget_stops_training_early():
    x, v, _ = _toy_set(64, 0)
    run = train_ferplus(_tiny_model, x, v, mode="majority", epochs=50, batch_size=16, time_budget_s=1e-6)
    assert run.stopped_by_budget and run.epochs_run == 1


def test_train_ferplus_checks_its_inputs():
    x, v, _ = _toy_set(10, 0)
    with pytest.raises(ValueError, match="one vote row per image"):
        train_ferplus(_tiny_model, x, v[:5], mode="majority")
    with pytest.raises(ValueError, match="head"):
        train_ferplus(_tiny_model, x, v, mode="majority", head="fer")
    with pytest.raises(ValueError, match="give both"):
        train_ferplus(_tiny_model, x, v, mode="majority", val_images=x)
    with pytest.raises(ValueError, match="survive"):
        train_ferplus(_tiny_model, x, np.ones((10, 10), int), mode="majority")


def test_the_compact_cpu_track_cnn_trains_on_ferplus_targets():
    from functools import partial

    from emolib.models.compact import compact_cnn

    x, v, _ = _toy_set(64, 0)
    x16 = np.kron(x, np.ones((2, 2), np.uint8))               # 16 x 16, divisible by 2**2
    small = partial(compact_cnn, widths=(4, 8), convs=(1, 1), dense_units=8, augment=False)
    run = train_ferplus(small, x16, v, mode="multi_target", epochs=1, batch_size=32, seed=0)
    assert run.model.output_shape[-1] == 8 and run.epochs_run == 1
    assert np.isfinite(run.history["loss"]).all()


def test_pocket_net_learns_edges_of_the_toy_faces():
    x, v, _ = _toy_set(240, 0)
    xv, vv, _ = _toy_set(120, 1)
    x24, xv24 = (np.kron(a, np.ones((3, 3), np.uint8)) for a in (x, xv))   # 24 x 24
    run = train_ferplus(pocket_net, x24, v, mode="crossentropy", epochs=6, batch_size=24,
                        learning_rate=0.03, seed=0)
    assert run.model.get_layer("edges").trainable is False
    assert evaluate_majority(run.model, xv24, vv)["accuracy"] >= 0.9
    with pytest.raises(ValueError, match="grey"):
        pocket_net(8, (48, 48, 3))
