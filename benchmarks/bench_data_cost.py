"""What one run of the fix costs on the course data, against the data before its redesign.

    python benchmarks/bench_data_cost.py [--seeds 8] [--repeats 3]

The redesigned data has 200 training sequences (was 150) and a fix that stops later, so a run of
the fix costs more; the budget is 1.6x. Both sides run the one `train()`, in one process,
alternating seed by seed (a seed changes the number of epochs), so that machine noise hits both
alike; the ratio of the summed medians is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from rnn_lesson.data import COURSE_SPEC, load_course_data, make_dataset
from rnn_lesson.lessons.overfitting import FIX
from rnn_lesson.training import train

# The course data and fix before the redesign (the README's first version): no per-sequence
# offsets, three pulses of +-8, a ramp of 1.3, 150 training sequences; the fix ran up to 60 epochs.
PREVIOUS_SPEC = dataclasses.replace(COURSE_SPEC, signal=1.3, distractor_offset=0.0, pulses=3,
                                    pulse_amplitude=8.0, n_train=150)
PREVIOUS_FIX_TRAIN = dataclasses.replace(FIX.train, max_epochs=60)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    now, before = load_course_data(), make_dataset(PREVIOUS_SPEC)
    train(FIX.model, FIX.train, now)  # warm up
    new_s, old_s, ratios = 0.0, 0.0, []
    for seed in range(args.seeds):
        config_new = dataclasses.replace(FIX.train, seed=seed)
        config_old = dataclasses.replace(PREVIOUS_FIX_TRAIN, seed=seed)
        new, old = [], []
        for _ in range(args.repeats):
            new.append(timed(lambda: train(FIX.model, config_new, now)))
            old.append(timed(lambda: train(FIX.model, config_old, before)))
        new_s += statistics.median(new)
        old_s += statistics.median(old)
        ratios.append(statistics.median(new) / statistics.median(old))
    print(f"the fix, seeds 0-{args.seeds - 1}, median of {args.repeats} alternating runs each, "
          f"1 thread: now {new_s / args.seeds:.3f} s per run, before the redesign "
          f"{old_s / args.seeds:.3f} s per run; ratio {new_s / old_s:.2f} "
          f"(per seed {min(ratios):.2f}-{max(ratios):.2f}; budget 1.6)")


if __name__ == "__main__":
    main()
