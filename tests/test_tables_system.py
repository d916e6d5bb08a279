"""emolib.tables.system_members_table and system_table on fer2013_system.json-shaped results."""
import pytest

pytest.importorskip("pandas")

from emolib.tables import system_members_table, system_recipes_table, system_table  # noqa: E402

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def member(name, convs=None, **extra):
    return {"name": name, "kwargs": {"convs": convs} if convs else {}, "ferplus_blend": 0.4, "epochs": 40,
            "best_epoch": 33, "train_seconds": 2100.0, **extra}


def result(members, member_public, tta=True):
    f1 = dict(zip(CLASSES, [0.6, 0.5, 0.45, 0.85, 0.55, 0.8, 0.65]))
    fer_f1 = dict(zip(CLASSES, [0.5, 0.4, 0.4, 0.85, 0.5, 0.75, 0.6]))
    return {"training": {"members": members, "weights": [0.5, 0.25, 0.25][: len(members)]},
            "members_PublicTest": member_public,
            "PublicTest": {"accuracy": 0.69, "macro_f1": 0.63, "per_class_f1": f1},
            "baseline_fer_package": {"available": True, "accuracy": 0.65, "macro_f1": 0.6, "per_class_f1": fer_f1},
            "calibration": {"system": {"ece": 0.02, "kl_ferplus": 0.55},
                            "fer_package": {"ece": 0.07, "kl_ferplus": 0.83}}}


def test_members_table_reads_the_views_scores_and_falls_back_to_the_mirror():
    members = [member("cnn_a", holdout_accuracy_tta=0.68), member("cnn_b", [1, 2, 2, 2], holdout_accuracy_flip=0.66)]
    table = system_members_table(result(members, {"cnn_a": 0.67, "cnn_b": 0.655}))
    assert list(table.index) == ["cnn_a", "cnn_b"]
    assert table.loc["cnn_a", "holdout (views)"] == 0.68 and table.loc["cnn_b", "holdout (views)"] == 0.66
    assert table.loc["cnn_b", "layout"] == "convs 1,2,2,2" and table.loc["cnn_a", "layout"] == "convs 1,1,2,2"
    assert table.loc["cnn_a", "minutes"] == 35.0 and table.loc["cnn_b", "weight"] == 0.25


def test_system_table_puts_the_ensemble_beside_its_best_member_and_fer():
    members = [member("cnn_a"), member("cnn_b")]
    table = system_table(result(members, {"cnn_a": 0.64, "cnn_b": 0.655}))
    assert list(table.index) == ["emolib ensemble", "best member (cnn_b)", "fer package"]
    assert table.loc["emolib ensemble", "worst class F1"] == 0.45
    assert table.loc["fer package", "worst class F1"] == 0.4
    assert table.loc["best member (cnn_b)", "accuracy"] == 0.655
    assert table.loc["fer package", "KL from FER+ votes"] == 0.83


def test_goal_verdict_names_what_was_met_and_what_was_missed():
    from emolib.tables import system_goal_verdict

    r = result([member("cnn_a")], {"cnn_a": 0.66})
    r["goal"] = {"accuracy": 0.69, "macro_f1": 0.64, "min_class_f1": 0.45}
    assert system_goal_verdict(r) == "met accuracy and the worst class F1 but missed macro-F1 (0.630 < 0.640)"
    r["PublicTest"] |= {"accuracy": 0.675, "macro_f1": 0.646}
    assert system_goal_verdict(r) == "met macro-F1 and the worst class F1 but missed accuracy (67.5% < 69.0%)"
    r["PublicTest"]["accuracy"] = 0.691
    assert system_goal_verdict(r) == "met all three"
    r["PublicTest"] |= {"accuracy": 0.5, "macro_f1": 0.5, "per_class_f1": dict.fromkeys(CLASSES, 0.3)}
    assert system_goal_verdict(r).startswith("met none of them but missed accuracy (50.0% < 69.0%)")


def test_members_table_shows_a_members_own_layout_when_it_is_not_a_compact_cnn():
    members = [member("cnn_a"), member("facenet_ft", layout="FaceNet, top 3 blocks fine-tuned, 96 px")]
    table = system_members_table(result(members, {"cnn_a": 0.66, "facenet_ft": 0.66}))
    assert table.loc["facenet_ft", "layout"].startswith("FaceNet") and table.loc["cnn_a", "layout"] == "convs 1,1,2,2"


def test_recipes_table_lists_the_ranked_recipes_best_first_and_is_empty_without_them():
    members = [member("cnn_a"), member("cnn_b")]
    doc = result(members, {"cnn_a": 0.66, "cnn_b": 0.65})
    assert system_recipes_table(doc).empty
    doc["training"]["recipe"] = {"ranked": [
        {"recipe": "cnn_a + cnn_b, equal weights, no offsets", "accuracy": 0.70, "macro_f1": 0.68, "min_class_f1": 0.5},
        {"recipe": "cnn_a, equal weights, no offsets", "accuracy": 0.66, "macro_f1": 0.64, "min_class_f1": 0.4}]}
    doc["training"]["recipe"]["ranked"][1]["recipe"] = "cnn_a, fitted weights, class offsets"
    table = system_recipes_table(doc)
    assert list(table.index) == [1, 2] and list(table["members"]) == ["cnn_a + cnn_b", "cnn_a"]
    assert list(table["weights"]) == ["equal", "fitted"] and list(table["class offsets"]) == ["no", "yes"]
    assert table.loc[1, "out-of-fold accuracy"] == 0.70 and table.loc[2, "worst class F1"] == 0.4
