"""Seed heads, freezing, two-stage fine-tuning, the tf.data pipeline and saving with metadata."""
import numpy as np
import pytest

from emolib.balance import class_weights
from emolib.data.sample import sample_faces
from emolib.errors import DataFormatError
from emolib.models.finetune import FinetuneResult, Stage, block_index, set_trainable, two_stage_finetune
from emolib.models.heads import add_head
from emolib.models.input_pipeline import Augmentation, make_dataset, prepare_batch
from emolib.models.saving import load_model_with_metadata, read_metadata, save_model
from emolib.models.vggface import VGGFace


def _trainable_count(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


# --------------------------------------------------------------------------------------------
# the FER2013 VGGFace student project's heads: the parameter counts of its own model summaries

@pytest.fixture(scope="module")
def vgg16_notop():
    return VGGFace("vgg16", include_top=False, weights=None, input_shape=(48, 48, 3), initializer="zeros")


@pytest.fixture(scope="module")
def resnet50_notop():
    return VGGFace("resnet50", include_top=False, weights=None, input_shape=(64, 64, 3),
                   initializer="zeros")


def test_vggface1_head_matches_the_projects_summary(vgg16_notop):
    model = add_head(vgg16_notop, "vggface1", 7)
    set_trainable(vgg16_notop, 0)
    assert model.count_params() == 15_045_959 and _trainable_count(model) == 330_247
    assert model.output_shape == (None, 7)


def test_vggface2_head_matches_the_projects_summary_below_224(resnet50_notop):
    """29,862,855 / 6,301,703 as in the FER2013 VGGFace student
    project; at 64 px thanks to the global avg_pool."""
    model = add_head(resnet50_notop, "vggface2", 7)
    set_trainable(resnet50_notop, 0)
    assert model.count_params() == 29_862_855 and _trainable_count(model) == 6_301_703


def test_fer_plus_heads_have_eight_outputs(vgg16_notop):
    assert add_head(vgg16_notop, "vggface1", 8).output_shape == (None, 8)
    with pytest.raises(ValueError, match="head"):
        add_head(vgg16_notop, "vggface3")


# --------------------------------------------------------------------------------------------
# freezing

@pytest.mark.parametrize("name, block", [("conv5_3", 5), ("conv4_2_1x1_reduce", 4), ("conv1__7x7_s2", 1),
                                         ("block7a_expand_conv", 7), ("block5_conv1", 5), ("top_conv", None)])
def test_block_index_reads_the_block_from_the_layer_name(name, block):
    assert block_index(name) == block


def test_unfreezing_one_block_of_vgg16_trains_conv5_only(vgg16_notop):
    assert set_trainable(vgg16_notop, 1) == ["conv5_1", "conv5_2", "conv5_3"]
    assert not vgg16_notop.get_layer("conv4_3").trainable
    assert len(set_trainable(vgg16_notop, "all")) == 13
    assert set_trainable(vgg16_notop, 0) == [] and not vgg16_notop.trainable


def test_unfreezing_resnet_keeps_batchnorm_frozen(resnet50_notop):
    names = set_trainable(resnet50_notop, 1)
    assert "conv5_1_1x1_proj" in names and all(n.startswith("conv5_") for n in names)
    assert not resnet50_notop.get_layer("conv5_1_1x1_proj__bn").trainable
    set_trainable(resnet50_notop, 0)


def test_layers_after_the_last_block_count_as_the_top_block():
    import keras

    inp = keras.Input((8, 8, 3))
    x = inp
    for name in ("stem_conv", "block1a_conv", "block2a_conv", "top_conv"):
        x = keras.layers.Conv2D(2, 1, name=name)(x)
    net = keras.Model(inp, x)
    assert set_trainable(net, 1) == ["block2a_conv", "top_conv"]


# --------------------------------------------------------------------------------------------
# tf.data pipeline

@pytest.fixture(scope="module")
def faces():
    return sample_faces(40, seed=3)


def test_grey_48_becomes_preprocessed_rgb_at_the_chosen_size(faces):
    x, y = next(iter(make_dataset(faces, image_size=64, preprocessing="vggface1", batch_size=8)))
    assert x.shape == (8, 64, 64, 3) and x.dtype == "float32" and y.shape == (8, 7)
    np.testing.assert_array_equal(np.argmax(y, 1), faces.labels[:8])
    np.testing.assert_allclose(x, prepare_batch(faces.images[:8], 64, "vggface1"), atol=1e-4)


def test_soft_targets_pass_through(faces):
    soft = np.full((len(faces), 8), 1 / 8, np.float32)
    _, y = next(iter(make_dataset(faces, preprocessing="none", batch_size=4, targets=soft)))
    np.testing.assert_allclose(y, soft[:4])


def test_augmentation_is_seeded_and_changes_every_epoch(faces):
    def epochs(seed):
        ds = make_dataset(faces, preprocessing="none", batch_size=40, augment=True, seed=seed)
        return [next(iter(ds))[0].numpy() for _ in range(2)]

    first, again, other = epochs(0), epochs(0), epochs(1)
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[0], other[0])
    assert first[0].min() >= 0 and first[0].max() <= 255
    assert not np.allclose(first[0][..., 0], faces.images)


def test_flip_only_augmentation_mirrors_or_keeps_each_face(faces):
    aug = Augmentation(flip=True, rotation=0, zoom=0, blur=0, noise=0)
    x, _ = next(iter(make_dataset(faces, preprocessing="none", batch_size=40, augment=aug, seed=2)))
    grey = x.numpy()[..., 0]
    kept = [np.allclose(g, f) for g, f in zip(grey, faces.images)]
    mirrored = [np.allclose(g, f[:, ::-1]) for g, f in zip(grey, faces.images)]
    assert all(k or m for k, m in zip(kept, mirrored)) and 0 < sum(mirrored) < len(faces)


@pytest.mark.parametrize("kwargs", [dict(rotation=-1), dict(zoom=1.5), dict(blur=2), dict(noise=-1)])
def test_bad_augmentation_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        Augmentation(**kwargs)


def test_unknown_preprocessing_is_rejected(faces):
    with pytest.raises(ValueError, match="preprocessing"):
        make_dataset(faces, preprocessing="vggface3")


# --------------------------------------------------------------------------------------------
# two-stage fine-tuning, run once on a tiny backbone (the real ones are too slow for CI's CPU)

def _tiny_backbone():
    import keras

    inp = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 64, name="scale")(inp)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1_1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2_1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    return keras.Model(inp, x, name="tiny_backbone")


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory, make_faces):
    """Clean happy / sad / surprise cartoon faces; 3 epochs head only, then 1 with conv2_1 unfrozen."""
    import keras

    from emolib.data.sample import render_face

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = np.tile([0, 1, 2], 80)
    images = np.stack([render_face((3, 4, 5)[k], rng=rng, size=32, pose=False, jitter=0.5) for k in labels])
    usage = np.where(np.arange(len(labels)) < 180, "Training", "PublicTest")
    ds = make_faces(images, labels, ("happy", "sad", "surprise"), usage, source="test:render_face")
    train, val = ds.split("Training"), ds.split("PublicTest")
    backbone = _tiny_backbone()
    model = add_head(backbone, "vggface2", 3, dropout=0.0)
    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            snapshots.append({l.name: [np.asarray(w).copy() for w in l.weights] for l in backbone.layers})

    checkpoints = tmp_path_factory.mktemp("checkpoints")
    result = two_stage_finetune(
        model, make_dataset(train, image_size=32, batch_size=10, shuffle=True),
        make_dataset(val, image_size=32, batch_size=60),
        stage1=Stage(3, 1e-3), stage2=Stage(1, 3e-4, unfreeze=1, schedule="step"),
        class_weight=class_weights(train.labels, n_classes=3), checkpoint_dir=checkpoints,
        callbacks=[Snapshot()])
    after = {l.name: [np.asarray(w) for w in l.weights] for l in backbone.layers}
    return result, snapshots + [after], checkpoints, model, val


def test_two_stage_finetuning_learns_above_chance(finetuned):
    result = finetuned[0]
    assert isinstance(result, FinetuneResult) and result.stage_epochs == [3, 1]
    assert result.history["stage"] == [1, 1, 1, 2]
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert result.final("val_accuracy") > 0.5  # chance is 1/3


def test_stage1_freezes_the_backbone_and_stage2_trains_only_its_top_block(finetuned):
    result, (start1, start2, end), *_ = finetuned

    def same(a, b, layer):
        return all(np.array_equal(x, y) for x, y in zip(a[layer], b[layer]))

    assert same(start1, start2, "conv1_1") and same(start1, start2, "conv2_1")
    assert same(start2, end, "conv1_1") and not same(start2, end, "conv2_1")
    assert result.unfrozen == ["conv2_1"]


def test_stage2_runs_at_its_lower_learning_rate(finetuned):
    lr = finetuned[0].history["learning_rate"]
    assert lr[:3] == pytest.approx([1e-3] * 3) and lr[3] == pytest.approx(3e-4)


def test_each_stage_keeps_its_best_model_as_a_checkpoint(finetuned):
    import keras

    checkpoints, model = finetuned[2], finetuned[3]
    assert sorted(p.name for p in checkpoints.iterdir()) == ["stage1.keras", "stage2.keras"]
    restored = keras.models.load_model(checkpoints / "stage2.keras")
    assert restored.output_shape == model.output_shape


def test_stage2_must_unfreeze_something():
    with pytest.raises(ValueError, match="unfreeze"):
        two_stage_finetune(add_head(_tiny_backbone(), "vggface2", 3), None,
                           stage2=Stage(1, 1e-4, unfreeze=0))


def test_cosine_schedule_decays_to_zero_over_the_stage():
    from emolib.models.finetune import _optimizer

    opt = _optimizer(Stage(2, 1e-3, schedule="cosine"), steps_per_epoch=5)
    schedule = opt._learning_rate
    assert float(schedule(0)) == pytest.approx(1e-3) and float(schedule(10)) == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match="steps per epoch"):
        _optimizer(Stage(2, 1e-3, schedule="cosine"), steps_per_epoch=None)


@pytest.mark.parametrize("kwargs", [dict(epochs=0, learning_rate=1e-3),
                                    dict(epochs=1, learning_rate=1e-3, optimizer="rmsprop"),
                                    dict(epochs=1, learning_rate=1e-3, schedule="linear")])
def test_bad_stage_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        Stage(**kwargs)


# --------------------------------------------------------------------------------------------
# saving with metadata

def test_saved_model_round_trips_with_its_metadata(finetuned, tmp_path):
    model, val = finetuned[3], finetuned[4]
    path = save_model(model, tmp_path / "m.keras", classes=val.classes, preprocessing="vggface1",
                      input_size=32, backbone="tiny", profile="sample")
    restored, meta = load_model_with_metadata(path)
    assert meta["classes"] == ["happy", "sad", "surprise"] and meta["input_size"] == [32, 32]
    assert meta["preprocessing"] == "vggface1" and meta["backbone"] == "tiny"
    x = prepare_batch(val.images[:4], meta["input_size"], meta["preprocessing"])
    np.testing.assert_allclose(restored(x), model(x), atol=1e-5)


def test_saving_checks_the_metadata_against_the_model(finetuned, tmp_path):
    model = finetuned[3]
    with pytest.raises(ValueError, match="3 outputs"):
        save_model(model, tmp_path / "m.keras", classes=list("abcdefg"), preprocessing="vggface1",
                   input_size=32)
    with pytest.raises(ValueError, match="input_size"):
        save_model(model, tmp_path / "m.keras", classes="abc", preprocessing="vggface1", input_size=48)
    with pytest.raises(ValueError, match=".keras"):
        save_model(model, tmp_path / "m.h5", classes="abc", preprocessing="vggface1", input_size=32)


def test_a_keras_file_without_metadata_is_refused(finetuned, tmp_path):
    path = tmp_path / "plain.keras"
    finetuned[3].save(path)
    with pytest.raises(DataFormatError, match="emolib.json"):
        read_metadata(path)


# --------------------------------------------------------------------------------------------
# keras.applications backbones for the source systems' comparisons (built offline with weights=None)

def test_imagenet_vgg16_backbone_has_the_vggface_trunk_size_and_caffe_preprocessing():
    from emolib.models.backbones import build_backbone

    b = build_backbone("vgg16_imagenet", input_size=48, weights=None)
    assert b.model.count_params() == 14_714_688 and b.preprocessing == "caffe_imagenet"
    assert b.pretrained is None and b.model.output_shape == (None, 1, 1, 512)


@pytest.mark.slow
def test_efficientnet_backbone_builds_offline_and_takes_raw_pixels():
    from emolib.models.backbones import build_backbone

    b = build_backbone("efficientnetb3", input_size=48, weights=None)
    assert b.preprocessing == "none" and b.model.output_shape[-1] == 1536


@pytest.mark.parametrize("kwargs, message", [(dict(name="resnet152"), "name"),
                                             (dict(name="vggface_senet50", input_size=96), ">= 197")])
def test_bad_backbone_arguments_are_rejected(kwargs, message):
    from emolib.models.backbones import build_backbone

    with pytest.raises(ValueError, match=message):
        build_backbone(**kwargs)


# --------------------------------------------------------------------------------------------
# what ended each stage: early stopping, the stage's time budget or its epoch cap

@pytest.fixture(scope="module")
def tiny_data(make_faces):
    rng = np.random.default_rng(0)
    labels = np.tile([0, 1, 2], 10)
    images = rng.integers(0, 256, (len(labels), 32, 32), dtype=np.uint8)
    ds = make_faces(images, labels, ("happy", "sad", "surprise"), np.array(["Training"] * len(labels)),
                    source="test:random")
    return make_dataset(ds, image_size=32, batch_size=10), make_dataset(ds, image_size=32, batch_size=30)


def test_a_stage_that_runs_all_its_epochs_is_stopped_by_the_epoch_cap(finetuned):
    assert finetuned[0].stopped_by == ["epoch cap", "epoch cap"]


def test_a_stage_over_its_time_budget_stops_after_one_batch(tiny_data):
    train, val = tiny_data
    result = two_stage_finetune(add_head(_tiny_backbone(), "vggface2", 3), train, val,
                                stage1=Stage(5, 1e-3, patience=None, minutes=1e-9), stage2=False)
    assert result.stage_epochs == [1] and result.stopped_by == ["time budget"]


def test_a_stage_whose_validation_loss_stalls_is_stopped_by_early_stopping(tiny_data):
    train, val = tiny_data   # a learning rate of 1e-30 leaves every float32 weight as it was
    result = two_stage_finetune(add_head(_tiny_backbone(), "vggface2", 3, dropout=0.0), train, val,
                                stage1=Stage(5, 1e-30, patience=1, minutes=60), stage2=False)
    assert result.stage_epochs == [2] and result.stopped_by == ["early stopping"]


def test_a_stage_budget_must_be_positive():
    with pytest.raises(ValueError, match="minutes"):
        Stage(1, 1e-3, minutes=0)
