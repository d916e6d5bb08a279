"""FER+ label modes (emolib.data.ferplus_targets) on hand-made vote rows.

Vote columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF.
Every expected target below was worked out by hand from FERPlus's rules (Barsoum et al. 2016, src/ferplus.py); the
comment on each row shows the arithmetic. ``S`` is the vote sum after single votes are removed.
``None`` means the row is dropped (its result is unknown / not-a-face).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emolib.data import MODES, ferplus_targets


def e(i):
    """One-hot over the 8 emotions."""
    v = np.zeros(8)
    v[i] = 1.0
    return v


def d(**shares):
    """8-class distribution from {column: share}."""
    cols = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
    v = np.zeros(8)
    for k, x in shares.items():
        v[cols.index(k)] = x
    return v


# name: (votes, {mode: expected 8-class distribution or None}); crossentropy == probability.
ROWS = {
    # S = 8 (single votes dropped). majority: 6 > 4. prob: 6 taken reaches 0.75*8 = 6, stop.
    # multi: threshold 0.3*8 = 2.4 keeps only the 6.
    "clear_majority": ([6, 2, 1, 1, 0, 0, 0, 0, 0, 0], {"majority": e(0), "probability": e(0),
                                                        "multi_target": e(0)}),
    # S = 9. majority: 5 > 4.5. prob: 5 < 6.75, then 4 -> 9. multi: 2.7 keeps 5 and 4.
    "two_way_split": ([5, 4, 1, 0, 0, 0, 0, 0, 0, 0], {"majority": e(0),
                                                       "probability": d(neutral=5 / 9, happiness=4 / 9),
                                                       "multi_target": d(neutral=5 / 9, happiness=4 / 9)}),
    # S = 10. majority: 4 is not > 5. prob: both 4s tie and are taken in one round (8 >= 7.5).
    "tie": ([4, 4, 2, 0, 0, 0, 0, 0, 0, 0], {"majority": None, "probability": d(neutral=.5, happiness=.5),
                                             "multi_target": d(neutral=.5, happiness=.5)}),
    # Exactly half is not a majority (5 > 5 is false); prob takes both halves in one round.
    "exact_half": ([5, 5, 0, 0, 0, 0, 0, 0, 0, 0], {"majority": None,
                                                    "probability": d(neutral=.5, happiness=.5),
                                                    "multi_target": d(neutral=.5, happiness=.5)}),
    # Ten single votes are ten outliers: S = 0, nothing is left in any mode.
    "only_single_votes": ([1] * 10, {"majority": None, "probability": None, "multi_target": None}),
    # The single votes go, the lone 2 is everything (S = 2): a clean neutral in every mode.
    "single_votes_removed": ([2, 1, 1, 1, 1, 1, 1, 1, 1, 0], {"majority": e(0), "probability": e(0),
                                                              "multi_target": e(0)}),
    # S = 10, unknown has 6: the result is unknown in every mode, so the row is dropped.
    "unknown_majority": ([2, 0, 0, 0, 0, 0, 0, 0, 6, 2], {"majority": None, "probability": None,
                                                          "multi_target": None}),
    "not_a_face": ([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], {"majority": None, "probability": None,
                                                     "multi_target": None}),
    # S = 10. prob: 4 (neutral), then 3 (happiness) and 3 (unknown) tie: unknown comes after an
    # emotion, so it is dropped again and the loop ends: 4/7, 3/7. multi: 3.0 keeps 4, 3 and the
    # unknown 3 (argmax neutral, kept); the unknown share goes when cut to 8 classes.
    "unknown_beside_emotions": ([4, 3, 0, 0, 0, 0, 0, 0, 3, 0], {
        "majority": None, "probability": d(neutral=4 / 7, happiness=3 / 7),
        "multi_target": d(neutral=4 / 7, happiness=3 / 7)}),
    # S = 10. prob: neutral 4 and unknown 4 tie; unknown is dropped, 4 <= 5 -> unknown, dropped.
    # multi: neutral 4 and unknown 4 both >= 3; argmax takes the first index (neutral): kept.
    "unknown_ties_top": ([4, 0, 0, 0, 0, 0, 0, 0, 4, 2], {"majority": None, "probability": None,
                                                          "multi_target": e(0)}),
    # S = 10. prob: 6 < 7.5; next max is unknown's 2 (first of the unknown/NF tie): dropped, the
    # loop ends, 6 > 5 stays. multi: only 6 >= 3.
    "unknown_and_nf_after_emotion": ([6, 0, 0, 0, 0, 0, 0, 0, 2, 2], {"majority": e(0), "probability": e(0),
                                                                      "multi_target": e(0)}),
    # Row 10435 of fer2013new.csv, the only row with 9 votes. Single votes go: S = 7.
    # majority: 4 > 3.5. prob: 4 < 5.25, then 3 -> 7. multi: 2.1 keeps 4 and 3.
    "nine_vote_row": ([4, 0, 0, 0, 0, 3, 1, 0, 1, 0], {"majority": e(0),
                                                       "probability": d(neutral=4 / 7, disgust=3 / 7),
                                                       "multi_target": d(neutral=4 / 7, disgust=3 / 7)}),
    # 9 votes, none single: S = 9, so 5 is a majority (5 > 4.5) where 5 of 10 would not be.
    # prob: 5 < 6.75, then the 2s tie (3 classes, 9). multi: 2.7 keeps only the 5.
    "nine_votes_majority": ([5, 2, 2, 0, 0, 0, 0, 0, 0, 0], {
        "majority": e(0), "probability": d(neutral=5 / 9, happiness=2 / 9, surprise=2 / 9),
        "multi_target": e(0)}),
    # prob: 3,3 (6 < 7.5), then the 2s tie: 4 classes > the cap of 3 -> dropped. multi: 3,3.
    "cap_exceeded": ([3, 3, 2, 2, 0, 0, 0, 0, 0, 0], {"majority": None, "probability": None,
                                                      "multi_target": d(neutral=.5, happiness=.5)}),
    # S = 9. prob: three 3s tie in the first round: exactly 3 classes is allowed.
    "three_way_tie": ([3, 3, 3, 1, 0, 0, 0, 0, 0, 0], {
        "majority": None, "probability": d(neutral=1 / 3, happiness=1 / 3, surprise=1 / 3),
        "multi_target": d(neutral=1 / 3, happiness=1 / 3, surprise=1 / 3)}),
    # S = 10, threshold 3.0: a class with exactly 30 % (3) is kept, 2 is not.
    "threshold_exactly_30": ([5, 3, 2, 0, 0, 0, 0, 0, 0, 0], {"majority": None,
                                                              "probability": d(neutral=5 / 8, happiness=3 / 8),
                                                              "multi_target": d(neutral=5 / 8, happiness=3 / 8)}),
    # S = 10: the 2s are under 30 %, so multi keeps the 6 alone; prob goes on to 75 % (the 2s).
    "threshold_below_30": ([6, 2, 2, 0, 0, 0, 0, 0, 0, 0], {"majority": e(0),
                                                            "probability": d(neutral=.6, happiness=.2, surprise=.2),
                                                            "multi_target": e(0)}),
    # multi keeps only the 4 (>= 3), but 4 <= 50 % of 10 -> dropped. prob exceeds the cap.
    "multi_target_under_half": ([4, 2, 2, 2, 0, 0, 0, 0, 0, 0], {"majority": None, "probability": None,
                                                                 "multi_target": None}),
    # Order of columns: contempt is column 7 and is a valid 8th class.
    "contempt": ([0, 0, 0, 0, 0, 0, 0, 8, 2, 0], {"majority": e(7), "probability": e(7),
                                                  "multi_target": e(7)}),
}
NAMES = list(ROWS)
VOTES = np.array([ROWS[n][0] for n in NAMES])


def expected(mode):
    key = "probability" if mode == "crossentropy" else mode
    return [ROWS[n][1][key] for n in NAMES]


@pytest.mark.parametrize("mode", MODES)
def test_rows_kept_or_dropped_as_computed_by_hand(mode):
    keep = ferplus_targets(VOTES, mode).keep
    want = np.array([x is not None for x in expected(mode)])
    wrong = [n for n, k, w in zip(NAMES, keep, want) if k != w]
    assert not wrong, f"{mode}: rows kept/dropped wrongly: {wrong}"


@pytest.mark.parametrize("mode", MODES)
def test_distributions_match_hand_computed_values(mode):
    t = ferplus_targets(VOTES, mode)
    kept_names = [n for n, k in zip(NAMES, t.keep) if k]
    want = np.array([x for x in expected(mode) if x is not None])
    for name, got, w in zip(kept_names, t.distribution, want):
        np.testing.assert_allclose(got, w, atol=1e-12, err_msg=f"{mode}: row {name}")


@pytest.mark.parametrize("mode", ["majority", "probability", "crossentropy"])
def test_soft_modes_train_on_the_distribution_itself(mode):
    t = ferplus_targets(VOTES, mode)
    np.testing.assert_array_equal(t.targets, t.distribution)


def test_multi_target_targets_are_smoothed_binary():
    t = ferplus_targets(VOTES, "multi_target")
    row = [n for n, k in zip(NAMES, t.keep) if k].index("unknown_beside_emotions")
    # neutral and happiness accepted: 0.999 * 1 + 0.001 = 1.0; the others 0.001
    np.testing.assert_allclose(t.targets[row], [1.0, 1.0] + [0.001] * 6)
    np.testing.assert_allclose(np.unique(t.targets), [0.001, 1.0])


def test_majority_gives_one_hot_rows():
    t = ferplus_targets(VOTES, "majority")
    assert set(np.unique(t.distribution)) == {0.0, 1.0}
    np.testing.assert_array_equal(t.distribution.sum(axis=1), 1.0)


def test_probability_and_crossentropy_share_their_rules():
    p, c = ferplus_targets(VOTES, "probability"), ferplus_targets(VOTES, "crossentropy")
    np.testing.assert_array_equal(p.keep, c.keep)
    np.testing.assert_array_equal(p.distribution, c.distribution)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 9)), "N x 10"), (-np.ones((1, 10)), "non-negative"), (np.zeros(10), "N x 10")])
def test_bad_vote_arrays_are_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        ferplus_targets(bad, "majority")


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="expected one of"):
        ferplus_targets(VOTES, "vote")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 10), min_size=10, max_size=10), min_size=1, max_size=20),
       st.sampled_from(MODES))
def test_every_mode_gives_valid_distributions(rows, mode):
    votes = np.array(rows)
    t = ferplus_targets(votes, mode)
    assert t.keep.shape == (len(votes),)
    assert t.distribution.shape == (int(t.keep.sum()), 8)
    assert (t.distribution >= 0).all()
    np.testing.assert_allclose(t.distribution.sum(axis=1), 1.0)
    if mode == "majority":   # a kept majority row has one class holding > half of S
        assert set(np.unique(t.distribution)) <= {0.0, 1.0}
