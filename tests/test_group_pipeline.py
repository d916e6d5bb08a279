"""The AMD group pipeline (Rassadin et al. 2017): faces, descriptors, median, forests, fallback, ensemble."""
import numpy as np
import pytest

from emolib.data.sample import GROUP_CLASSES, GroupScene, crowd_scene, render_face, sample_group_scenes
from emolib.group import (
    DescriptorForest,
    GroupEmotionPipeline,
    LandmarkForest,
    SceneFaceExtractor,
    WholeImageCNN,
    default_members,
    predict_photo,
)


@pytest.fixture(scope="module")
def members():
    """AMD's members with random VGG16 weights at 48 px (the sample profile's settings)."""
    return default_members(weights=None, input_size=48, n_estimators=30,
                           whole_image=WholeImageCNN("compact", image_size=(32, 48), epochs=2),
                           face_id=True)


@pytest.fixture(scope="module")
def scenes():
    items = sample_group_scenes(48, seed=2)
    return (SceneFaceExtractor(size=48, max_faces=3).transform(items),
            np.array([s.label for s in items]))


# --- faces -------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_faces", [0, 1, 50])
def test_known_boxes_give_one_aligned_crop_per_face(n_faces):
    scene = SceneFaceExtractor(size=40).transform([crowd_scene(n_faces, seed=n_faces)])[0]
    assert scene.n_faces == n_faces
    assert scene.crops.shape == (n_faces, 40, 40, 3) and scene.crops.dtype == np.uint8
    assert scene.landmarks.shape == (n_faces, 68, 2)
    for (x, y, w, h), pts in zip(scene.boxes, scene.landmarks):     # landmarks sit on their face
        cx, cy = pts.mean(axis=0)
        assert x <= cx <= x + w and y <= cy <= y + h


def test_max_faces_keeps_the_largest():
    image = np.full((120, 200, 3), 90, np.uint8)
    sizes = [30, 60, 45]
    boxes = [(5 + 65 * i, 10, s, s) for i, s in enumerate(sizes)]
    for (x, y, s, _), c in zip(boxes, (3, 4, 6)):
        image[y:y + s, x:x + s] = render_face(c, rng=c, size=s, rgb=True)
    scene = GroupScene(image, np.array(boxes), np.array([3, 4, 6]), 0)
    kept = SceneFaceExtractor(size=32, max_faces=2).transform([scene])[0]
    assert [f.box[2] for f in kept.faces] == [60, 45]


def test_detector_finds_the_face_in_a_real_photo(astronaut):
    scene = SceneFaceExtractor(method="haar", size=64).transform([astronaut])[0]
    assert scene.n_faces == 1
    x, y, w, h = scene.faces[0].box
    assert abs(x - 182) < 25 and abs(y - 64) < 25 and 60 < w < 130


def test_photos_are_read_from_paths(tmp_path, astronaut):
    import cv2

    path = tmp_path / "group.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    scene = SceneFaceExtractor(method="haar", size=32).transform([path])[0]
    assert scene.source == str(path) and scene.n_faces == 1 and scene.image.shape == (512, 512, 3)


def test_unknown_detector_is_rejected():
    with pytest.raises(ValueError, match="method"):
        SceneFaceExtractor(method="tinyface").fit()


# --- descriptors and aggregation -----------------------------------------------------------------

@pytest.mark.parametrize("name, dim", [("avgpool_rgb", 512), ("avgpool_bgr", 512),
                                       ("fc7_rgb", 4096), ("fc7_bgr", 4096)])
def test_descriptor_shape_per_layer(members, scenes, name, dim):
    F, has = members[name].descriptors(scenes[0][:6])
    assert F.shape == (6, dim)
    assert np.isfinite(F[has]).all() and np.isnan(F[~has]).all()


@pytest.mark.parametrize("layer", ["avgpool", "fc7"])
def test_rgb_and_bgr_orders_give_different_descriptors(members, scenes, layer):
    rgb, _ = members[f"{layer}_rgb"].descriptors(scenes[0][:6])
    bgr, _ = members[f"{layer}_bgr"].descriptors(scenes[0][:6])
    ok = np.isfinite(rgb).all(axis=1)
    assert not np.allclose(rgb[ok], bgr[ok])


def test_median_over_faces_is_the_group_descriptor(members, scenes):
    forest = members["avgpool_bgr"]
    scene = next(s for s in scenes[0] if s.n_faces == 3)
    per_face = forest.extractor.transform(list(scene.crops))
    np.testing.assert_allclose(forest.descriptors([scene])[0][0], np.median(per_face, axis=0), rtol=1e-4, atol=1e-6)
    mean_forest = DescriptorForest(forest.extractor, how="mean")
    np.testing.assert_allclose(mean_forest.descriptors([scene])[0][0], per_face.mean(axis=0), rtol=1e-4, atol=1e-6)


def test_descriptors_for_0_1_and_50_faces(members):
    forest = members["avgpool_bgr"]
    group = SceneFaceExtractor(size=48).transform([crowd_scene(n, seed=n) for n in (0, 1, 50)])
    F, has = forest.descriptors(group)
    assert has.tolist() == [False, True, True] and F.shape == (3, 512)
    per_face = forest.extractor.transform(list(group[2].crops))
    np.testing.assert_allclose(F[2], np.median(per_face, axis=0), rtol=1e-4, atol=1e-6)


def test_landmark_member_uses_2278_normalised_distances(scenes):
    F, has = LandmarkForest().descriptors(scenes[0][:5])
    assert F.shape == (5, 2278) and (F[has] > 0).any()


def test_members_sharing_an_extractor_compute_each_face_once(members):
    class Counting:
        n_features_out_ = 3
        calls = 0

        def transform(self, crops):
            Counting.calls += len(crops)
            return np.stack([c.reshape(-1, 3).mean(axis=0) for c in crops])

    group = SceneFaceExtractor(size=32).transform([crowd_scene(4, seed=9), crowd_scene(2, seed=8)])
    shared = Counting()
    DescriptorForest(shared, how="median").descriptors(group)
    DescriptorForest(shared, how="mean").descriptors(group)
    assert Counting.calls == 6


def test_any_aggregation_sets_the_descriptor_size():
    class MeanColour:
        n_features_out_ = 3

        def transform(self, crops):
            return np.stack([c.reshape(-1, 3).mean(axis=0) for c in crops])

    group = SceneFaceExtractor(size=32).transform([crowd_scene(3, seed=7), crowd_scene(0)])
    F, has = DescriptorForest(MeanColour(), how="stat").descriptors(group)     # mean, std, min, max
    assert F.shape == (2, 12) and has.tolist() == [True, False]
    colours = np.stack([c.reshape(-1, 3).mean(axis=0) for c in group[0].crops])
    np.testing.assert_allclose(F[0, 6:9], colours.min(axis=0), rtol=1e-6)


def test_face_id_member_describes_faces_with_128_numbers(members, scenes):
    few = [s for s in scenes[0] if s.n_faces][:3]
    single = [type(s)(s.image, s.faces[:1], s.crops[:1], s.landmarks[:1]) for s in few]
    F, has = members["face_id"].descriptors(single)
    assert F.shape == (3, 128) and has.all()


# --- forests, fallback and the ensemble ----------------------------------------------------------

def test_scene_without_faces_gets_the_class_frequencies(members, scenes):
    X, y = scenes
    forest = DescriptorForest(members["avgpool_bgr"].extractor, n_estimators=20).fit(X, y)
    empty = SceneFaceExtractor(size=48).transform([crowd_scene(0)])
    np.testing.assert_allclose(forest.predict_proba(empty)[0], forest.prior_)
    assert forest.n_photos_with_faces_ == sum(s.n_faces > 0 for s in X)


@pytest.fixture(scope="module")
def pipeline(members, scenes):
    X, y = scenes
    chosen = {k: members[k] for k in ("avgpool_bgr", "landmarks", "whole_image")}
    return GroupEmotionPipeline(chosen, faces=SceneFaceExtractor(method="haar", size=48, max_faces=3)
                                ).fit(X[:32], y[:32], X[32:], y[32:])


def test_ensemble_weights_follow_validation_accuracy(pipeline):
    w = pipeline.weights_
    assert set(w) == {"avgpool_bgr", "landmarks", "whole_image"}
    assert sum(w.values()) == pytest.approx(1.0)
    acc = pipeline.ensemble_.member_accuracy_
    order = np.argsort(acc)
    assert np.all(np.diff(np.asarray(list(w.values()))[order]) >= -1e-12)


def test_photos_without_faces_go_to_the_whole_image_fallback(pipeline, scenes):
    X, _ = scenes
    mixed = SceneFaceExtractor(size=48).transform([crowd_scene(0, seed=1), crowd_scene(2, seed=2)]) + X[:2]
    p = pipeline.predict_proba(mixed)
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-6)
    fallback = pipeline.members_["whole_image"].predict_proba(mixed[:1])
    np.testing.assert_allclose(p[0], fallback[0], atol=1e-6)
    with_faces = [s for s in mixed if s.n_faces]
    np.testing.assert_allclose(p[[i for i, s in enumerate(mixed) if s.n_faces]],
                               pipeline.ensemble_.predict_proba(with_faces), atol=1e-6)


def test_member_table_has_every_member_and_both_ensembles(pipeline, scenes):
    X, y = scenes
    table = pipeline.member_table(X[32:], y[32:])
    assert table["model"].tolist() == [
        "VGGFace features (BGR, avgpool), Random Forest", "Landmark features, Random Forest",
        "CNN for the whole image", "Ensemble (except CNN for the whole image)", "Ensemble"]
    assert table["accuracy"].between(0, 1).all()
    assert table["accuracy"].iloc[-1] == pytest.approx(np.mean(pipeline.predict(X[32:]) == y[32:]))


def test_predict_photo_runs_on_a_real_photo(pipeline, astronaut):
    out = predict_photo(astronaut, pipeline)
    assert out["n_faces"] == 1 and out["route"] == "ensemble"
    assert out["label"] in GROUP_CLASSES
    assert sum(out["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    blank = predict_photo(np.full((120, 160, 3), 128, np.uint8), pipeline)
    assert blank["n_faces"] == 0 and blank["route"].startswith("whole-image fallback")


def test_fallback_must_be_a_member(members, scenes):
    with pytest.raises(ValueError, match="fallback"):
        GroupEmotionPipeline({"landmarks": members["landmarks"]}).fit(*scenes)


def test_labels_must_match_the_photos(scenes):
    with pytest.raises(ValueError, match="one per photo"):
        LandmarkForest().fit(scenes[0], scenes[1][:-1])


def test_default_members_are_amds_plus_face_id(members):
    assert list(members) == ["avgpool_rgb", "avgpool_bgr", "fc7_rgb", "fc7_bgr", "landmarks",
                             "face_id", "whole_image"]
