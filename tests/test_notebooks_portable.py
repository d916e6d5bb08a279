"""Every chapter keeps its stored outputs true on any machine and has the same shape.

nbval compares a notebook against its stored outputs. Numbers that come from float training differ
in their last digits between CPUs, thread counts and oneDNN builds, so such a cell is tagged
``nbval-ignore-output`` and the next cell checks the number with ``check_band`` (its printed line
is the same everywhere). These tests read the notebooks as JSON; they execute nothing.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def ignores_output(cell: dict) -> bool:
    return "nbval-ignore-output" in tags(cell) or "# NBVAL_IGNORE_OUTPUT" in source(cell)


def markdown(path: Path) -> str:
    return "\n\n".join(source(c) for c in cells(path) if c["cell_type"] == "markdown")


def test_the_chapters_are_found():
    assert len(NOTEBOOKS) >= 12, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_ignored_output_is_checked_by_a_band_in_the_next_cell(path):
    book = cells(path)
    unchecked = []
    for i, cell in enumerate(book):
        if cell["cell_type"] != "code" or not ignores_output(cell):
            continue
        after = book[i + 1] if i + 1 < len(book) else None
        if after is None or after["cell_type"] != "code" or "check_band(" not in source(after):
            unchecked.append(i)
    assert not unchecked, f"{path.name}: cells {unchecked} ignore their output without a check_band cell next"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_cell_is_skipped_by_nbval(path):
    skipped = [i for i, c in enumerate(cells(path))
               if "nbval-skip" in tags(c) or "# NBVAL_SKIP" in source(c)]
    assert not skipped, f"{path.name}: cells {skipped} are skipped by nbval"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_exactly_one_parameters_cell(path):
    found = [i for i, c in enumerate(cells(path)) if "parameters" in tags(c)]
    assert len(found) == 1, f"{path.name}: parameters cells at {found}, expected exactly one"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_the_chapter_is_set_up_by_one_setup_call(path):
    calls = [i for i, c in enumerate(cells(path)) if c["cell_type"] == "code"
             and re.search(r"\bsetup\(", source(c))]
    assert len(calls) == 1, f"{path.name}: setup( called in cells {calls}, expected one cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_code_cell_is_the_hidden_colab_install(path):
    first = next(c for c in cells(path) if c["cell_type"] == "code")
    assert "remove-input" in tags(first), f"{path.name}: the first code cell is not tagged remove-input"
    assert "google.colab" in source(first), f"{path.name}: the first code cell is not the Colab install"


def section(text: str, title: str) -> str | None:
    """The body of the first heading whose title starts with ``title``, up to the next heading."""
    m = re.search(rf"^#+\s*(?:{title})[^\n]*\n(?P<body>.*?)(?=^#+\s|\Z)", text, re.M | re.S | re.I)
    return m.group("body") if m else None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_ends_with_summary_next_questions_and_exercises(path):
    text = markdown(path)
    heads = [h.lower() for h in re.findall(r"^#+\s*(.+)$", text, re.M)]
    order = ["summary", "what's next", "questions", "exercise"]
    positions = []
    for want in order:
        hits = [i for i, h in enumerate(heads) if h.startswith(want)]
        assert hits, f"{path.name}: no '{want}' heading near the end"
        positions.append(hits[-1])
    assert positions == sorted(positions), f"{path.name}: expected the headings in the order {order}"
    tail = heads[positions[-1] + 1:]
    assert all(h.startswith("references") for h in tail), f"{path.name}: sections after the exercises: {tail}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_three_to_six_questions(path):
    body = section(markdown(path), "Questions")
    assert body is not None, f"{path.name}: no Questions section"
    n = len(re.findall(r"^\d+\.\s", body, re.M))
    assert 3 <= n <= 6, f"{path.name}: {n} questions, expected 3 to 6"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_exercises_ask_for_a_prediction_first(path):
    body = section(markdown(path), "(?:Hands-on )?exercises?")
    assert body is not None and body.strip(), f"{path.name}: no exercise"
    assert re.search(r"predict", body, re.I), f"{path.name}: the exercise does not ask for a prediction first"
