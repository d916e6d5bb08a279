"""Check emolib's FaceNet port against the original Keras 2 model file, on real faces.

Needs the real weight file (``python -m emolib.models.facenet download``); tests never do.

(a) **Equivalence.** The original ``facenet_keras.h5`` is loaded as a whole model by Keras'
    legacy HDF5 loader, after its 21 ``Lambda`` layers (pickled Python bytecode, which Keras 3
    cannot run) are rewritten in the stored ``model_config`` JSON as emolib's registered
    ``ScaledResidual`` with the same ``scale``. Its output (``Bottleneck_BatchNorm``, then L2
    normalised) must equal the port's embedding within 1e-4 on real faces: the astronaut of
    ``skimage.data.astronaut`` (Haar-detected, 20 % margin), its mirror image, and faces of
    ``skimage.data.lfw_subset`` (25 x 25 grey, upscaled).
(b) **Identity.** At 160 px, the astronaut against her mirror image: cosine >= 0.8; the first
    100 images of ``lfw_subset`` (all faces of other people): mean cosine with her < 0.5. The
    same numbers at 96 px are reported for the record.
(c) Optional ``--speed N``: AvgPool feature extraction at 96 px on the first N FER2013 faces,
    extrapolated to the 32,298 rows of Training + PublicTest.

Writes ``facenet_check.json`` (emolib.evaluate.write_result) with provenance.

    python benchmarks/facenet_check.py [--weights PATH] [--speed 500] [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FER2013_ROWS = 32_298
DEFAULT_DATA = Path(os.environ.get("DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")


def load_original(path: Path, tmp: Path):
    """The original whole model, its Lambda layers rewritten as ScaledResidual."""
    import h5py
    import keras

    from emolib.models.facenet import ScaledResidual

    edited = tmp / "facenet_keras_scaledresidual.h5"
    shutil.copy(path, edited)
    with h5py.File(edited, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        replaced = 0
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Lambda":
                c = layer["config"]
                layer["class_name"] = "ScaledResidual"
                layer["config"] = {"name": c["name"], "trainable": c.get("trainable", True),
                                   "scale": float(c["arguments"]["scale"])}
                replaced += 1
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
    model = keras.models.load_model(edited, custom_objects={"ScaledResidual": ScaledResidual}, compile=False)
    return model, replaced


def faces(size: int):
    """(astronaut crop, its mirror, 100 lfw_subset faces), RGB uint8 at ``size`` px."""
    import numpy as np
    import skimage.data
    from PIL import Image

    from emolib.faces import detect

    image = skimage.data.astronaut()
    x, y, w, h = detect(image, method="haar")[0].box
    m = int(0.2 * max(w, h))
    crop = image[max(0, y - m):y + h + m, max(0, x - m):x + w + m]
    resize = lambda a: np.asarray(Image.fromarray(a).resize((size, size), Image.BICUBIC))
    astro = resize(crop)
    lfw = (skimage.data.lfw_subset()[:100] * 255).round().astype(np.uint8)
    others = np.stack([np.repeat(resize(g)[..., None], 3, axis=-1) for g in lfw])
    return astro, astro[:, ::-1].copy(), others


def identity(model, size: int) -> dict:
    import numpy as np

    from emolib.models.facenet import preprocess_input

    astro, mirror, others = faces(size)
    e = model.predict(preprocess_input(np.concatenate([astro[None], mirror[None], others])), verbose=0)
    return {"size": size, "cos_astronaut_mirror": round(float(e[0] @ e[1]), 4),
            "mean_cos_lfw_vs_astronaut": round(float((e[2:] @ e[0]).mean()), 4),
            "n_lfw": len(others)}


def speed(weights: Path, data_dir: Path, n: int) -> dict:
    import gzip

    import numpy as np
    import pandas as pd
    from PIL import Image

    from emolib.models.facenet import FaceNet, preprocess_input

    csv = data_dir / "fer2013" / "fer2013.csv.gz"
    with gzip.open(csv, "rt") as fh:
        rows = pd.read_csv(fh, nrows=n)
    grey = np.stack([np.asarray(p.split(), np.uint8).reshape(48, 48) for p in rows["pixels"]])
    model = FaceNet(include_top=False, weights=weights, input_shape=(96, 96, 3), pooling="avg")
    t0 = time.perf_counter()
    batch = 64
    for i in range(0, n, batch):
        g = grey[i:i + batch]
        x = np.stack([np.asarray(Image.fromarray(a).resize((96, 96), Image.BILINEAR)) for a in g])
        model.predict_on_batch(preprocess_input(np.repeat(x[..., None], 3, axis=-1)))
    dt = time.perf_counter() - t0
    rate = n / dt
    return {"n": n, "size": 96, "seconds": round(dt, 1), "images_per_s": round(rate, 1),
            "extrapolated_min_32298": round(FER2013_ROWS / rate / 60, 1),
            "load_avg_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, default=None, help="default: EMOLIB_HOME/weights/facenet_keras.h5")
    ap.add_argument("--speed", type=int, default=0, help="FER2013 faces to time at 96 px (0: skip)")
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    import numpy as np

    from emolib.evaluate import provenance, write_result
    from emolib.models.facenet import (
        WEIGHTS_SHA256,
        FaceNet,
        get_weights_file,
        preprocess_input,
    )

    start = time.time()
    weights = args.weights or get_weights_file()
    port = FaceNet(weights=weights)
    with tempfile.TemporaryDirectory() as tmp:
        original, replaced = load_original(weights, Path(tmp))
    astro, mirror, others = faces(160)
    x = preprocess_input(np.concatenate([astro[None], mirror[None], others[:30]]))
    raw = original.predict(x, verbose=0)
    ref = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    ours = port.predict(x, verbose=0)
    diff = float(np.abs(ref - ours).max())
    result = {
        "equivalence": {"lambda_layers_replaced": replaced, "faces": len(x),
                        "max_abs_diff_embedding": diff, "tolerance": 1e-4, "passed": diff <= 1e-4},
        "identity_160": identity(port, 160),
        "identity_96": identity(FaceNet(weights=weights, input_shape=(96, 96, 3)), 96),
        "parameters": int(port.count_params()),
    }
    i160 = result["identity_160"]
    result["identity_passed"] = (i160["cos_astronaut_mirror"] >= 0.8 and i160["mean_cos_lfw_vs_astronaut"] < 0.5)
    if args.speed:
        result["speed"] = speed(weights, args.data_dir, args.speed)
    print(json.dumps(result, indent=2))
    if not args.no_write:
        prov = provenance(weights, profile="local", wall_time_s=round(time.time() - start, 1),
                          weights_sha256=WEIGHTS_SHA256,
                          weights_source="Taniai's Keras conversion of Sandberg's FaceNet 20170512-110547 "
                                         "(MS-Celeb-1M; research and teaching use)")
        print(write_result("facenet_check", result, prov))
    return result


if __name__ == "__main__":
    main()
