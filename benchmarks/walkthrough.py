"""How long each path through the course takes: a reading model plus the machine's own time.

    python benchmarks/walkthrough.py [--json FILE]

This is an estimate, not a timed learner. Each cell of each path costs

- its **reading**: Markdown at 150 words a minute, code at 6 s a line (a learner reads what a
  cell does before running it), and what the cell shows: the prose it computes (Markdown outputs)
  at 150 words a minute, printed text and tables skimmed at 300, 15 s per figure (the outputs
  saved in the committed notebooks; quiz cards and widgets are counted as doing instead);
- its **doing**: 45 s per question or test item, and the minutes stated in `ACTIVITIES` for the
  exercises and widgets (writing the fix or the loop, exploring the panel, a prediction);
- its **execution**, measured: the path's own cells run through nbclient in the path's order, one
  kernel per notebook, with a fresh run cache (a new learner's first visit; a second visit reads
  the cache and is faster). This also proves that each path runs on its own: a cell that fails
  stops the benchmark. Only execution is measured; it varies up to 3x between machines.

The paths are `rnn_lesson.lessons.paths.PATHS`; the share of test items each path teaches is
computed over 200 test draws.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_timing import path_seconds  # noqa: E402
from scratch import isolated  # noqa: E402

from rnn_lesson.lessons import mastery, paths  # noqa: E402

WORDS_PER_MINUTE = 150
SECONDS_PER_CODE_LINE = 6
SECONDS_PER_QUESTION = 45
TEST_ITEMS = 10
# Cells where the learner does something, by what their code calls: minutes of work.
ACTIVITIES = {
    "class MyRNN": 8.0,              # write the fix (notebook 02)
    "def fit(": 8.0,                 # write the early-stopping loop (notebook 02)
    "lesson.panel(": 5.0,            # explore the panel's sliders
    "lesson.predict_": 1.0,          # commit to a prediction before the runs
    "hint_panel(": 1.0,              # open the hints one by one
    "length_explorer(": 2.0,         # explore the runs by length
    "map_widget(": 2.0,              # move the map's sliders
}
SKIMMED_WORDS_PER_MINUTE = 300
SECONDS_PER_FIGURE = 15
DRAWS = 200


def _words(text: str) -> int:
    return len(re.findall(r"\w+", re.sub(r"<[^>]+>", " ", text)))


def reading_seconds(cell: dict) -> float:
    source = "".join(cell["source"])
    if cell["cell_type"] == "markdown":
        return 60 * _words(source) / WORDS_PER_MINUTE
    lines = [line for line in source.splitlines() if line.strip() and not line.startswith("#")]
    return SECONDS_PER_CODE_LINE * len(lines) + output_seconds(cell)


def output_seconds(cell: dict) -> float:
    """Reading what a code cell shows, as saved in the committed notebook (a quiz or a widget is
    counted in `doing_seconds`)."""
    if doing_seconds(cell):
        return 0.0
    seconds = 0.0
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if "image/png" in data:
            seconds += SECONDS_PER_FIGURE
        elif "text/markdown" in data:
            seconds += 60 * _words("".join(data["text/markdown"])) / WORDS_PER_MINUTE
        else:
            text = "".join(output.get("text", "")) + "".join(data.get("text/html", data.get("text/plain", "")))
            seconds += 60 * _words(text) / SKIMMED_WORDS_PER_MINUTE
    return seconds


def doing_seconds(cell: dict) -> float:
    if cell["cell_type"] != "code":
        return 0.0
    source = "".join(cell["source"])
    seconds = SECONDS_PER_QUESTION * (source.count("quizzes.show(\"")
                                      + TEST_ITEMS * source.count("test_card("))
    return seconds + 60 * sum(minutes for call, minutes in ACTIVITIES.items() if call in source)


def estimate(path: tuple[paths.Stretch, ...], executed: dict[str, float]) -> dict[str, float]:
    totals = {"reading": 0.0, "doing": 0.0, "execution": 0.0}
    for stretch in path:
        for cell in paths.cells(stretch):
            totals["reading"] += reading_seconds(cell)
            totals["doing"] += doing_seconds(cell)
            totals["execution"] += executed.get(f"{stretch.notebook}/{cell['id']}", 0.0)
    totals["total"] = sum(totals.values())
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    sections = [section for seed in range(DRAWS) for section in mastery.sections(seed)]
    report = {}
    for name, path in paths.PATHS.items():
        print(f"running the {name} path's cells, cold cache (minutes)...", flush=True)
        with isolated() as scratch:
            executed = path_seconds(path, scratch)
        totals = estimate(path, executed)
        share = paths.share_covered(path, sections)
        report[name] = {**{k: round(v / 60, 1) for k, v in totals.items()},
                        "test_share_taught": round(share, 3)}
        print(f"\n{name} path: about {totals['total'] / 60:.0f} min = reading "
              f"{totals['reading'] / 60:.0f} + doing {totals['doing'] / 60:.0f} + execution "
              f"{totals['execution'] / 60:.1f} (measured, first visit); teaches "
              f"{share:.1%} of test items over {DRAWS} draws")
        for stretch in path:
            print(f"  {stretch}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
