"""The attention model over faces (vlgiitr, Gupta et al. 2018): masking, the four variants, learning."""
import numpy as np
import pytest

from emolib.data.sample import crowd_scene, sample_faces, sample_group_scenes
from emolib.group import (
    VARIANTS,
    FaceAttention,
    GroupAttentionClassifier,
    SceneFaceExtractor,
    attention_weights_model,
    build_attention_model,
    group_inputs,
    load_attention_model,
    pretrain_face_encoder,
)
from emolib.models.predict import predict_batches


def _layer_inputs(variant_dim=8, max_faces=5, counts=(0, 1, 3, 5), seed=0):
    rng = np.random.default_rng(seed)
    faces = rng.normal(size=(len(counts), max_faces, variant_dim)).astype("float32")
    mask = np.zeros((len(counts), max_faces), "float32")
    for i, c in enumerate(counts):
        mask[i, :c] = 1
    glob = rng.normal(size=(len(counts), variant_dim)).astype("float32")
    return faces, mask, glob


@pytest.mark.parametrize("variant", VARIANTS)
def test_weights_sum_to_one_over_real_faces_and_are_zero_on_padding(variant):
    faces, mask, glob = _layer_inputs()
    attended, weights = (np.asarray(t) for t in FaceAttention(variant)([faces, mask, glob]))
    np.testing.assert_allclose(weights.sum(axis=1), [0, 1, 1, 1], atol=1e-5)
    assert np.all(weights[mask == 0] == 0)
    assert np.all(weights[mask == 1] > 0)
    np.testing.assert_allclose(attended, np.einsum("bf,bfd->bd", weights, faces), atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_padded_slots_do_not_change_the_result(variant):
    faces, mask, glob = _layer_inputs()
    layer = FaceAttention(variant)
    a1, w1 = (np.asarray(t) for t in layer([faces, mask, glob]))
    faces2 = faces.copy()
    faces2[mask == 0] = 1e3                               # garbage in the padding
    a2, w2 = (np.asarray(t) for t in layer([faces2, mask, glob]))
    np.testing.assert_allclose(w1, w2, atol=1e-6)
    np.testing.assert_allclose(a1, a2, atol=1e-4)


def test_average_variant_is_the_mean_of_the_real_faces():
    faces, mask, glob = _layer_inputs()
    attended, _ = FaceAttention("average")([faces, mask, glob])
    np.testing.assert_allclose(np.asarray(attended)[2], faces[2, :3].mean(axis=0), atol=1e-5)


def test_variant_c_ignores_the_global_vector_and_a_uses_it():
    faces, mask, glob = _layer_inputs()
    for variant, changes in (("C", False), ("A", True)):
        layer = FaceAttention(variant)
        _, w1 = layer([faces, mask, glob])
        _, w2 = layer([faces, mask, -3 * glob])
        assert np.allclose(np.asarray(w1), np.asarray(w2), atol=1e-6) != changes


def test_variant_a_needs_equal_global_and_face_sizes():
    faces, mask, _ = _layer_inputs()
    with pytest.raises(ValueError, match="must equal"):
        FaceAttention("A")([faces, mask, np.zeros((4, 3), "float32")])
    with pytest.raises(ValueError, match="global_dim == face_dim"):
        build_attention_model("A", face_dim=16, global_dim=32)


def test_unknown_variant_is_rejected():
    with pytest.raises(ValueError, match="expected one of"):
        build_attention_model("D")


@pytest.fixture(scope="module")
def untrained_model():
    return build_attention_model("B", max_faces=50, face_size=16, image_size=(32, 48))


@pytest.mark.parametrize("n_faces", [0, 1, 50])
def test_model_takes_0_1_and_50_faces(untrained_model, n_faces):
    scene = SceneFaceExtractor(size=32).transform([crowd_scene(n_faces, seed=n_faces)])[0]
    assert scene.n_faces == n_faces
    inputs = group_inputs([scene], max_faces=50, face_size=16, image_size=(32, 48))
    assert inputs["mask"].sum() == n_faces
    probs = predict_batches(untrained_model, inputs)
    weights = predict_batches(attention_weights_model(untrained_model), inputs)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert weights.sum() == pytest.approx(float(n_faces > 0), abs=1e-5)
    assert np.all(weights[0, n_faces:] == 0)


def test_saved_model_loads_with_its_attention_layer(untrained_model, tmp_path):
    scene = SceneFaceExtractor(size=32).transform([crowd_scene(3, seed=4)])[0]
    inputs = group_inputs([scene], max_faces=50, face_size=16, image_size=(32, 48))
    untrained_model.save(tmp_path / "group.keras")
    loaded = load_attention_model(tmp_path / "group.keras")
    np.testing.assert_allclose(predict_batches(loaded, inputs), predict_batches(untrained_model, inputs),
                               atol=1e-6)


def test_group_inputs_truncate_to_the_largest_faces():
    scene = SceneFaceExtractor(size=32).transform([crowd_scene(9)])[0]
    inputs = group_inputs([scene], max_faces=4, face_size=16, image_size=(24, 36))
    assert inputs["faces"].shape == (1, 4, 16, 16, 3)
    assert inputs["mask"].tolist() == [[1, 1, 1, 1]]


# --- learning: every variant beats chance (1/3) on held-out scenes after a fixed number of epochs --

FACE_SIZE = 32


@pytest.fixture(scope="module")
def learning_setup():
    faces = sample_faces(1400, seed=0)
    train = faces.usage == "Training"
    encoder, history = pretrain_face_encoder(faces.images[train], faces.labels[train],
                                             face_size=FACE_SIZE, epochs=6, batch_size=32)
    extractor = SceneFaceExtractor(size=48)
    tr, te = sample_group_scenes(120, seed=0), sample_group_scenes(90, seed=1)
    return {"encoder": encoder, "history": history,
            "train": (extractor.transform(tr), np.array([s.label for s in tr])),
            "test": (extractor.transform(te), np.array([s.label for s in te]))}


def test_face_encoder_pretraining_learns_expressions(learning_setup):
    assert learning_setup["history"]["accuracy"][-1] > 0.6      # 7 classes: chance ~0.25 (majority)


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_learns_the_sample_scenes_above_chance(learning_setup, variant):
    (X, y), (Xt, yt) = learning_setup["train"], learning_setup["test"]
    encoder = learning_setup["encoder"]
    before = [w.copy() for w in encoder.get_weights()]
    clf = GroupAttentionClassifier(variant, max_faces=4, face_size=FACE_SIZE, image_size=(32, 48),
                                   epochs=4, face_encoder=encoder, random_state=0)
    clf.fit(X, y)
    accuracy = float(np.mean(clf.predict(Xt) == yt))
    assert accuracy >= 0.5, f"{variant}: held-out accuracy {accuracy:.3f} (chance 0.333)"
    weights = clf.attention_weights(Xt[:10])
    for w, scene in zip(weights, Xt[:10]):
        assert len(w) == min(scene.n_faces, 4)
        assert w.sum() == pytest.approx(1.0 if scene.n_faces else 0.0, abs=1e-4)
    # fit trained a copy of the encoder: the pretrained one is unchanged for the next variant
    assert all(np.array_equal(a, b) for a, b in zip(before, encoder.get_weights()))


def test_labels_must_be_class_indices():
    scenes = SceneFaceExtractor(size=32).transform(sample_group_scenes(4, seed=3))
    with pytest.raises(ValueError, match="class indices"):
        GroupAttentionClassifier("A").fit(scenes, [1, 2, 2, 1])
