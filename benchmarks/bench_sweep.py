"""How long does the map (dropout x hidden size) take on worker processes vs a plain loop?

    python benchmarks/bench_sweep.py [--skip-sequential]

Both sides train exactly the same runs with the one `train()`, without the cache; the script
checks that they give identical metrics, then prints the wall times and their ratio.
"""

from __future__ import annotations

import argparse
import time

from rnn_lesson.data import load_course_data
from rnn_lesson.lessons.overfitting import MapConfig
from rnn_lesson.runs import run_many
from rnn_lesson.training import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    todo = MapConfig().jobs()
    data = load_course_data()
    start = time.perf_counter()
    records = run_many(todo, workers=args.workers, cache=False)
    parallel_s = time.perf_counter() - start
    print(f"run_many: {len(records)} runs, {args.workers} workers x 1 thread: {parallel_s:.1f} s")
    if args.skip_sequential:
        return
    start = time.perf_counter()
    sequential = [train(job.model, job.train, data).final for job in todo]  # the obvious loop
    sequential_s = time.perf_counter() - start
    same = [r.final for r in records] == sequential
    print(f"plain loop: {len(sequential)} runs, 1 process: {sequential_s:.1f} s")
    print(f"speed-up {sequential_s / parallel_s:.2f}x; identical metrics: {same}")


if __name__ == "__main__":
    main()
