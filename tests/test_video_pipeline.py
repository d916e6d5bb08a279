"""The clip classifiers of NTechLab: SVMs with CV-chosen C, score averaging, the class-prior
correction, augmentation averaging and the LSTM with frame shuffling, on the sample clips."""
import cv2
import numpy as np
import pytest

from emolib.data.afew import load_afew
from emolib.data.sample import write_sample_clips
from emolib.features.aggregate import aggregate_clips
from emolib.video import (
    FrameTransform,
    LinearSVMClassifier,
    PriorCorrection,
    ScoreAverage,
    augmented_clip_features,
    clip_features,
    frame_transforms,
    hog_backbone,
    load_clip_faces,
    pad_sequences,
    prior_weights,
    shuffle_within,
)

CHANCE = 1 / 7


def pixels(images):
    """A second, network-free frame feature: 12 x 12 grey thumbnails."""
    return np.stack([cv2.resize(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), (12, 12), interpolation=cv2.INTER_AREA)
                     for im in images]).reshape(len(images), -1) / 255.0


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """The sample profile's 70 clips: face crops and HOG / pixel frame features."""
    root = tmp_path_factory.mktemp("afew")
    write_sample_clips(root, 70, seed=0)
    index = load_afew(root)
    faces = load_clip_faces(index.paths, detector="centre", size=48)
    return {"index": index, "faces": faces, "train": index.splits == "Train",
            "hog": clip_features(faces.crops, hog_backbone(48)), "pixels": clip_features(faces.crops, pixels)}


# -- class-prior correction ------------------------------------------------------------------

def test_prior_correction_reproduces_ntechlab_class_weights_from_its_test_frequencies():
    test_counts = [98, 40, 70, 144, 193, 80, 28]               # NTechLab, Table 5: An Di Fe Ha Ne Sa Su
    seed_weights = [0.15, 0.10, 0.13, 0.19, 0.21, 0.14, 0.08]
    np.testing.assert_allclose(prior_weights(test_counts).round(2), seed_weights)
    np.testing.assert_allclose(PriorCorrection(test_counts).fit().weights_.round(2), seed_weights)


def test_prior_correction_with_uniform_priors_changes_nothing():
    P = np.random.default_rng(0).dirichlet(np.ones(7), size=20)
    np.testing.assert_allclose(PriorCorrection(np.ones(7)).fit(P).transform(P), P)
    np.testing.assert_allclose(PriorCorrection([5] * 7, source_frequencies=[2] * 7).fit_transform(P), P)


def test_prior_correction_moves_predictions_towards_frequent_classes():
    P = np.array([[0.5, 0.5], [0.55, 0.45]])
    out = PriorCorrection([1, 9], power=0.5).fit(P).transform(P)           # weights 1 : 3
    np.testing.assert_allclose(out[0], [0.25, 0.75])
    assert out.argmax(axis=1).tolist() == [1, 1]
    np.testing.assert_allclose(out.sum(axis=1), 1)
    # dividing by the training frequencies: (target / source) ** power
    np.testing.assert_allclose(PriorCorrection([1, 9], source_frequencies=[1, 9]).fit_transform(P), P)


def test_prior_correction_rejects_margins_and_wrong_widths():
    with pytest.raises(ValueError, match="non-negative"):
        PriorCorrection([1, 1]).fit().transform([[-1.0, 2.0]])
    with pytest.raises(ValueError, match="n x 3"):
        PriorCorrection([1, 1, 1]).fit().transform(np.ones((2, 2)))
    with pytest.raises(ValueError, match="frequencies"):
        prior_weights([1, -1, 2])


# -- frame shuffling and padding ---------------------------------------------------------------

def test_shuffling_permutes_only_within_each_clips_real_frames():
    lengths = np.array([5, 1, 8, 3])
    X, got = pad_sequences([np.arange(n * 2, dtype=float).reshape(n, 2) + 100 * i
                            for i, n in enumerate(lengths)], value=-1.0)
    assert got.tolist() == lengths.tolist() and X.shape == (4, 8, 2)
    rng = np.random.default_rng(0)
    orders = set()
    for _ in range(20):
        S = shuffle_within(X, lengths, rng)
        for i, n in enumerate(lengths):
            np.testing.assert_array_equal(S[i, n:], X[i, n:])                      # padding untouched
            assert sorted(map(tuple, S[i, :n])) == sorted(map(tuple, X[i, :n]))   # same frames
            np.testing.assert_array_equal(S[i, :n, 1] - S[i, :n, 0], 1)           # frames kept whole
        orders.add(tuple(S[2, :, 0]))
    assert len(orders) > 10                                                        # new orders each call
    np.testing.assert_array_equal(X[0, :5, 0], [0, 2, 4, 6, 8])                    # input not modified


def test_pad_sequences_thins_long_clips_evenly():
    X, lengths = pad_sequences([np.arange(10.0)[:, None], np.ones((2, 1))], max_len=4)
    assert X[0, :, 0].tolist() == [0, 3, 6, 9] and lengths.tolist() == [4, 2]
    with pytest.raises(ValueError, match="one feature width"):
        pad_sequences([np.ones((2, 3)), np.ones((2, 4))])


# -- augmentation averaging ----------------------------------------------------------------------

def test_eighteen_transforms_identity_first_and_features_averaged():
    transforms = frame_transforms()
    assert len(transforms) == 18 and transforms[0].is_identity
    assert len(set(transforms)) == 18
    crops = [np.random.default_rng(0).integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)]
    mean_pixel = lambda images: images.reshape(len(images), -1, 3).mean(axis=1)
    flips = [FrameTransform(), FrameTransform(flip=True)]
    plain, averaged = augmented_clip_features(crops, mean_pixel, transforms=flips)
    np.testing.assert_allclose(averaged[0], plain[0], rtol=1e-6)                   # a flip keeps the mean
    edge = lambda images: images[:, :, :1].reshape(len(images), -1).mean(axis=1, keepdims=True)
    plain, averaged = augmented_clip_features(crops, edge, transforms=flips)
    flipped = crops[0][:, :, -1:].reshape(3, -1).mean(axis=1, keepdims=True)
    np.testing.assert_allclose(averaged[0], (plain[0] + flipped) / 2, rtol=1e-6)


def test_keras_backbone_resizes_turns_grey_cuts_at_a_layer_and_pools():
    import keras

    from emolib.video import KerasBackbone

    inputs = keras.Input((16, 16, 1))
    conv = keras.layers.Conv2D(3, 3, name="conv")(inputs)
    top = keras.layers.Dense(2, name="top")(keras.layers.GlobalAveragePooling2D()(conv))
    model = keras.Model(inputs, top)
    features = KerasBackbone(model, layer="conv", preprocess=lambda x: x / 255.0)(
        np.full((4, 40, 30, 3), 255, np.uint8))
    expected = keras.Model(inputs, conv).predict(np.ones((1, 16, 16, 1)), verbose=0).mean(axis=(1, 2))
    assert features.shape == (4, 3)
    np.testing.assert_allclose(features, np.repeat(expected, 4, axis=0), rtol=1e-5)
    with pytest.raises(ValueError, match="not in the model"):
        KerasBackbone(model, layer="fc7")


def test_any_transformer_or_callable_is_a_backbone():
    class Extractor:                                   # the DescriptorExtractor interface
        def transform(self, images):
            return np.asarray(images, float).mean(axis=(1, 2))

    crops = [np.full((2, 8, 8, 3), 10, np.uint8), np.full((3, 8, 8, 3), 20, np.uint8)]
    out = clip_features(crops, Extractor())
    assert [f.shape for f in out] == [(2, 3), (3, 3)] and out[1][0, 0] == 20
    with pytest.raises(TypeError, match="backbone"):
        clip_features(crops, "vgg16")


def test_backbone_output_shape_is_checked():
    with pytest.raises(ValueError, match="N x D"):
        clip_features([np.zeros((2, 8, 8, 3), np.uint8)], lambda images: np.zeros(5))


# -- learning on the sample clips ------------------------------------------------------------------

def test_svm_chooses_c_by_cross_validation_and_learns_the_sample_clips(clips):
    y, tr = clips["index"].labels, clips["train"]
    X = aggregate_clips(clips["hog"], "stat*")
    svm = LinearSVMClassifier(Cs=(1e-3, 1e-2, 1e-1)).fit(X[tr], y[tr])
    assert svm.C_ in (1e-3, 1e-2, 1e-1) and set(svm.cv_scores_) == {1e-3, 1e-2, 1e-1}
    assert 2 <= svm.cv_folds_ <= 5
    assert svm.coef_.shape == (7, X.shape[1])
    np.testing.assert_allclose(svm.predict_proba(X[~tr]).sum(axis=1), 1)
    assert svm.score(X[~tr], y[~tr]) > 3 * CHANCE


def test_score_average_of_two_feature_sets_learns_the_sample_clips(clips):
    y, tr = clips["index"].labels, clips["train"]
    views = {"hog": aggregate_clips(clips["hog"], "stat*"), "pixels": aggregate_clips(clips["pixels"], "mean")}
    train = {k: v[tr] for k, v in views.items()}
    val = {k: v[~tr] for k, v in views.items()}
    svm = LinearSVMClassifier(Cs=(1e-2, 1e-1))
    ensemble = ScoreAverage([("hog", svm), ("pixels", svm)]).fit(train, y[tr])
    members = ensemble.member_proba(val)
    np.testing.assert_allclose(ensemble.predict_proba(val), (members["hog"] + members["pixels"]) / 2)
    assert ensemble.score(val, y[~tr]) > 3 * CHANCE
    with pytest.raises(ValueError, match="pixels"):
        ensemble.predict_proba({"hog": val["hog"]})


def test_lstm_with_frame_shuffling_learns_the_sample_clips(clips):
    from emolib.video import FrameLSTM

    y, tr = clips["index"].labels, np.flatnonzero(clips["train"])
    val = np.flatnonzero(~clips["train"])
    lstm = FrameLSTM(units=32, epochs=25, shuffle_frames=True, random_state=0)
    lstm.fit([clips["hog"][i] for i in tr], y[tr])
    seqs = [clips["hog"][i] for i in val]
    np.testing.assert_array_equal(lstm.predict_proba(seqs), lstm.predict_proba(seqs))   # fixed order
    assert lstm.score(seqs, y[val]) > 3 * CHANCE
    assert len(lstm.history_["loss"]) == 25


def test_lstm_masking_ignores_padding():
    import keras

    from emolib.video import build_lstm
    from emolib.video.lstm import _mask

    keras.utils.set_random_seed(0)
    model = build_lstm(3, 4, units=5)
    rng = np.random.default_rng(0)
    short, long = rng.normal(size=(2, 3)), rng.normal(size=(6, 3))
    alone, _ = pad_sequences([short])
    X, lengths = pad_sequences([short, long], value=7.0)                   # garbage padding
    p_alone = model.predict([alone, _mask([2], 2)], verbose=0)
    p_batch = model.predict([X, _mask(lengths, 6)], verbose=0)
    np.testing.assert_allclose(p_batch[0], p_alone[0], atol=1e-6)


# -- audio (optional dependency) ---------------------------------------------------------------------

def test_opensmile_gives_the_1582_is10_features_of_a_wav_file(tmp_path):
    """With TensorFlow loaded (as in the notebook), openSMILE runs in a worker interpreter."""
    pytest.importorskip("opensmile")
    import keras  # noqa: F401  (openSMILE would crash in this process now)
    import soundfile

    from emolib.errors import DataFormatError
    from emolib.video import audio_features

    sr = 16000
    t = np.arange(sr) / sr
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    soundfile.write(tmp_path / "tone.wav", tone.astype(np.float32), sr)
    noise = np.random.default_rng(0).normal(0, 0.1, sr).astype(np.float32)
    X = audio_features([tmp_path / "tone.wav", noise], sampling_rate=sr)
    assert X.shape == (2, 1582) and np.isfinite(X).all()
    assert not np.allclose(X[0], X[1])
    (tmp_path / "silent.avi").write_bytes(b"RIFF....AVI ")
    with pytest.raises(DataFormatError, match="ffmpeg"):
        audio_features([tmp_path / "silent.avi"])
