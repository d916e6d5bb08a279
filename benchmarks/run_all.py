"""Run the benchmarks: speed ones always, real-data ones when ``--data`` points at the data folder.

    python benchmarks/run_all.py                      # speed benchmarks (synthetic inputs)
    python benchmarks/run_all.py --data ../shared/data  # plus the real-data benchmarks

``--data`` is a folder holding ``fer2013/fer2013.csv.gz`` and ``ferplus/fer2013new.csv``. Each
benchmark prints its ratios against a baseline measured in the same run; real-data ones write
their result JSON under ``results/``. The web load test has its own target, ``make bench-load``.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> arguments (``{data}``: the data folder, ``{csv}``: the FER2013 CSV).
SPEED = {
    "bench_fer2013_parse.py": [],
    "bench_vggface_forward.py": [],
    "generalisation.py": ["--models", "default,compact,fer"],
}
REAL = {
    "bench_fer2013_parse.py": ["--data", "{csv}"],
    "bench_non_face_cleaning.py": ["--data", "{data}"],
    "ferplus_counts.py": ["--data-dir", "{data}"],
    "fer2013_cpu.py": ["--data", "{csv}", "--minutes", "60"],
    "fer2013_cpu.py --compare": ["--data", "{csv}", "--compare", "all", "--minutes", "3"],
    "ferplus_modes.py": ["--data-dir", "{data}", "--budget-min", "5"],
    "ensemble_cpu.py": ["--data-dir", "{data}", "--budget-min", "5"],
    # the shipped system (about 3 h) is retrained by `make system DATA=...`, not here
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="folder with fer2013/fer2013.csv.gz and ferplus/fer2013new.csv")
    ap.add_argument("--only", nargs="*", help="run only these benchmark files")
    args = ap.parse_args(argv)
    plan = dict(SPEED)
    if args.data:
        data = Path(args.data).expanduser().resolve()
        csv = data / "fer2013" / "fer2013.csv.gz"
        if not csv.exists():
            csv = data / "fer2013.csv.gz" if (data / "fer2013.csv.gz").exists() else data / "fer2013.csv"
        plan.update({k: [a.format(data=data, csv=csv) for a in v] for k, v in REAL.items()})
    failed = []
    for name, extra in plan.items():
        if args.only and name not in args.only:
            continue
        script = name.split()[0]
        if not (HERE / script).exists():
            print(f"== {name}: not present, skipped", flush=True)
            continue
        print(f"== {name} {' '.join(extra)}", flush=True)
        t = time.time()
        rc = subprocess.call([sys.executable, str(HERE / script), *extra])
        print(f"== {name}: exit {rc} after {time.time() - t:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
