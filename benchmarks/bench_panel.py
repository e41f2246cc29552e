"""Slider move to final curves, against a bare train() of the same setting, in one process.

    python benchmarks/bench_panel.py [--repeats 9] [--start fix|baseline]

Each repeat moves the dropout slider (alternating two values) and times the move until the final
curves and verdict are shown, including the live SVG redraw after every epoch; then it times a
bare `train()` of the same setting. Interleaving the two makes the ratio robust to a machine that
is shared (absolute times vary up to 3x here). Also reported: the time from the move to the first
epoch on screen. In the browser, add the round trip to the page (tests/browser measures that).
"""

from __future__ import annotations

import argparse
import statistics
import time

from rnn_lesson.lessons.overfitting import EXPERIMENTS, panel as experiment_panel
from rnn_lesson.training import train
from scratch import isolated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--start", choices=sorted(EXPERIMENTS), default="fix")
    args = parser.parse_args()
    with isolated():  # the runs join a log of their own, never the learner's progress file
        measure(args)


def measure(args) -> None:
    bench = experiment_panel(start=EXPERIMENTS[args.start])
    bench.run()  # warm up torch
    moves, bare, first = [], [], []
    for i in range(args.repeats):
        value = 0.25 if i % 2 == 0 else 0.3
        start = time.perf_counter()
        bench.controls["dropout"].value = value
        bench.wait()
        moves.append(time.perf_counter() - start)
        first.append(bench.first_epoch_shown_at - start)
        assert f"dropout {value:.2f}" in bench.caption.value
        model, training = bench.settings()
        start = time.perf_counter()
        train(model, training, bench.data)
        bare.append(time.perf_counter() - start)
    move, alone = statistics.median(moves), statistics.median(bare)
    ratios = [m / b for m, b in zip(moves, bare)]
    print(f"{args.start}, {bench.last_history.epochs} epochs: slider move -> final curves median "
          f"{move:.3f} s; bare train() {alone:.3f} s; ratio {move / alone:.2f} (per pair: median "
          f"{statistics.median(ratios):.2f}, max {max(ratios):.2f}); extra {move - alone:+.3f} s; "
          f"first epoch on screen after median {statistics.median(first):.3f} s "
          f"(max {max(first):.3f} s)")


if __name__ == "__main__":
    main()
