"""Execute the notebooks with papermill (sample profile) and build the book with Jupyter Book 1.

    python tools/build_book.py                 # execute into _build/stage, then build _build/html
    python tools/build_book.py --in-place --no-build   # refresh the stored outputs in notebooks/
    python tools/build_book.py --stored                # build from the stored outputs, execute nothing
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "_build" / "stage"


def toc_files(toc: dict) -> list[str]:
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part.get("chapters", [])]
    files += [c["file"] for c in toc.get("chapters", [])]
    return files


def existing(rel: str) -> Path | None:
    for suffix in (".ipynb", ".md"):
        if (ROOT / (rel + suffix)).exists():
            return ROOT / (rel + suffix)
    return None


def filtered_toc(toc: dict) -> dict:
    """The toc without chapters that do not exist yet (each is reported)."""
    out = dict(toc)
    parts = []
    for part in toc.get("parts", []):
        chapters = [c for c in part["chapters"] if existing(c["file"])]
        for c in part["chapters"]:
            if not existing(c["file"]):
                print(f"build_book: skipping missing chapter {c['file']}", file=sys.stderr)
        if chapters:
            parts.append({**part, "chapters": chapters})
    out["parts"] = parts
    return out


def drop_injected_parameters(nb: Path) -> None:
    """Remove a papermill 'injected-parameters' cell left by an earlier parameterised run."""
    import nbformat

    book = nbformat.read(nb, as_version=4)
    cells = [c for c in book.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    if len(cells) != len(book.cells):
        book.cells = cells
        nbformat.write(book, nb)


def _ipc_kernel_manager():
    """Kernels talk over local sockets rather than TCP (no open port, no ipykernel warning)."""
    from jupyter_client.manager import KernelManager

    class IPCKernelManager(KernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)

    return IPCKernelManager


def execute(nb: Path, out: Path) -> float:
    import papermill as pm

    if out == nb:
        drop_injected_parameters(nb)
    t = time.time()
    # No parameters are injected: every notebook defaults to the sample profile.
    pm.execute_notebook(str(nb), str(out), kernel_name="python3",
                        cwd=str(nb.parent), progress_bar=False, log_output=False,
                        kernel_manager_class=_ipc_kernel_manager())
    return time.time() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--in-place", action="store_true", help="write executed notebooks back to notebooks/")
    ap.add_argument("--no-build", action="store_true", help="execute only; skip jupyter-book")
    ap.add_argument("--stored", action="store_true",
                    help="execute nothing: build from the outputs stored in notebooks/ (a quick look)")
    ap.add_argument("notebooks", nargs="*", help="only these notebooks (default: all in the toc)")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend must store the figures

    toc = filtered_toc(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    if existing(toc["root"]) is None:
        sys.exit(f"build_book: the book's root page {toc['root']} (.md or .ipynb) is missing")
    if not args.in_place:
        shutil.rmtree(STAGE, ignore_errors=True)
        STAGE.mkdir(parents=True)
        # Result files are package data (emolib/assets/results): chapters read them through
        # emolib.evaluate.RESULTS_DIR, so the stage needs only the book's own pages.
        for item in ("_config.yml", "book", "README.md"):
            src = ROOT / item
            if src.is_dir():
                shutil.copytree(src, STAGE / item)
            elif src.exists():
                shutil.copy(src, STAGE / item)
        (STAGE / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    chosen = {Path(n).stem for n in args.notebooks}
    for rel in toc_files(toc):
        src = existing(rel)
        if src.suffix == ".md":
            continue
        if args.stored or (chosen and src.stem not in chosen):
            if not args.in_place:
                (STAGE / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, STAGE / (rel + ".ipynb"))
            continue
        dest = src if args.in_place else STAGE / (rel + ".ipynb")
        dest.parent.mkdir(parents=True, exist_ok=True)
        print(f"executing {src.relative_to(ROOT)} ...", end=" ", flush=True)
        print(f"{execute(src, dest):.0f} s", flush=True)
    if args.no_build:
        return 0
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(STAGE), "--path-output", str(ROOT)]
    print(" ".join(cmd), flush=True)
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
