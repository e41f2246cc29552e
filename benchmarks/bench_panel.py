"""Slider move to final curves: how long a learner waits in the experiment panel.

    python benchmarks/bench_panel.py [--repeats 9]

Moves the dropout slider back and forth on the lesson's fix (hidden 32, lr 1e-3, early stopping)
and times each move until the final learning curves and verdict are shown, including the live
redraws while training. In the browser, add the round trip to the page (tests/browser measures
that end to end).
"""

from __future__ import annotations

import argparse
import statistics
import time

from rnn_lesson.lessons.overfitting import FIX, panel as experiment_panel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    panel = experiment_panel(start=FIX)
    panel.run()  # warm up torch and matplotlib
    seconds = []
    for i in range(args.repeats):
        start = time.perf_counter()
        panel.controls["dropout"].value = 0.25 if i % 2 == 0 else 0.3
        panel.wait()
        seconds.append(time.perf_counter() - start)
        assert f"dropout {panel.controls['dropout'].value:.2f}" in panel.caption.value
    print(f"slider move -> final curves (the fix, {panel.last_history.epochs} epochs): median "
          f"{statistics.median(seconds):.2f} s (min {min(seconds):.2f}, max {max(seconds):.2f}); "
          f"of which training {panel.last_history.seconds:.2f} s")


if __name__ == "__main__":
    main()
