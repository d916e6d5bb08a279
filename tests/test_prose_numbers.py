"""Numbers in the chapters' prose are glued from result files or cited, never typed by hand.

A measured number typed into Markdown goes stale the day a benchmark is rerun. Each chapter glues
it from ``emolib/assets/results/*.json`` (``{glue:text}`name```) or refers to an output above it;
numbers from papers carry a ``{cite}`` in the same sentence (or table row). Readers also never see
the project's internal names for the source papers ("seed 003") or for the design notes.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PAGES = sorted((ROOT / "book").glob("*.md"))

# Typed numbers that look measured: percentages, "N points", rates per second, and fractions
# such as an accuracy or F1 of 0.652.
MEASURED = re.compile(
    r"(?<![\w.])[+-]?\d+(?:[.,]\d+)?\s?%"                     # 62.3 %, 75%
    r"|(?<![\w.])[+-]\d+(?:\.\d+)?\s+points?\b"                   # +4.9 points
    r"|(?<![\w.])\d+(?:\.\d+)?\s+percentage\s+points?\b"          # 4.9 percentage points
    r"|(?<![\w.])\d[\d,]*(?:\.\d+)?\s+[a-z ]{0,20}per\s+second"      # 120 images per second
    r"|(?<![\w.-])0\.\d{2,}\b"                                # F1 0.476
)

# (file name, typed text) -> why it may stay.
ALLOWED: dict[tuple[str, str], str] = {}


def markdown_cells(path: Path) -> list[str]:
    if path.suffix == ".md":
        return [path.read_text(encoding="utf-8")]
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"] if c["cell_type"] == "markdown"]


def prose(text: str) -> str:
    """The text a reader reads as sentences: no code blocks, inline code, maths or glue roles."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    text = re.sub(r"\$[^$\n]+\$", "", text)
    text = re.sub(r"\{glue(?::\w+)?\}`[^`]*`", "GLUED", text)
    return re.sub(r"`[^`\n]*`", "", text)


def units(text: str) -> list[str]:
    """Sentences; a table row or list item counts as one unit."""
    out = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[-*]|\d+\.)\s)|\n(?=\|)", text):
        if block.lstrip().startswith("|"):
            out += block.splitlines()
        else:
            out += re.split(r"(?<=[.!?])\s+(?=[A-Z(*])", " ".join(block.split()))
    return [u for u in out if u.strip()]


def typed_numbers(path: Path) -> list[str]:
    bad = []
    for cell in markdown_cells(path):
        for unit in units(prose(cell)):
            if "{cite" in unit:
                continue
            for m in MEASURED.finditer(unit):
                if (path.name, m.group(0).strip()) not in ALLOWED:
                    bad.append(f"{m.group(0).strip()!r} in: {unit.strip()[:160]}")
    return bad


@pytest.mark.parametrize("path", NOTEBOOKS + PAGES, ids=[p.name for p in NOTEBOOKS + PAGES])
def test_measured_numbers_in_prose_are_glued_or_cited(path):
    bad = typed_numbers(path)
    assert not bad, f"{path.name}: typed numbers without glue or citation:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("path", NOTEBOOKS + PAGES, ids=[p.name for p in NOTEBOOKS + PAGES])
def test_prose_names_systems_not_seed_numbers_or_design_sections(path):
    text = path.read_text(encoding="utf-8")
    found = re.findall(r"[Ss]eeds? \d{3}|DESIGN\s*§\s*\d+|DESIGN\.md", text)
    assert not found, f"{path.name}: {sorted(set(found))}"


def test_the_detector_catches_a_typed_percentage(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("The model reached 62.3 % on the test split.\n")
    assert typed_numbers(page) == ["'62.3 %' in: The model reached 62.3 % on the test split."]


def test_glued_and_cited_numbers_pass(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("The model reached {glue:text}`acc` on the test split.\n\n"
                    "The AMD pipeline reached 78.53 % {cite}`rassadin2017group`.\n\n"
                    "| system | reported |\n|---|---|\n| AMD | 75.39 % {cite}`rassadin2017group` |\n")
    assert typed_numbers(page) == []


def test_the_detector_catches_a_typed_gain_in_points(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("The ensemble beat the best member by +4.9 points.\n")
    assert len(typed_numbers(page)) == 1


def test_counts_of_things_called_points_are_not_measurements(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("dlib places 68 points on a face.\n")
    assert typed_numbers(page) == []


def test_numbers_in_code_are_not_prose(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Format with `{:.1%}`.\n\n```python\nprint(f'{0.652:.1%}')\n```\n")
    assert typed_numbers(page) == []
