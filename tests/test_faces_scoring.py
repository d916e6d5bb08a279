"""Detector scoring: greedy IoU matching against annotated boxes."""
import pytest

from emolib.faces.detect import Face
from emolib.faces.scoring import match_detections, recall_precision


def test_each_true_face_is_matched_once():
    truth = [(0, 0, 10, 10), (50, 50, 10, 10)]
    found = [(1, 1, 10, 10), (0, 0, 10, 10), (50, 50, 10, 10)]   # two boxes on the first face
    assert match_detections(found, truth) == (2, 1, 0)


def test_a_box_below_the_overlap_threshold_is_a_false_positive_and_a_miss():
    assert match_detections([(8, 8, 10, 10)], [(0, 0, 10, 10)], min_iou=0.3) == (0, 1, 1)


def test_face_objects_are_scored_by_their_box():
    assert match_detections([Face((0, 0, 10, 10), 0.9)], [(0, 0, 10, 10)]) == (1, 0, 0)


def test_recall_and_precision_from_counts():
    assert recall_precision(3, 1, 3) == (0.5, 0.75)
    assert recall_precision(0, 0, 0) == (1.0, 1.0)


def test_min_iou_must_be_in_range():
    with pytest.raises(ValueError, match="min_iou"):
        match_detections([], [], min_iou=0)
