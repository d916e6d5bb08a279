"""emolib.ensemble on toy members whose answers are known in advance."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from emolib.ensemble import (
    AccuracyWeightedEnsemble,
    CachedMember,
    FixedWeightEnsemble,
    KerasMember,
    MeanEnsemble,
    PrefitMember,
    StackingEnsemble,
    SVMWeightedEnsemble,
    flatten_images,
    hog_features,
)


def table_member(table, classes=(0, 1, 2)):
    """A trained member that answers row i of X (a column of row ids) with ``table[i]``."""
    table = np.asarray(table, float)
    return PrefitMember(lambda X: table[np.asarray(X)[:, 0].astype(int)], classes=classes)


def ids(n):
    return np.arange(n)[:, None]


# Three members, each confidently wrong on a different third of 6 samples (labels 0,1,2,0,1,2).
Y6 = np.array([0, 1, 2, 0, 1, 2])


def _third_wrong(k):
    p = np.full((6, 3), 0.1)
    p[np.arange(6), Y6] = 0.8
    for i in (2 * k, 2 * k + 1):
        p[i] = 0.1
        p[i, (Y6[i] + 1) % 3] = 0.8
    return p


THIRDS = [_third_wrong(k) for k in range(3)]


def test_mean_ensemble_averages_scores_and_fixes_every_member_error():
    ens = MeanEnsemble([table_member(t) for t in THIRDS]).fit(ids(6), Y6)
    np.testing.assert_allclose(ens.predict_proba(ids(6)), np.mean(THIRDS, axis=0))
    np.testing.assert_allclose(ens.weights_, [1 / 3] * 3)
    assert all(acc == pytest.approx(4 / 6) for acc in ens.member_accuracies(ids(6), Y6).values())
    assert ens.score(ids(6), Y6) == 1.0


def test_fixed_weights_are_normalised_and_applied():
    a, b = THIRDS[0], THIRDS[1]
    ens = FixedWeightEnsemble([table_member(a), table_member(b)], weights=[3, 1]).fit(ids(6), Y6)
    np.testing.assert_allclose(ens.weights_, [0.75, 0.25])
    np.testing.assert_allclose(ens.predict_proba(ids(6)), 0.75 * a + 0.25 * b)


@pytest.mark.parametrize("weights, match", [([1], "2 values"), ([1, -1], "non-negative"),
                                            ([0, 0], "positive sum")])
def test_fixed_weights_must_fit_the_members(weights, match):
    ens = FixedWeightEnsemble([table_member(THIRDS[0]), table_member(THIRDS[1])], weights=weights)
    with pytest.raises(ValueError, match=match):
        ens.fit(ids(6), Y6)


def test_accuracy_weights_are_validation_accuracies_normalised():
    y = np.array([0, 1, 0, 1])
    perfect = np.eye(3)[[0, 1, 0, 1]] * 0.9 + 0.1 / 3
    half = np.eye(3)[[0, 0, 0, 0]] * 0.9 + 0.1 / 3          # right on 2 of 4
    members = [("perfect", table_member(perfect)), ("half", table_member(half))]
    ens = AccuracyWeightedEnsemble(members).fit(ids(4), y)
    np.testing.assert_allclose(ens.member_accuracy_, [1.0, 0.5])
    np.testing.assert_allclose(ens.weights_, [2 / 3, 1 / 3])
    np.testing.assert_allclose(ens.predict_proba(ids(4)), 2 / 3 * perfect + 1 / 3 * half)
    squared = AccuracyWeightedEnsemble(members, power=2).fit(ids(4), y)
    np.testing.assert_allclose(squared.weights_, [0.8, 0.2])              # 1 : 0.25
    assert ens.names_ == ["perfect", "half"]


def _labels_and_scores(n, seed, shift):
    """Labels, a member that is right with noise, and one that always names the *next* class."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    good = np.eye(3)[y] * 0.5 + rng.dirichlet(np.ones(3), n) * 0.5
    shifted = np.eye(3)[(y + shift) % 3] * 0.7 + rng.dirichlet(np.ones(3), n) * 0.3
    return y, good, shifted


def test_svm_weights_learn_to_undo_a_systematically_wrong_member():
    # Member "shifted" is always wrong but perfectly informative; "noise" is random.
    y, _, shifted = _labels_and_scores(300, 0, 1)
    noise = np.random.default_rng(1).dirichlet(np.ones(3), 300)
    members = [table_member(shifted), table_member(noise)]
    ens = SVMWeightedEnsemble(members, random_state=0).fit(ids(150), y[:150])
    test = ids(300)[150:]
    assert MeanEnsemble(members).fit(ids(150), y[:150]).score(test, y[150:]) < 0.1
    assert ens.score(test, y[150:]) == 1.0
    assert ens.coef_.shape == (3, 2, 3)
    assert ens.member_weights_[0] > 2 * ens.member_weights_[1]
    np.testing.assert_allclose(ens.predict_proba(test).sum(axis=1), 1.0)


def test_stacking_on_held_out_scores_learns_the_same_mapping():
    y, good, shifted = _labels_and_scores(300, 2, 2)
    ens = StackingEnsemble([table_member(good), table_member(shifted)]).fit(ids(150), y[:150])
    assert ens.score(ids(300)[150:], y[150:]) == 1.0
    assert ens.predict_proba(ids(300)[150:]).shape == (150, 3)


def _informative_and_noise(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = np.column_stack([y + rng.normal(0, 0.6, n), rng.normal(size=(n, 5))])
    return X, y


def first_column(X):
    return X[:, :1]


def noise_columns(X):
    return X[:, 1:]


def test_stacking_learns_from_out_of_fold_scores_not_memorised_ones():
    # A 1-nearest-neighbour member on pure noise is 100 % right on its own training data and at
    # chance elsewhere. Trained on in-sample scores, the stacker would trust it; on out-of-fold
    # scores it learns to follow the informative member.
    X, y = _informative_and_noise(400, 0)
    Xt, yt = _informative_and_noise(400, 1)
    informative = make_pipeline(FunctionTransformer(first_column), LogisticRegression())
    memoriser = make_pipeline(FunctionTransformer(noise_columns), KNeighborsClassifier(1))
    ens = StackingEnsemble([("informative", informative), ("memoriser", memoriser)], prefit=False,
                           cv=5, random_state=0).fit(X, y)
    inf_acc = clone(informative).fit(X, y).score(Xt, yt)
    assert ens.members_[1].score(X, y) == 1.0 and ens.members_[1].score(Xt, yt) < 0.6
    assert ens.score(Xt, yt) >= inf_acc - 0.03
    coef = ens.final_estimator_.coef_[0]          # features: p(informative), p(memoriser)
    assert abs(coef[1]) > 3 * abs(coef[3])


def test_accuracy_weights_without_prefit_come_from_out_of_fold_predictions():
    X, y = _informative_and_noise(300, 0)
    memoriser = make_pipeline(FunctionTransformer(noise_columns), KNeighborsClassifier(1))
    informative = make_pipeline(FunctionTransformer(first_column), LogisticRegression())
    ens = AccuracyWeightedEnsemble([informative, memoriser], prefit=False, random_state=0).fit(X, y)
    assert ens.member_accuracy_[0] > 0.75 and ens.member_accuracy_[1] < 0.65   # not 1.0


def test_members_must_share_classes():
    members = [table_member(THIRDS[0]), table_member(THIRDS[1], classes=(0, 1, 3))]
    with pytest.raises(ValueError, match="member 1: classes"):
        MeanEnsemble(members).fit(ids(6), Y6)


def test_labels_outside_the_members_classes_are_rejected():
    with pytest.raises(ValueError, match=r"labels \[7\]"):
        MeanEnsemble([table_member(THIRDS[0])]).fit(ids(6), np.array([0, 1, 2, 0, 1, 7]))


def test_empty_members_and_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match="non-empty list"):
        MeanEnsemble([]).fit(ids(6), Y6)
    with pytest.raises(ValueError, match="one per row"):
        MeanEnsemble([table_member(THIRDS[0])]).fit(ids(6), Y6[:5])


def test_ensembles_follow_the_sklearn_estimator_contract():
    X, y = _informative_and_noise(120, 0)
    lr = make_pipeline(FunctionTransformer(first_column), LogisticRegression())
    ens = MeanEnsemble([lr, KNeighborsClassifier(5)], prefit=False)
    assert not hasattr(ens, "members_")                    # nothing fitted in __init__
    assert set(ens.get_params()) >= {"members", "prefit", "cv", "random_state"}
    scores = cross_val_score(ens, X, y, cv=3)              # clones and refits per fold
    assert scores.shape == (3,) and scores.mean() > 0.7
    frozen = PrefitMember(clone(lr).fit(X, y))
    assert clone(frozen) is frozen                          # a trained member is never retrained


def test_keras_members_wrap_trained_models_and_grey_images():
    keras = pytest.importorskip("keras")
    inp = keras.Input((4, 4, 1))
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inp))
    model = keras.Model(inp, out)
    grey = np.random.default_rng(0).integers(0, 255, (5, 4, 4)).astype(np.uint8)
    member = KerasMember(model)
    assert clone(member) is member
    np.testing.assert_allclose(member.fit().predict_proba(grey),
                               model.predict(grey[..., None].astype("float32"), verbose=0), atol=1e-6)
    doubled = KerasMember(model, preprocess=lambda X: 2 * X[..., None].astype("float32"), chunk_size=2)
    np.testing.assert_allclose(doubled.fit().predict_proba(grey),      # applied chunk by chunk
                               model.predict(2 * grey[..., None].astype("float32"), verbose=0), atol=1e-6)
    ens = MeanEnsemble([model, PrefitMember(lambda X: np.full((len(X), 3), 1 / 3), classes=[0, 1, 2])])
    ens.fit(grey, np.array([0, 1, 2, 0, 1]))
    assert isinstance(ens.members_[0], KerasMember)
    np.testing.assert_array_equal(ens.classes_, [0, 1, 2])


def test_keras_members_from_a_builder_train_fresh_copies():
    keras = pytest.importorskip("keras")

    def build(num_classes, input_shape):
        inp = keras.Input(input_shape)
        x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inp))
        return keras.Model(inp, keras.layers.Dense(num_classes, activation="softmax")(x))

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    X = (rng.integers(0, 60, (200, 4, 4)) + 180 * y[:, None, None] * (np.arange(4) < 2)).astype(np.uint8)
    member = KerasMember(build_fn=build, epochs=8, batch_size=20, learning_rate=0.05, random_state=0)
    assert clone(member) is not member
    assert member.fit(X, y).score(X, y) > 0.95
    np.testing.assert_array_equal(member.classes_, [0, 1])


def test_flatten_images_scales_pixels_for_sklearn_members():
    X = np.full((2, 3, 3), 255, np.uint8)
    out = flatten_images(X)
    assert out.shape == (2, 9) and out.max() == 1.0


def test_hog_features_give_one_fixed_length_row_per_face():
    grey = np.random.default_rng(0).integers(0, 255, (3, 48, 48)).astype(np.uint8)
    feats = hog_features(grey)
    assert feats.shape == (3, 900)                # 5 x 5 blocks x 2 x 2 cells x 9 orientations
    np.testing.assert_allclose(hog_features(np.repeat(grey[..., None], 3, axis=-1)), feats, atol=1e-5)
    with pytest.raises(ValueError, match="N x H x W"):
        hog_features(grey[0])


def test_cached_members_score_each_split_once_across_ensembles():
    calls = []

    def scores(X):
        calls.append(len(X))
        return THIRDS[0][np.asarray(X)[:, 0]]

    member = CachedMember(PrefitMember(scores, classes=[0, 1, 2]))
    for ens in (MeanEnsemble([member]), AccuracyWeightedEnsemble([member]), StackingEnsemble([member])):
        ens.fit(ids(6), Y6)
        ens.predict(ids(6)[:4])
    assert sorted(calls) == [4, 6]                      # once per distinct array
    np.testing.assert_allclose(member.predict_proba(ids(6)), THIRDS[0])
    assert clone(member) is member
