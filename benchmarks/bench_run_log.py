"""How long does the panel take to open with a long run log? (It reads only the log's end.)

    python benchmarks/bench_run_log.py [--rows 1000 10000 100000]

For each size, the panel's log holds that many rows, each with the record of a real run of the
fix, as the panel saves them. Timed: opening the panel on it (reading the progress file, the log's
newest rows, checking them, filling the table). Then the same rows kept inside the progress file,
as versions before the log had a file of its own did: the first open (which moves them to the log,
once), the first answer saved after it, the next open.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from quizzes.progress import Progress, empty
from rnn_lesson.lessons.overfitting import ES_ONLY, FIX, panel
from scratch import isolated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10_000, 100_000])
    args = parser.parse_args()
    with isolated() as folder:
        record = FIX.record(seed=0).to_dict()
        row = {"settings": "a setting", "train_acc": 0.9, "val_acc": 0.87, "val_loss": 0.4,
               "epochs": 14, "seconds": 0.3, "verdict": "passed", "record": record}
        initial = ES_ONLY.record(seed=0)
        for n in args.rows:
            path = os.path.join(folder, f"progress-{n}.json")
            rows = [{**row, "run": i, "id": str(i)} for i in range(1, n + 1)]
            data = {**empty(), "last_run": n, "runs_logged": n}
            with open(path, "w") as file:
                json.dump(data, file)
            with open(Progress(path).runs_path, "w") as log:
                log.writelines(json.dumps(r) + "\n" for r in rows)
            size = os.path.getsize(Progress(path).runs_path) / 2**20
            print(f"{n:7d} rows in the log ({size:6.1f} MB): the panel opens in "
                  f"{_open(path, initial):.3f} s", flush=True)
            legacy = os.path.join(folder, f"legacy-{n}.json")
            with open(legacy, "w") as file:
                json.dump({**empty(), "version": 1, "runs": rows}, file)
            first = _open(legacy, initial)
            start = time.perf_counter()
            Progress(legacy).record_answer("p1", "A", True)
            saved = time.perf_counter() - start
            print(f"{n:7d} rows inside an older progress file: first open (moves them to the "
                  f"log) {first:.2f} s, the next answer saved {saved:.3f} s, next open "
                  f"{_open(legacy, initial):.3f} s", flush=True)


def _open(path: str, initial) -> float:
    start = time.perf_counter()
    panel(start=ES_ONLY, initial=initial, auto_run=False, progress=Progress(path))
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
