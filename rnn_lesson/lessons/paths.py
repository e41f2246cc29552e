"""The two ways through the course, as stretches of notebooks, and what they cover of the test.

A stretch runs from a Markdown heading of a notebook (or its top) up to, not including, another
heading (or its end). `benchmarks/walkthrough.py` times each path; the README prints its figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from quizzes.questions import Section

NOTEBOOKS = ("01_rnn_basics.ipynb", "02_overfitting_experiment.ipynb", "03_rnn_vs_lstm.ipynb",
             "04_real_data.ipynb", "05_diagnose_and_test.ipynb", "06_summary.ipynb")
NOTEBOOK_FOLDER = Path(__file__).resolve().parents[2] / "notebooks"
# Where a learning-curve item of the test is taught when it names no section of its own.
CURVES_SECTION = Section("05_diagnose_and_test.ipynb", "Diagnose the curves")


@dataclass(frozen=True)
class Stretch:
    """Part of one notebook: from the heading `start` (None: the top) to the heading `stop`
    (not included; None: the end)."""

    notebook: str
    start: str | None = None
    stop: str | None = None

    def __str__(self) -> str:
        where = (f"from \u201c{self.start}\u201d" if self.start else "from the top") + (
            f" to \u201c{self.stop}\u201d" if self.stop else " to the end")
        return f"notebook {self.notebook[:2]} {where}"


# The short path: the basics the test asks about, the experiment (the problem, the panel, the fix
# written and graded, what each change does; not the loop exercise), what LSTM and GRU return,
# then the curves to diagnose and the post-test. The full path: every notebook, the pre-test first.
SHORT_PATH = (
    Stretch("01_rnn_basics.ipynb", stop="4. Sequences of different lengths"),
    Stretch("02_overfitting_experiment.ipynb", stop="Write the loop"),
    Stretch("02_overfitting_experiment.ipynb", start="What each change does: the ablation",
            stop="Before and after, against the lesson"),
    Stretch("03_rnn_vs_lstm.ipynb", stop="2. Longer sequences, with the pattern at the start"),
    Stretch("05_diagnose_and_test.ipynb", stop="Before you start: the pre-test"),  # its imports
    Stretch("05_diagnose_and_test.ipynb", start="Diagnose the curves", stop="Your progress"),
)
FULL_PATH = (Stretch("05_diagnose_and_test.ipynb", stop="Diagnose the curves"),
             *(Stretch(name) for name in NOTEBOOKS[:4]),
             Stretch("05_diagnose_and_test.ipynb", start="Diagnose the curves"),
             Stretch("06_summary.ipynb"))
PATHS = {"short": SHORT_PATH, "full": FULL_PATH}


def headings(cell: dict) -> list[str]:
    """The Markdown headings of a notebook cell, without their #s."""
    if cell["cell_type"] != "markdown":
        return []
    return [line.lstrip("#").strip() for line in "".join(cell["source"]).splitlines()
            if line.startswith("#")]


@lru_cache(maxsize=16)
def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def cells(stretch: Stretch, folder: Path = NOTEBOOK_FOLDER) -> list[dict]:
    """The cells of a stretch, in order. A heading it names that its notebook lacks is an error."""
    notebook = _cells(folder / stretch.notebook)
    index = {h: i for i, cell in enumerate(notebook) for h in headings(cell)}
    for heading in (stretch.start, stretch.stop):
        if heading is not None and heading not in index:
            raise ValueError(f"{stretch.notebook} has no heading {heading!r}: "
                             f"its headings are {list(index)}")
    first = index[stretch.start] if stretch.start else 0
    last = index[stretch.stop] if stretch.stop else len(notebook)
    return notebook[first:last]


def covers(path: tuple[Stretch, ...], section: Section | None,
           folder: Path = NOTEBOOK_FOLDER) -> bool:
    """Whether a path reads the section that teaches an item (a curve item: CURVES_SECTION)."""
    section = section or CURVES_SECTION
    return any(stretch.notebook == section.notebook
               and any(section.heading in headings(cell) for cell in cells(stretch, folder))
               for stretch in path)


def share_covered(path: tuple[Stretch, ...], sections: list[Section | None],
                  folder: Path = NOTEBOOK_FOLDER) -> float:
    """The share of test items, given by the sections that teach them, that the path reads."""
    return sum(covers(path, section, folder) for section in sections) / len(sections)
