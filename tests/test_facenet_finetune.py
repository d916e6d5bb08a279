"""FaceNet as a fine-tuning backbone: registry entry, block numbering, and MirroredStrategy training."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")

from emolib.models.backbones import build_backbone
from emolib.models.facenet import MIN_SIZE
from emolib.models.finetune import block_index, build_classifier, set_trainable

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name, block", [("Conv2d_4b_3x3_BatchNorm", 1), ("Block35_5_Conv2d_1x1", 2),
                                         ("Mixed_6a_Branch_0_Conv2d_1a_3x3", 3), ("Block17_10_ScaleSum", 4),
                                         ("Mixed_7a", 5), ("Block8_6_Conv2d_1x1", 6), ("AvgPool", None)])
def test_block_index_numbers_facenet_stages(name, block):
    assert block_index(name) == block


@pytest.fixture(scope="module")
def facenet_backbone():
    return build_backbone("facenet", MIN_SIZE)


def test_facenet_backbone_takes_raw_rgb_and_ends_with_a_feature_map(facenet_backbone):
    assert facenet_backbone.preprocessing == "none"
    assert facenet_backbone.model.layers[1].name == "Standardize"
    assert facenet_backbone.model.output_shape == (None, 1, 1, 1792)


def test_unfreezing_one_block_trains_only_block8(facenet_backbone):
    names = set_trainable(facenet_backbone.model, 1)
    assert names and all(n.startswith("Block8_") for n in names)


def test_facenet_backbone_rejects_inputs_below_its_minimum():
    with pytest.raises(ValueError, match=">= 75"):
        build_backbone("facenet", 64)


def test_dlib_resnet_is_refused_as_a_trainable_backbone():
    with pytest.raises(ValueError, match="frozen feature extractor"):
        build_backbone("dlib_resnet", 150)


def test_build_classifier_puts_a_seven_way_head_on_facenet():
    model, preprocessing = build_classifier("facenet", input_size=MIN_SIZE)
    assert preprocessing == "none" and model.output_shape == (None, 7)


MIRRORED = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from emolib.models.finetune import Stage, build_classifier, two_stage_finetune

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, {size}, {size}, 3)).astype("float32")
    y = keras.utils.to_categorical(np.arange(8) % 7, 7)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model, _ = build_classifier("facenet", input_size={size})
        result = two_stage_finetune(model, data, stage1=Stage(3, 1e-3, patience=None),
                                    stage2=Stage(2, 1e-4, unfreeze=1, patience=None))
    out = model.predict(x, verbose=0)
    print(json.dumps({{"replicas": strategy.num_replicas_in_sync, "loss": result.history["loss"],
                       "shape": list(out.shape), "epochs": result.stage_epochs,
                       "unfrozen": result.unfrozen}}))
""")


@pytest.mark.slow
def test_two_stage_finetune_runs_under_mirrored_strategy_on_two_cpus(tmp_path):
    """In a subprocess: logical devices must be set before TensorFlow starts."""
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED.format(size=MIN_SIZE))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["shape"] == [8, 7] and report["epochs"] == [3, 2]
    assert report["unfrozen"] and all(n.startswith("Block8_") for n in report["unfrozen"])
    assert report["loss"][-1] < report["loss"][0]
    assert np.isfinite(report["loss"]).all()
