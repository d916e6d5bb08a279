"""Run profiles: one code path, three sizes.

``sample`` (the default) runs offline in seconds on embedded data; ``local`` runs the same
notebooks on the real datasets on a CPU, with the FaceNet weights that reach an offline machine
through the package index, at 96 px and within minute budgets; ``full`` uses the real datasets
and VGGFace weights at 224 px, sized for a Colab GPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["Profile", "profile", "PROFILES", "emolib_home", "quiet_tensorflow"]


@dataclass(frozen=True)
class Profile:
    """Settings that differ between the sample and full runs of a notebook."""

    name: str
    data: str              # "embedded" or "real"
    n_faces: int           # embedded faces to generate (sample) or rows to use (0 = all)
    image_size: int        # input size for VGGFace-style backbones
    epochs: int
    batch_size: int
    weights: str | None    # "vggface" (rcmalli files), "facenet" (emolib.models.facenet) or None (random)
    progress: bool         # tqdm bars and Keras verbosity
    n_scenes: int          # group scenes (sample profile)
    n_clips: int           # video clips (sample profile)
    seed: int = 0
    budget_min: float | None = None   # wall-clock minutes per training run (CPU profiles); None: none

    @property
    def is_sample(self) -> bool:
        return self.name == "sample"

    @property
    def label(self) -> str:
        """Short provenance string for figure titles, e.g. 'sample profile, embedded data'."""
        return f"{self.name} profile, {'embedded procedural data' if self.data == 'embedded' else 'real data'}"


PROFILES: dict[str, Profile] = {
    "sample": Profile(
        name="sample", data="embedded", n_faces=1400, image_size=48, epochs=3, batch_size=64,
        weights=None, progress=False, n_scenes=120, n_clips=70,
    ),
    # Real data on this 2-core CPU: FaceNet AvgPool features of all 32,298 faces take ~4 min at
    # 96 px (benchmarks/facenet_check.py --speed); a whole-network fine-tuning epoch on 12,000
    # faces took ~6 min when measured here.
    "local": Profile(
        name="local", data="real", n_faces=0, image_size=96, epochs=3, batch_size=32,
        weights="facenet", progress=True, n_scenes=0, n_clips=0, budget_min=30.0,
    ),
    "full": Profile(
        name="full", data="real", n_faces=0, image_size=224, epochs=15, batch_size=64,
        weights="vggface", progress=True, n_scenes=0, n_clips=0,
    ),
}


def profile(name: str = "sample", **overrides) -> Profile:
    """Return the settings of profile ``name`` ("sample", "local" or "full"), with optional overrides.

    >>> profile("sample").data
    'embedded'
    """
    try:
        base = PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}: expected one of {sorted(PROFILES)}") from None
    bad = set(overrides) - set(Profile.__dataclass_fields__)
    if bad:
        raise ValueError(f"unknown profile setting(s) {sorted(bad)}: expected some of "
                         f"{sorted(Profile.__dataclass_fields__)}")
    return replace(base, **overrides)


def emolib_home() -> Path:
    """Cache directory: ``$EMOLIB_HOME``, else ``~/.cache/emolib``. Created on first use."""
    home = Path(os.environ.get("EMOLIB_HOME") or Path.home() / ".cache" / "emolib").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ logging so notebook outputs stay comparable under nbval.

    Must run before TensorFlow is imported to take full effect.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
