"""A warm Run All of each notebook with the other core busy, against the same Run All idle.

    python benchmarks/bench_notebooks_hog.py [--repeats 2] [notebook ...]

A learner's laptop is rarely idle (a browser, another notebook). Every cell of the course runs on
one torch thread (`rnn_lesson.use_course_threads`, set when the package is imported), so a busy
core should cost little (with torch's default, one OpenMP thread per core, issue 17 measured a
warm Run All of notebook 02 at 38.8 s with the other core busy, against 11.4 s idle). Each notebook first runs once to fill a scratch run
cache (a warm Run All reads its runs from there, as a learner's second visit does); then idle and
hog runs alternate, and the ratio of the medians of the cells' summed execution times is printed
(budget 1.5). The hog is one process spinning on one core.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_timing import cell_seconds  # noqa: E402
from scratch import isolated  # noqa: E402

from rnn_lesson.lessons.paths import NOTEBOOKS  # noqa: E402

BUDGET = 1.5


def spin() -> None:
    while True:
        pass


def run_all(name: str, scratch: str) -> float:
    return sum(cell_seconds(name, scratch).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("notebooks", nargs="*", default=list(NOTEBOOKS))
    args = parser.parse_args()
    worst = 0.0
    with isolated() as scratch:
        for name in args.notebooks:
            run_all(name, scratch)  # fills the run cache: every later Run All is warm
            idle, busy = [], []
            for _ in range(args.repeats):
                idle.append(run_all(name, scratch))
                hog = multiprocessing.get_context("spawn").Process(target=spin, daemon=True)
                hog.start()
                try:
                    busy.append(run_all(name, scratch))
                finally:
                    hog.terminate()
                    hog.join()
            ratio = statistics.median(busy) / statistics.median(idle)
            worst = max(worst, ratio)
            print(f"{name}: warm Run All idle {statistics.median(idle):.1f} s, other core busy "
                  f"{statistics.median(busy):.1f} s: ratio {ratio:.2f}", flush=True)
    print(f"worst ratio {worst:.2f} (budget {BUDGET})")
    sys.exit(0 if worst <= BUDGET else 1)


if __name__ == "__main__":
    main()
