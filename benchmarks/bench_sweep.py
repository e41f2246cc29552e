"""How long does the default dropout x hidden-size grid take, parallel vs a plain loop?

    python benchmarks/bench_sweep.py [--skip-sequential]

Both sides train exactly the same runs with the one `train()`, without the cache; the script
checks that they give identical metrics, then prints the wall times and their ratio.
"""

from __future__ import annotations

import argparse
import time

from rnn_lesson.data import load_course_data
from rnn_lesson.sweep import SweepConfig, run_sweep
from rnn_lesson.training import train


def plain_loop(config: SweepConfig) -> dict:
    """The obvious way: one run after the other, torch's default threads."""
    data = load_course_data()
    results = {}
    for model_config, train_config in config.runs():
        history = train(model_config, train_config, data)
        key = (model_config.dropout, model_config.hidden_size, train_config.seed)
        results[key] = {**history.final, "epochs": history.epochs}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = SweepConfig()
    load_course_data()
    start = time.perf_counter()
    swept = run_sweep(config, workers=args.workers, cache_dir=False)
    parallel_s = time.perf_counter() - start
    print(f"run_sweep: {len(swept.runs)} runs, {args.workers} workers x 1 thread: {parallel_s:.1f} s")
    if args.skip_sequential:
        return
    start = time.perf_counter()
    sequential = plain_loop(config)
    sequential_s = time.perf_counter() - start
    same = all(
        {k: v for k, v in swept.runs[key].items() if k != "seconds"} == sequential[key]
        for key in sequential
    )
    print(f"plain loop: {len(sequential)} runs, 1 process, default threads: {sequential_s:.1f} s")
    print(f"speed-up {sequential_s / parallel_s:.2f}x; identical metrics: {same}")


if __name__ == "__main__":
    main()
