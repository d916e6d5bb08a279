"""Non-face cleaning: the signals, the rule, the baseline, tuning, and the benchmark's plumbing."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from emolib.faces import FaceSignals, face_signals, find_non_faces, flag_metrics, low_variance
from emolib.faces.clean import NO_CANDIDATE, dominant_share, tune_cleaner, tune_low_variance

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lfw():
    images = np.round(data.lfw_subset() * 255).astype(np.uint8)   # 100 faces, then 100 non-faces
    return images, face_signals(images)


def _text_page(size=48):
    page = np.full((size, size), 245, np.uint8)
    for row in range(6, size - 6, 8):
        page[row:row + 2, 4:size - 4:3] = 20          # dotted "text" lines
    return page


def test_cleaner_separates_lfw_faces_from_non_faces(lfw):
    images, signals = lfw
    flags = find_non_faces(images, signals=signals)
    assert flags[:100].sum() <= 2          # faces kept (0 flagged when written)
    assert flags[100:].sum() >= 80         # non-faces removed (87 when written)


def test_cleaner_beats_the_low_variance_baseline_on_lfw(lfw):
    images, signals = lfw
    truth = np.r_[np.zeros(100, bool), np.ones(100, bool)]
    cleaner = flag_metrics(find_non_faces(images, signals=signals), truth)
    baseline = flag_metrics(low_variance(images), truth)
    assert cleaner["f1"] > baseline["f1"] + 0.5


def test_faces_score_higher_than_non_faces_on_hog(lfw):
    _, signals = lfw
    assert np.median(signals.hog[:100]) > 0 > -1.3 > np.median(signals.hog[100:])


def test_blank_and_uniform_images_are_flagged():
    rng = np.random.default_rng(0)
    blank = np.zeros((48, 48), np.uint8)
    grey = np.full((48, 48), 130, np.uint8)
    faint = np.clip(130 + rng.normal(0, 1, (48, 48)), 0, 255).astype(np.uint8)
    assert find_non_faces(np.stack([blank, grey, faint])).all()
    assert low_variance(np.stack([blank, grey, faint])).all()


def test_text_page_is_flagged_by_its_dominant_grey_level():
    page = _text_page()
    signals = face_signals(page[None])
    assert signals.std[0] > 40                         # not low variance: the baseline misses it
    assert not low_variance(page[None])[0]
    assert signals.dominant[0] > 0.8
    assert find_non_faces(page[None])[0]


def test_dominant_share_counts_pixels_within_nine_grey_levels():
    img = np.zeros((10, 10), np.uint8)
    img[:6] = 100
    img[6:8] = 108                                     # within the same 9-level band as 100
    img[8:] = 200
    assert dominant_share(img[None])[0] == pytest.approx(0.8)
    assert dominant_share(np.full((1, 4, 4), 255, np.uint8))[0] == 1.0


def test_accepts_a_dataset_rgb_arrays_and_mixed_size_lists(lfw, make_faces):
    images, signals = lfw
    pick = [0, 1, 150, 151]
    ds = make_faces(images[pick], np.zeros(4, np.int64))
    expected = find_non_faces(images[pick], signals=FaceSignals(*(s[pick] for s in signals)))
    assert (find_non_faces(ds) == expected).all()
    rgb = np.repeat(images[pick][..., None], 3, axis=3)
    assert (find_non_faces(rgb) == expected).all()
    mixed = [images[0], np.zeros((30, 20), np.uint8), _text_page(64)]
    assert find_non_faces(mixed).tolist() == [False, True, True]


def test_tiny_image_gets_no_hog_candidate():
    assert face_signals(np.zeros((1, 2, 2), np.uint8)).hog[0] == NO_CANDIDATE


def test_bad_arguments_are_rejected(lfw):
    images, signals = lfw
    with pytest.raises(ValueError, match="hog_threshold"):
        find_non_faces(images, hog_threshold=-10, signals=signals)
    with pytest.raises(ValueError, match="max_dominant"):
        find_non_faces(images, max_dominant=0, signals=signals)
    with pytest.raises(ValueError, match="one value per image"):
        find_non_faces(images[:5], signals=signals)
    with pytest.raises(ValueError, match="N x H x W"):
        find_non_faces(np.zeros((4, 4), np.uint8))


def test_flag_metrics_counts():
    m = flag_metrics([True, True, False, False, True], [True, False, True, False, True])
    assert (m["tp"], m["fp"], m["fn"], m["flagged"], m["positives"]) == (2, 1, 1, 3, 3)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert flag_metrics([False, False], [False, False])["f1"] == 0.0


def test_tune_low_variance_picks_the_threshold_that_separates():
    std = np.array([0.0, 2.0, 3.0, 20.0, 30.0, 40.0])
    truth = np.array([True, True, True, False, False, False])
    t = tune_low_variance(std, truth)
    assert 3.0 < t <= 20.0
    assert t == 20.0                                   # the most generous of the tied thresholds


def test_tune_cleaner_finds_thresholds_that_separate_synthetic_signals():
    rng = np.random.default_rng(0)
    truth = np.r_[np.zeros(200, bool), np.ones(20, bool)]
    hog = np.where(truth, rng.uniform(-2.5, -2.0, 220), rng.uniform(-1.5, 1.0, 220))
    dominant = rng.uniform(0.1, 0.3, 220)
    best = tune_cleaner(FaceSignals(hog, dominant, np.full(220, 50.0)), truth)
    assert best["f1"] == 1.0 and -2.0 <= best["hog_threshold"] <= -1.5


def test_benchmark_runs_on_a_tiny_real_format_pair(tmp_path):
    """The benchmark's plumbing on fabricated files in the real formats (not on real data)."""
    rng = np.random.default_rng(0)
    usage = ["Training"] * 6 + ["PublicTest"] * 2
    faces = np.round(data.lfw_subset()[[0, 1, 2, 3, 100, 101, 4, 102]] * 255).astype(np.uint8)
    imgs = [np.kron(f, np.ones((2, 2), np.uint8))[1:49, 1:49] for f in faces]
    imgs[5] = np.zeros((48, 48), np.uint8)
    rows = ["emotion,pixels,Usage"] + [f"{rng.integers(7)},{' '.join(map(str, im.ravel()))},{u}"
                                       for im, u in zip(imgs, usage)]
    (tmp_path / "fer2013.csv").write_text("\n".join(rows) + "\n")
    nf = [0, 0, 0, 0, 9, 10, 0, 8]
    votes = ["Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"]
    votes += [f"{u},fer{i:07d}.png,{10 - k},0,0,0,0,0,0,0,0,{k}" for i, (u, k) in enumerate(zip(usage, nf))]
    (tmp_path / "fer2013new.csv").write_text("\n".join(votes) + "\n")

    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench_non_face_cleaning.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "results"
    assert bench.main(["--data", str(tmp_path / "fer2013.csv"), str(tmp_path / "fer2013new.csv"),
                       "--results-dir", str(out)]) == 0
    saved = json.loads((out / "non_face_cleaning.json").read_text())
    fer = saved["result"]["fer2013"]
    assert fer["n"] == 8 and fer["positives"] == 3
    assert set(fer["metrics"]) == {"cleaner_defaults", "cleaner_tuned_in_run", "baseline_low_variance"}
    assert fer["metrics"]["baseline_low_variance"]["all"]["tp"] >= 1          # the blank image
    assert saved["provenance"]["data"]["sha256"] and saved["provenance"]["ferplus"]["sha256"]
    assert saved["result"]["lfw_subset"]["cleaner_defaults"]["n"] == 200
