"""Check FER+ label counts on the real ``fer2013new.csv`` against the FERPlus reference counts (a manual check).

Usage:
    python benchmarks/ferplus_counts.py [--data-dir ../shared/data] [--tolerance 5]

Prints the majority-rule counts per split and class, the kept counts of all four modes, and how
often the FER+ majority agrees with the FER2013 label. Exits 1 when a Training/PublicTest/
PrivateTest majority count differs from the FERPlus reference counts by more than ``--tolerance`` images.
Writes ``results/ferplus_label_counts.json``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

# the FERPlus reference counts: majority rule over all rows of fer2013new.csv, in its column order.
EXPECTED = {
    "Training": {"kept": 25060, "counts": [8740, 7287, 3149, 3014, 2100, 119, 532, 119]},
    "PublicTest": {"kept": 3199, "counts": [1182, 865, 415, 351, 287, 24, 62, 13]},
    "PrivateTest": {"kept": 3153, "counts": [1090, 893, 396, 384, 273, 18, 83, 16]},
}


def main(argv=None) -> int:
    from emolib.data import (
        FERPLUS_CLASSES,
        MODES,
        attach_ferplus_votes,
        ferplus_targets,
        ferplus_to_fer2013_labels,
        load_fer2013,
        load_ferplus_votes,
    )
    from emolib.evaluate import provenance, write_result

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--tolerance", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="print only, write no result JSON")
    args = ap.parse_args(argv)
    start = time.time()
    votes_path = Path(args.data_dir) / "ferplus" / "fer2013new.csv"
    votes, usage = load_ferplus_votes(votes_path, return_usage=True)

    failures, table = [], {}
    print(f"{'split':<12}{'kept':>7}  " + " ".join(f"{c[:8]:>9}" for c in FERPLUS_CLASSES))
    for split, want in EXPECTED.items():
        rows = usage == split
        t = ferplus_targets(votes[rows], "majority")
        counts = np.bincount(t.distribution.argmax(axis=1), minlength=8)
        table[split] = {"rows": int(rows.sum()), "kept": int(t.keep.sum()),
                        "counts": dict(zip(FERPLUS_CLASSES, map(int, counts)))}
        print(f"{split:<12}{int(t.keep.sum()):>7}  " + " ".join(f"{int(k):>9}" for k in counts))
        print(f"{'  reference':<12}{want['kept']:>7}  " + " ".join(f"{k:>9}" for k in want["counts"]))
        diff = np.abs(counts - np.array(want["counts"]))
        for c, d in zip(FERPLUS_CLASSES, diff):
            if d > args.tolerance:
                failures.append(f"{split} {c}: {counts[FERPLUS_CLASSES.index(c)]} vs the reference "
                                f"{want['counts'][FERPLUS_CLASSES.index(c)]}")

    kept = {}
    for mode in MODES:
        kept[mode] = {s: int(ferplus_targets(votes[usage == s], mode).keep.sum()) for s in EXPECTED}
    print("kept rows per mode:", kept)

    fer_path = Path(args.data_dir) / "fer2013" / "fer2013.csv.gz"
    fer = attach_ferplus_votes(load_fer2013(fer_path, progress=False), votes_path)
    t = ferplus_targets(fer.votes, "majority")
    plus = ferplus_to_fer2013_labels(t.distribution.argmax(axis=1))
    agree = float(np.mean(plus == fer.labels[t.keep]))
    # argmax of the raw votes over the 8 emotions, every row (no outlier removal, no dropping)
    raw_agree = float(np.mean(ferplus_to_fer2013_labels(fer.votes[:, :8].argmax(axis=1)) == fer.labels))
    print(f"FER+ majority agrees with the FER2013 label on {agree:.3f} of the {int(t.keep.sum())} kept "
          f"rows of {len(fer)}; raw 8-emotion vote argmax agrees on {raw_agree:.3f} of all rows")

    result = {"majority_counts": table, "design_counts": EXPECTED, "kept_per_mode": kept,
              "agreement_majority_kept": agree, "agreement_raw_argmax": raw_agree,
              "n_fer2013_rows_joined": len(fer), "tolerance": args.tolerance, "failures": failures}
    if not args.no_write:
        from emolib.data.cache import file_sha256

        path = write_result("ferplus_label_counts", result,
                            provenance(votes_path, wall_time_s=round(time.time() - start, 1),
                                       fer2013={"path": fer_path.name, "sha256": file_sha256(fer_path)}))
        print("wrote", path)
    if failures:
        print("MISMATCH against the FERPlus reference counts:", *failures, sep="\n  ")
        return 1
    print(f"OK: every majority count within {args.tolerance} of the FERPlus reference counts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
