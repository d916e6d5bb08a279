"""load_fer2013 runs the caller's code once: no worker processes re-import or re-run a script.

Each test runs a real interpreter on a generated Kaggle-format CSV with a fresh EMOLIB_HOME.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SIDE_EFFECT_ROWS = 40_000       # the acceptance size: a ~330 MB CSV, large enough for any parallel path
VARIANT_ROWS = 4_000            # ~33 MB, for the pool worker: over the size that used to start processes


def _write_csv(path: Path, rows: int) -> Path:
    rng = np.random.default_rng(0)
    lines = [f"{k % 7},{' '.join(map(str, rng.integers(0, 256, 2304)))},{('Training', 'PublicTest')[k % 2]}\n"
             for k in range(64)]
    with open(path, "w") as f:
        f.write("emotion,pixels,Usage\n")
        for start in range(0, rows, 64):
            f.writelines(lines[: min(64, rows - start)])
    return path


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    return _write_csv(tmp_path_factory.mktemp("big") / "fer2013.csv", SIDE_EFFECT_ROWS)


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    return _write_csv(tmp_path_factory.mktemp("small") / "fer2013.csv", VARIANT_ROWS)


def _script(csv: Path, marker: Path) -> str:
    # No `if __name__ == "__main__"` guard on purpose: a spawned worker would run all of it again.
    return textwrap.dedent(f"""
        with open({str(marker)!r}, "a") as f:
            f.write("top of the script ran\\n")
        from emolib.data import load_fer2013
        ds = load_fer2013({str(csv)!r}, progress=False)
        print("rows", len(ds), ds.images.shape[1:], sorted(set(ds.usage.tolist())))
    """)


def _run(args, tmp_path, **kwargs):
    env = {**os.environ, "EMOLIB_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=600, **kwargs)


def _check(result, marker: Path, rows: int):
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"rows {rows} (48, 48) ['PublicTest', 'Training']" in result.stdout
    assert marker.read_text().splitlines() == ["top of the script ran"]


def test_script_without_main_guard_runs_its_top_once(tmp_path, big_csv):
    marker, script = tmp_path / "marker.txt", tmp_path / "user_script.py"
    script.write_text(_script(big_csv, marker))
    _check(_run([str(script)], tmp_path), marker, SIDE_EFFECT_ROWS)


def test_script_piped_on_stdin_runs_once(tmp_path, big_csv):
    marker = tmp_path / "marker.txt"
    _check(_run(["-"], tmp_path, input=_script(big_csv, marker)), marker, SIDE_EFFECT_ROWS)


def test_python_dash_c_runs_once(tmp_path, big_csv):
    marker = tmp_path / "marker.txt"
    _check(_run(["-c", _script(big_csv, marker)], tmp_path), marker, SIDE_EFFECT_ROWS)


def test_load_inside_a_multiprocessing_pool_worker(tmp_path, small_csv):
    # Pool workers are daemonic and may not start processes of their own.
    script = tmp_path / "pool_script.py"
    script.write_text(textwrap.dedent(f"""
        import multiprocessing

        def load(path):
            from emolib.data import load_fer2013
            assert multiprocessing.current_process().daemon
            return len(load_fer2013(path, progress=False))

        if __name__ == "__main__":
            with multiprocessing.Pool(1) as pool:
                print("rows", pool.apply(load, ({str(small_csv)!r},)))
    """))
    result = _run([str(script)], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"rows {VARIANT_ROWS}" in result.stdout
