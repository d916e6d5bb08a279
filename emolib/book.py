"""Chapter set-up and the helpers that keep a notebook's stored outputs true on any machine.

Every chapter starts with one call, ``P = setup(PROFILE)``: it quiets TensorFlow, fixes the seeds,
asks for deterministic kernels and prints which profile made the outputs below it.

Numbers learned by float training differ in their last digits between CPUs, thread counts and
oneDNN builds, so a notebook shows them in a cell tagged ``nbval-ignore-output`` and checks them in
the next cell with :func:`check_band`, whose output is the same everywhere. Numbers quoted in prose
come from result files through :func:`glue`.
"""
from __future__ import annotations

import logging
import os
import random
from typing import Any

from emolib.config import Profile, profile, quiet_tensorflow

__all__ = ["setup", "check_band", "glue"]


def setup(profile_name: str = "sample", *, seed: int | None = None, deterministic: bool = True,
          verbose: bool = True, **overrides: Any) -> Profile:
    """Prepare a chapter: quiet TensorFlow, seed every generator, return the profile's settings.

    Args:
        profile_name: ``"sample"`` (embedded data, seconds), ``"local"`` or ``"full"``.
        seed: seed for Python, NumPy and Keras; default: the profile's seed.
        deterministic: ask TensorFlow for deterministic kernels (same results run to run on
            one machine; across machines float sums still differ, see :func:`check_band`).
        verbose: print the profile label, the provenance line every figure repeats.
        **overrides: profile settings to change, as in :func:`emolib.config.profile`.
    """
    P = profile(profile_name, **overrides)
    quiet_tensorflow()
    import numpy as np

    seed = P.seed if seed is None else int(seed)
    random.seed(seed)
    np.random.seed(seed)
    import keras

    keras.utils.set_random_seed(seed)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.get_logger().setLevel(logging.ERROR)
        tf.config.experimental.enable_op_determinism()
    if verbose:
        print(P.label)
    return P


def check_band(name: str, value: float, low: float, high: float) -> None:
    """Check that a learned number lies in ``[low, high]`` and print a line that is the same on
    every machine (the value itself is shown in the cell above, whose output nbval ignores).

    Returns None, so a cell ending with the call shows only the printed line (nbval executes cells
    without storing history, where IPython ignores a trailing ``;``).

    Raises:
        AssertionError: naming the quantity, its value and the band it left.
    """
    value = float(value)
    if not (low <= value <= high) or value != value:
        raise AssertionError(f"{name} = {value:.6g} is outside its tolerance band [{low}, {high}]")
    print(f"{name}: within [{low}, {high}]")


def glue(name: str, value: Any, fmt: str | None = None) -> None:
    """Make ``value`` available to the chapter's prose as ``{glue:text}`name```.

    With ``fmt`` (e.g. ``"{:.1%}"``) the formatted string is glued, so the text the reader sees
    is exactly what the result file holds. Outside Jupyter Book (myst-nb absent, e.g. on Colab,
    or ``EMOLIB_NO_GLUE`` set) this does nothing. Returns None, like myst-nb's own ``glue``, so a
    cell ending with the call displays nothing.
    """
    shown = fmt.format(value) if fmt else value
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - myst-nb comes with the `book` extra
        return
    if os.environ.get("EMOLIB_NO_GLUE"):
        return
    _glue(name, shown, display=False)
