"""Class balancing on face datasets: counts, dtype and shape, determinism, and inputs left alone."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emolib import FER2013_CLASSES
from emolib.balance import (
    METHODS,
    AugmentOverSampler,
    adasyn,
    augment_images,
    augment_to_balance,
    class_weights,
    random_oversample,
    random_undersample,
    resample,
    smote,
)
from emolib.data import FaceDataset

COUNTS = [30, 6, 20, 40, 25, 15, 35]  # FER2013-like: one rare class, one large


def make_dataset(counts=COUNTS, seed=0, size=48, usage="Training") -> FaceDataset:
    """Grey faces-like images: a class-dependent bright bar on noise, so classes have structure."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(labels)
    images = rng.integers(0, 120, (len(labels), size, size)).astype(np.uint8)
    for i, c in enumerate(labels):
        row = 4 + 5 * c
        images[i, row:row + 4, 8:40] += 120
    return FaceDataset(images, labels.astype(np.int64), np.full(len(labels), usage, dtype="U11"),
                       FER2013_CLASSES, "test:bars")


@pytest.fixture(scope="module")
def ds():
    return make_dataset()


def snapshot(d: FaceDataset):
    return d.images.copy(), d.labels.copy(), d.usage.copy()


def assert_unchanged(d: FaceDataset, snap):
    images, labels, usage = snap
    np.testing.assert_array_equal(d.images, images)
    np.testing.assert_array_equal(d.labels, labels)
    np.testing.assert_array_equal(d.usage, usage)


# --- class counts -----------------------------------------------------------------------------------

def test_random_oversample_brings_every_class_to_the_largest(ds):
    out = random_oversample(ds)
    assert set(out.class_counts().values()) == {max(COUNTS)}


def test_random_undersample_brings_every_class_to_the_smallest(ds):
    out = random_undersample(ds)
    assert set(out.class_counts().values()) == {min(COUNTS)}


def test_smote_brings_every_class_to_the_largest(ds):
    out = smote(ds)
    assert set(out.class_counts().values()) == {max(COUNTS)}


def test_augment_to_balance_brings_every_class_to_the_largest(ds):
    out = augment_to_balance(ds)
    assert set(out.class_counts().values()) == {max(COUNTS)}


def test_adasyn_counts_are_close_to_the_largest_class(ds):
    counts = np.array(list(adasyn(ds).class_counts().values()))
    # ADASYN rounds a share per image, so classes land near the target, never far below it.
    assert counts[3] == max(COUNTS)
    assert np.all(np.abs(counts - max(COUNTS)) <= 0.15 * max(COUNTS))
    assert counts.min() > 4 * min(COUNTS)


def test_sampling_strategy_dict_sets_exact_counts(ds):
    target = {1: 20, 5: 25}
    for fn in (random_oversample, smote, augment_to_balance):
        counts = fn(ds, sampling_strategy=target).class_counts()
        assert counts["disgust"] == 20 and counts["surprise"] == 25
        assert counts["happy"] == 40  # untouched


def test_augment_plus_class_weight_raises_only_the_rarest_class(ds):
    out, weights = resample(ds, "augment+class_weight")
    counts = out.class_counts()
    assert counts["disgust"] == 15  # up to the second-smallest class (surprise)
    assert {k: v for k, v in counts.items() if k != "disgust"} == \
        {k: v for k, v in ds.class_counts().items() if k != "disgust"}
    n = len(out)
    for c, k in enumerate(counts.values()):
        assert weights[c] == pytest.approx(n / (7 * k))


def test_class_weights_follow_the_balanced_rule(ds):
    weights = class_weights(ds)
    n = len(ds)
    assert weights == {c: pytest.approx(n / (7 * k)) for c, k in enumerate(COUNTS)}


def test_absent_classes_get_weight_zero_and_the_present_ones_share_n_over_k():
    assert class_weights(np.array([0, 0, 2]), n_classes=4) == {0: pytest.approx(0.75), 1: 0.0,
                                                               2: pytest.approx(1.5), 3: 0.0}


@pytest.mark.parametrize("method", ["none", "class_weight"])
def test_weight_only_methods_return_the_input_dataset(ds, method):
    out, weights = resample(ds, method)
    assert out is ds
    assert (weights is None) == (method == "none")


# --- dtype, shape, originals, input untouched ----------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_every_method_keeps_uint8_48x48_and_leaves_its_input_unchanged(ds, method):
    snap = snapshot(ds)
    out, _ = resample(ds, method, random_state=3)
    assert out.images.dtype == np.uint8
    assert out.images.shape[1:] == (48, 48)
    assert out.labels.dtype == np.int64 and len(out.labels) == len(out.images)
    assert set(out.usage) == {"Training"}
    assert_unchanged(ds, snap)
    if out is not ds:
        assert not np.shares_memory(out.images, ds.images)
        out.images[:] = 0  # writing to the result must not reach the input
        assert_unchanged(ds, snap)


@pytest.mark.parametrize("method", ["ros", "smote", "adasyn", "augment", "augment+class_weight"])
def test_oversamplers_keep_the_originals_first_in_order(ds, method):
    out, _ = resample(ds, method)
    np.testing.assert_array_equal(out.images[:len(ds)], ds.images)
    np.testing.assert_array_equal(out.labels[:len(ds)], ds.labels)


def test_random_undersample_keeps_only_original_images(ds):
    out = random_undersample(ds)
    originals = {img.tobytes(): c for img, c in zip(ds.images, ds.labels)}
    assert all(originals[img.tobytes()] == c for img, c in zip(out.images, out.labels))


def test_rgb_images_are_balanced_too():
    grey = make_dataset([12, 6, 8, 9, 7, 6, 7], size=24)
    rgb = FaceDataset(np.repeat(grey.images[..., None], 3, axis=-1), grey.labels, grey.usage)
    for method in ("ros", "smote", "augment"):
        out, _ = resample(rgb, method)
        assert out.images.shape[1:] == (24, 24, 3) and out.images.dtype == np.uint8
        assert set(out.class_counts().values()) == {12}


def test_votes_follow_their_rows_through_index_samplers():
    base = make_dataset([6, 2, 3, 4, 3, 2, 5])
    votes = np.arange(len(base) * 10).reshape(-1, 10)
    with_votes = FaceDataset(base.images, base.labels, base.usage, base.classes, base.source, votes)
    out = random_oversample(with_votes)
    for img, v in zip(out.images, out.votes):
        src = np.flatnonzero((base.images == img).all(axis=(1, 2)))[0]
        np.testing.assert_array_equal(v, votes[src])
    assert smote(with_votes, k_neighbors=1).votes is None  # synthetic faces have no annotators


# --- determinism ---------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["ros", "rus", "smote", "adasyn", "augment"])
def test_same_random_state_gives_the_same_dataset(ds, method):
    a, _ = resample(ds, method, random_state=7)
    b, _ = resample(ds, method, random_state=7)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)


@pytest.mark.parametrize("method", ["ros", "smote", "augment"])
def test_another_random_state_gives_other_new_images(ds, method):
    a, _ = resample(ds, method, random_state=1)
    b, _ = resample(ds, method, random_state=2)
    assert not np.array_equal(a.images[len(ds):], b.images[len(ds):])


# --- what the synthetic faces are ---------------------------------------------------------------------

def _on_segment(new, a, b) -> bool:
    """new == rint(a + u (b - a)) for one u in [0, 1], up to rounding."""
    a, b, new = (x.astype(float).ravel() for x in (a, b, new))
    d = b - a
    u = float(np.dot(new - a, d) / np.dot(d, d))
    return -0.01 <= u <= 1.01 and np.abs(a + u * d - new).max() <= 0.6


def test_smote_faces_lie_between_two_faces_of_their_class():
    d = make_dataset([10, 2, 10, 10, 10, 10, 10])
    out = smote(d, k_neighbors=1)
    a, b = d.images[d.labels == 1]
    new = out.images[len(d):][out.labels[len(d):] == 1]
    assert len(new) == 8
    assert all(_on_segment(n, a, b) for n in new)
    assert any(not np.array_equal(n, a) and not np.array_equal(n, b) for n in new)


def test_smote_on_features_interpolates_the_faces_the_features_pair():
    d = make_dataset([10, 3, 10, 10, 10, 10, 10])
    idx = np.flatnonzero(d.labels == 1)
    images = d.images.copy()
    images[idx[2]] = np.clip(images[idx[0]].astype(int) + 1, 0, 255)  # pixel twin of face 0
    d = FaceDataset(images, d.labels, d.usage)
    features = np.random.default_rng(0).normal(size=(len(d), 4)) * 10
    features[idx] = [[0, 0, 0, 0], [0.1, 0, 0, 0], [50, 50, 50, 50]]  # features pair 0 with 1
    out, new_features = smote(d, features=features, k_neighbors=1, return_features=True)
    new = out.images[len(d):][out.labels[len(d):] == 1]
    # face 2 is far in feature space, so every new face is 0-1 (or 1-0) or from face 2 towards its
    # feature neighbour; none is made from the pixel twins 0 and 2.
    a, b, c = images[idx]
    for n in new:
        assert _on_segment(n, a, b) or _on_segment(n, c, a) or _on_segment(n, c, b)
    assert new_features.shape == (len(out), 4)
    np.testing.assert_allclose(new_features[:len(d)], features)


def test_augment_with_flip_only_gives_mirrors_or_copies(ds):
    out = augment_images(ds.images[:20], random_state=0, max_rotation=0, blur=0, noise=0)
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, ds.images[:20])]
    same = [np.array_equal(o, i) for o, i in zip(out, ds.images[:20])]
    assert all(m or s for m, s in zip(mirrored, same))
    assert any(mirrored) and any(same)


def test_augment_changes_pixels_but_keeps_the_face_recognisable():
    from emolib.data.sample import sample_faces

    src = sample_faces(10, seed=1).images
    out = augment_images(src, random_state=0)
    assert not np.array_equal(out, src)
    # flips aside, an augmented copy stays much closer to its source than to other images
    for i, o in enumerate(out):
        d_own = min(np.abs(o.astype(int) - s.astype(int)).mean() for s in (src[i], src[i][:, ::-1]))
        d_other = np.abs(o.astype(int) - src[(i + 1) % 10].astype(int)).mean()
        assert d_own < d_other


# --- errors and the imbalanced-learn contract -----------------------------------------------------

def test_balancing_several_splits_at_once_is_refused():
    d = make_dataset()
    usage = d.usage.copy()
    usage[:5] = "PublicTest"
    mixed = FaceDataset(d.images, d.labels, usage)
    with pytest.raises(ValueError, match="one split"):
        random_oversample(mixed)


def test_unknown_method_and_bad_features_are_refused(ds):
    with pytest.raises(ValueError, match="expected one of"):
        resample(ds, "magic")
    with pytest.raises(ValueError, match="one row per image"):
        smote(ds, features=np.zeros((3, 4)))
    with pytest.raises(TypeError, match="FaceDataset"):
        random_oversample(ds.images)


def test_augment_oversampler_works_in_an_imblearn_pipeline(ds):
    from imblearn.pipeline import make_pipeline
    from sklearn.linear_model import LogisticRegression

    X = ds.images.reshape(len(ds), -1)
    pipe = make_pipeline(AugmentOverSampler(random_state=0), LogisticRegression(max_iter=200))
    pipe.fit(X, ds.labels)
    assert pipe.score(X, ds.labels) > 0.8
    X_res, y_res = AugmentOverSampler(random_state=0).fit_resample(X, ds.labels)
    assert X_res.dtype == np.uint8 and np.bincount(y_res).tolist() == [40] * 7


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counts=st.lists(st.integers(2, 9), min_size=7, max_size=7), seed=st.integers(0, 2**16),
       method=st.sampled_from(["ros", "rus", "smote", "augment"]))
def test_property_samplers_balance_any_counts_and_keep_dtype_and_shape(counts, seed, method):
    d = make_dataset(counts, seed=seed, size=16)
    snap = snapshot(d)
    out, _ = resample(d, method, random_state=seed, **({"k_neighbors": 1} if method == "smote" else {}))
    target = min(counts) if method == "rus" else max(counts)
    assert set(out.class_counts().values()) == {target}
    assert out.images.dtype == np.uint8 and out.images.shape[1:] == (16, 16)
    assert_unchanged(d, snap)


def test_compare_balancing_reports_each_method_on_the_same_test_set(stripes_task, make_faces):
    pytest.importorskip("keras")
    from emolib.balance import compare_balancing

    tiny = dict(widths=(8, 16), convs=(1, 1), dense_units=16, dropout=0.0, augment=False)
    x, y = stripes_task(200, seed=2)
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:20]]  # imbalanced: few of class 1
    train_ds = make_faces(x[keep], y[keep], ("h", "v"))
    xt, yt = stripes_task(60, seed=3)
    test_ds = make_faces(xt, yt, ("h", "v"), usage="PublicTest")
    rows = compare_balancing(train_ds, test_ds, ["none", "ros"], epochs=1,
                             model_kwargs=tiny, train_kwargs={"batch_size": 32}, random_state=0)
    assert [r["method"] for r in rows] == ["none", "ros"]
    assert rows[0]["class_counts"] == {"h": int((y[keep] == 0).sum()), "v": 20}
    assert len(set(rows[1]["class_counts"].values())) == 1
    for r in rows:
        assert r["n"] == 60 and 0 <= r["accuracy"] <= 1 and r["epochs"] == 1
