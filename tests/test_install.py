"""The package stands on its own once installed: every file it reads at run time is package data
inside emolib/. (tools/check_install.sh does the real non-editable install; it is too slow here.)"""
import fnmatch
import re
from pathlib import Path

import tomllib

import emolib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(emolib.__file__).resolve().parent


def package_data_globs() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["setuptools"]["package-data"]["emolib"]


def test_every_asset_file_is_declared_as_package_data():
    globs = package_data_globs()
    assets = [p.relative_to(PACKAGE).as_posix() for p in (PACKAGE / "assets").rglob("*") if p.is_file()]
    assert assets
    undeclared = [a for a in assets if not any(fnmatch.fnmatch(a, g) for g in globs)]
    assert undeclared == []


def test_default_model_and_results_live_inside_the_package():
    from emolib.evaluate import RESULTS_DIR
    from emolib.models.pretrained import DEFAULT_MODEL_PATH

    for path in (DEFAULT_MODEL_PATH, RESULTS_DIR):
        assert PACKAGE in path.resolve().parents, path
    assert DEFAULT_MODEL_PATH.is_file() and any(RESULTS_DIR.glob("*.json"))


def test_no_module_climbs_out_of_the_package_through_dunder_file():
    # parents[k] of a module's file leaves emolib/ once k reaches the module's depth in it
    climbing = re.compile(r"__file__\)?(?:\.resolve\(\))?(\.parents\[(\d+)\]|(?:\.parent(?!s))+)")
    offenders = []
    for module in PACKAGE.rglob("*.py"):
        depth = len(module.relative_to(PACKAGE).parts)           # emolib/x.py -> 1
        for match in climbing.finditer(module.read_text()):
            ups = match.group(1).count(".parent") if match.group(2) is None else int(match.group(2)) + 1
            if ups > depth:
                offenders.append(f"{module.relative_to(PACKAGE)}: {match.group(0)}")
    assert offenders == []
