"""Tables of generalisation.json: FER2013 models on cartoons, the astronaut, LFW faces and photos."""
from __future__ import annotations

import math

from emolib.tables import generalisation_agreement, generalisation_table


def _unlabelled(top: str, share: float, mean_top: float) -> dict:
    rest = (1 - share) / 6
    classes = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    return {"n": 10, "predicted_share": {c: share if c == top else rest for c in classes},
            "mean_top_probability": mean_top}


def _result(photos: bool = True) -> dict:
    sets = {
        "sample_faces": {"models": {"default": {"accuracy": 0.8, "macro_f1": 0.7},
                                    "fer": {"accuracy": 0.3, "macro_f1": 0.2}}},
        "astronaut": {"models": {"default": {"label": "happy", "p_happy": 0.95},
                                 "fer": {"label": "neutral", "p_happy": 0.1}}},
        "lfw_subset": {"models": {"default": _unlabelled("neutral", 0.5, 0.6),
                                  "fer": _unlabelled("sad", 0.4, 0.7)},
                       "agreement": {"default vs fer": 0.35}},
        "photos": {"models": {}, "agreement": {}},
    }
    if photos:
        sets["photos"] = {"models": {"default": _unlabelled("happy", 0.75, 0.8),
                                     "fer": _unlabelled("happy", 0.5, 0.9)},
                          "agreement": {"default vs fer": 0.5}}
    return {"models": {"default": {}, "fer": {}}, "sets": sets}


def test_generalisation_table_has_one_row_per_model_in_result_order():
    assert list(generalisation_table(_result()).index) == ["default", "fer"]


def test_generalisation_table_reports_cartoon_scores_and_the_astronaut():
    table = generalisation_table(_result())
    assert table.loc["fer", "cartoons accuracy"] == 0.3
    assert table.loc["default", "astronaut"] == "happy"
    assert table.loc["fer", "astronaut p(happy)"] == 0.1


def test_generalisation_table_names_the_most_predicted_class_and_its_share():
    table = generalisation_table(_result())
    assert table.loc["fer", "LFW top class"] == "sad"
    assert table.loc["fer", "LFW top share"] == 0.4
    assert table.loc["default", "photos mean top p"] == 0.8


def test_generalisation_table_leaves_photo_columns_empty_when_no_photo_was_cached():
    table = generalisation_table(_result(photos=False))
    assert table["photos top class"].isna().all()
    assert math.isnan(table.loc["default", "photos top share"])


def test_generalisation_agreement_has_one_row_per_pair_and_one_column_per_set():
    table = generalisation_agreement(_result())
    assert list(table.columns) == ["LFW", "photos"]
    assert table.loc["default vs fer", "photos"] == 0.5


def test_generalisation_agreement_is_empty_for_photos_when_none_were_scored():
    table = generalisation_agreement(_result(photos=False))
    assert math.isnan(table.loc["default vs fer", "photos"])
