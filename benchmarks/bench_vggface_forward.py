"""Forward-pass throughput of emolib's VGGFace-VGG16 against keras.applications' VGG16.

Both networks are built with random weights (``weights=None``: nothing is downloaded), at 224 x 224,
and timed in the same process on the same batch, alternating A/B rounds so drifting machine load
hits both alike. Each round runs a compiled ``model(x, training=False)`` on ``--batch`` images;
throughput is images per second. Each round times both models back to back, so the two share
that moment's machine load; the reported ratio is the median over rounds of these paired ratios,
which a busy shared machine disturbs far less than either model's own rate (the best rounds and
the medians are reported beside it). The target
is a ratio within 5 % of 1: the architectures differ only in layer names and the size of
the last classifier, so any larger gap would be an emolib overhead.

Writes ``results/bench_vggface_forward.json`` with its provenance (hardware, versions).

    python benchmarks/bench_vggface_forward.py [--batch 8] [--rounds 7] [--top]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8, help="images per forward pass")
    ap.add_argument("--rounds", type=int, default=7, help="timed A/B rounds")
    ap.add_argument("--repeats", type=int, default=2, help="forward passes per round")
    ap.add_argument("--top", action="store_true",
                    help="include the classifiers (fc6-fc8: 2,622 classes vs 1,000)")
    ap.add_argument("--no-write", action="store_true", help="do not write the result JSON")
    args = ap.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    from emolib.evaluate import provenance, write_result
    from emolib.models.vggface import VGGFace

    start, load_start = time.time(), os.getloadavg()[0]   # other processes make rounds noisy
    keras.utils.set_random_seed(0)
    ours = VGGFace("vgg16", include_top=args.top, weights=None, input_shape=(224, 224, 3))
    baseline = keras.applications.VGG16(include_top=args.top, weights=None, input_shape=(224, 224, 3))
    x = tf.constant(np.random.default_rng(0).normal(0, 60, (args.batch, 224, 224, 3)).astype("float32"))

    def runner(model):
        fn = tf.function(lambda t: model(t, training=False))
        fn(x).numpy()  # trace and warm up
        return fn

    runs = {"emolib_vggface_vgg16": runner(ours), "keras_applications_vgg16": runner(baseline)}
    rates = {name: [] for name in runs}
    for r in range(args.rounds):
        order = list(runs) if r % 2 == 0 else list(runs)[::-1]
        for name in order:
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                runs[name](x).numpy()
            rates[name].append(args.batch * args.repeats / (time.perf_counter() - t0))
    median = {name: statistics.median(v) for name, v in rates.items()}
    best = {name: max(v) for name, v in rates.items()}
    paired = [a / b for a, b in zip(rates["emolib_vggface_vgg16"], rates["keras_applications_vgg16"])]
    ratio = statistics.median(paired)
    result = {
        "images_per_s_best": {k: round(v, 2) for k, v in best.items()},
        "images_per_s_median": {k: round(v, 2) for k, v in median.items()},
        "ratio_emolib_over_keras": round(ratio, 4),
        "paired_ratios": [round(r, 3) for r in paired],
        "ratio_of_best_rounds": round(best["emolib_vggface_vgg16"] / best["keras_applications_vgg16"], 4),
        "within_5_percent": bool(abs(ratio - 1) <= 0.05),
        "batch": args.batch, "rounds": args.rounds, "repeats": args.repeats, "include_top": args.top,
        "input": "224x224x3 random normal, weights=None (random init)",
        "device": tf.config.list_physical_devices("GPU")[0].name if tf.config.list_physical_devices("GPU") else "CPU",
    }
    for name in rates:
        print(f"{name:28s} best {best[name]:7.2f} img/s, median {median[name]:7.2f} "
              f"(rounds: {', '.join(f'{v:.1f}' for v in rates[name])})")
    print(f"ratio emolib / keras.applications (median of paired rounds) = {ratio:.3f}  "
          f"({'within' if result['within_5_percent'] else 'OUTSIDE'} the 5 % target)")
    if not args.no_write:
        path = write_result("bench_vggface_forward", result,
                            provenance(None, profile="benchmark", wall_time_s=round(time.time() - start, 1),
                                       load_average_1min=[round(load_start, 2), round(os.getloadavg()[0], 2)]))
        print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
