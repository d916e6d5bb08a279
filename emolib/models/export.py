"""TensorFlow Lite export: convert a Keras model to a ``.tflite`` file and run one."""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

__all__ = ["to_tflite", "tflite_predict"]


def to_tflite(keras_model, path: str | os.PathLike, *, quantize: bool = False) -> Path:
    """Convert ``keras_model`` to a TFLite file at ``path``, through a SavedModel.

    With ``quantize=True`` the converter's default optimisation stores the weights in 8 bits
    (dynamic-range quantisation: a file about a quarter of the float size).
    """
    import tensorflow as tf

    path = Path(path)
    tf.get_logger().setLevel("ERROR")                     # no "Assets written to /tmp/..." lines
    with tempfile.TemporaryDirectory() as saved:
        keras_model.export(saved, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        path.write_bytes(converter.convert())
    return path


def tflite_predict(path: str | os.PathLike, x) -> np.ndarray:
    """Outputs of a one-input, one-output TFLite model on the batch ``x``, one item at a time.

    Items are cast to the model's input dtype. Plain kernels are used (no delegate), so the
    interpreter prints nothing.

    Raises:
        ValueError: when ``x``'s items do not have the model's input shape.
    """
    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                   # tf.lite.Interpreter is deprecated for LiteRT
        interpreter = tf.lite.Interpreter(
            model_path=str(path),
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    x = np.asarray(x)
    expected = tuple(int(d) for d in inp["shape"][1:])
    if tuple(x.shape[1:]) != expected:
        raise ValueError(f"{Path(path).name}: expected input items of shape {expected}, "
                         f"got {tuple(x.shape[1:])}")
    rows = []
    for item in x:
        interpreter.set_tensor(inp["index"], item[None].astype(inp["dtype"]))
        interpreter.invoke()
        rows.append(interpreter.get_tensor(out["index"])[0])
    return np.array(rows)
