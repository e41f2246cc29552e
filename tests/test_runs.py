"""runs.run_many: workers give the numbers of a plain loop; the cache is used only when valid."""

import dataclasses
import json

import pytest

from rnn_lesson.lessons.overfitting import FIX
from rnn_lesson.runs import Job, cache_key, run_many
from rnn_lesson.training import History

QUICK = dataclasses.replace(FIX, train=dataclasses.replace(FIX.train, max_epochs=2))
JOBS = QUICK.jobs([0, 1]) + dataclasses.replace(
    QUICK, model=dataclasses.replace(QUICK.model, hidden_size=8)).jobs([0, 1])


def without_seconds(records):
    return [{k: v for k, v in r.to_dict().items() if k != "seconds"} for r in records]


@pytest.fixture(scope="module")
def plain():
    return run_many(JOBS, workers=1, cache=False)


def test_records_come_back_in_job_order_without_models(plain):
    assert [(r.model_config.hidden_size, r.seed) for r in plain] == [(32, 0), (32, 1), (8, 0), (8, 1)]
    assert all(r.model is None and r.epochs == 2 for r in plain)


def test_parallel_workers_give_the_same_numbers_as_one_process(plain):
    assert without_seconds(run_many(JOBS, workers=2, cache=False)) == without_seconds(plain)


def test_the_cache_returns_stored_runs_and_only_trains_new_ones(tmp_path, plain):
    first = run_many(JOBS, workers=1, cache=tmp_path)
    assert len(list((tmp_path / "runs").glob("*.json"))) == 4
    calls = []
    again = run_many(JOBS, workers=1, cache=tmp_path, progress=lambda d, t: calls.append((d, t)))
    assert [r.to_dict() for r in again] == [r.to_dict() for r in first]
    assert calls == [(4, 4)]  # everything read from the cache, nothing trained
    more = run_many(JOBS + QUICK.jobs([2]), workers=1, cache=tmp_path,
                    progress=lambda d, t: calls.append((d, t)))
    assert calls[-2:] == [(4, 5), (5, 5)] and len(more) == 5


def entry_path(folder, job):
    import hashlib
    return folder / "runs" / f"{hashlib.sha256(cache_key(job).encode()).hexdigest()}.json"


@pytest.mark.parametrize("corrupt", [
    lambda entry: json.dumps([1, 2]),  # a JSON list
    lambda entry: "{not json",
    lambda entry: json.dumps({**entry, "key": "another run"}),  # moved from another key
    lambda entry: json.dumps({**entry, "record": {**entry["record"], "final": None}}),
    lambda entry: json.dumps({**entry, "record": {k: v for k, v in entry["record"].items()
                                                  if k != "val_acc"}}),  # a missing key
    lambda entry: json.dumps({**entry, "record": {**entry["record"], "val_acc": [float("nan")] * 2}}),
    lambda entry: json.dumps({**entry, "record": {**entry["record"], "train_loss": 3}}),
    lambda entry: json.dumps({**entry, "record": {**entry["record"], "best_epoch": "1"}}),
    lambda entry: json.dumps({**entry, "record": {**entry["record"], "val_acc": [True, True]}}),
], ids=["list", "not-json", "other-key", "no-final", "missing-key", "nan", "curve-not-list",
        "epoch-text", "bools"])
def test_an_invalid_cache_entry_is_recomputed_never_trusted(tmp_path, corrupt, plain):
    job = JOBS[0]
    run_many([job], workers=1, cache=tmp_path)
    path = entry_path(tmp_path, job)
    path.write_text(corrupt(json.loads(path.read_text())))
    again = run_many([job], workers=1, cache=tmp_path)
    assert without_seconds(again) == without_seconds(plain[:1])
    assert History.from_dict(json.loads(path.read_text())["record"])  # rewritten, valid


def test_fake_results_under_the_right_key_are_rejected_when_not_a_run(tmp_path, plain):
    job = JOBS[0]
    run_many([job], workers=1, cache=tmp_path)
    path = entry_path(tmp_path, job)
    entry = json.loads(path.read_text())
    entry["record"]["best_epoch"] = 99  # not one of its 2 epochs
    path.write_text(json.dumps(entry))
    assert run_many([job], workers=1, cache=tmp_path)[0].best_epoch == plain[0].best_epoch


def test_a_folder_or_bad_bytes_in_place_of_an_entry_are_recomputed(tmp_path, plain):
    job = JOBS[0]
    path = entry_path(tmp_path, job)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xfe\x00")
    assert without_seconds(run_many([job], workers=1, cache=tmp_path)) == without_seconds(plain[:1])
    path.unlink()
    path.mkdir()  # a folder where the entry should be: the run is returned, with a warning
    with pytest.warns(UserWarning, match="could not write the run cache"):
        assert len(run_many([job], workers=1, cache=tmp_path)) == 1


def test_a_failing_run_cancels_the_queue_and_keeps_the_finished_runs(tmp_path):
    broken = Job(QUICK.model, dataclasses.replace(QUICK.train, seed=7), measure=_fail)
    jobs = JOBS[:1] + [broken] + QUICK.jobs(range(10, 20))
    with pytest.raises(RuntimeError, match="measurement failed"):
        run_many(jobs, workers=1, cache=tmp_path)
    kept = list((tmp_path / "runs").glob("*.json"))
    assert len(kept) == 1  # the run before the failure is cached; nothing after it was trained


def test_a_failing_run_in_a_worker_stops_the_pool_early(tmp_path):
    broken = Job(QUICK.model, dataclasses.replace(QUICK.train, seed=7), measure=_fail)
    jobs = [broken] + QUICK.jobs(range(10, 40))
    with pytest.raises(RuntimeError, match="measurement failed"):
        run_many(jobs, workers=2, cache=tmp_path)
    assert len(list((tmp_path / "runs").glob("*.json"))) < 30  # the queue was cancelled


def _fail(history, data):
    raise RuntimeError("measurement failed")


def test_an_experiments_record_comes_from_the_cache_the_second_time(tmp_path, monkeypatch, plain):
    monkeypatch.setenv("RNN_LESSON_CACHE", str(tmp_path))
    first = QUICK.record(seed=0)
    assert first.model is None and without_seconds([first]) == without_seconds(plain[:1])
    assert QUICK.record(seed=0).seconds == first.seconds  # the same stored record, not a new run


def test_a_measure_must_be_importable_by_name():
    job = Job(QUICK.model, QUICK.train, measure=lambda history, data: {})
    with pytest.raises(ValueError, match="top level of a module"):
        cache_key(job)


# ---------------------------------------------------------------------------------------------
# Nothing left behind: multiprocessing's folder of the forkserver's socket (/tmp/pymp-*)

RUN_AND_SAY_THE_FOLDER = """
import sys, time
from multiprocessing import util
import rnn_lesson.runs as runs
from tests.test_runs import JOBS
runs.run_many(JOBS[:1], workers=1, cache=False)
print(util.get_temp_dir(), flush=True)
if sys.argv[1] == "wait":
    time.sleep(600)
"""


def wait_until_gone(folder: str, seconds: float = 15) -> bool:
    import os
    import time

    deadline = time.monotonic() + seconds
    while os.path.exists(folder) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not os.path.exists(folder)


@pytest.mark.parametrize("ending", ["exit", "kill"])
def test_a_process_that_ran_runs_leaves_no_multiprocessing_folder(ending):
    """A normal exit removes it (multiprocessing does); so does a SIGKILL, as a Jupyter kernel
    gets at an immediate shutdown (or after a graceful one takes too long)."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen([sys.executable, "-c", RUN_AND_SAY_THE_FOLDER,
                                "wait" if ending == "kill" else "exit"], cwd=root,
                               stdout=subprocess.PIPE, text=True)
    try:
        folder = process.stdout.readline().strip()
        assert folder and os.path.isdir(folder)
        if ending == "kill":
            process.send_signal(signal.SIGKILL)
        process.wait(120)
    finally:
        if process.poll() is None:  # the test failed or was interrupted: nothing stays behind
            process.kill()
            process.wait()
        process.stdout.close()
    assert wait_until_gone(folder), f"{folder} was left behind"


def test_a_jupyter_kernel_that_ran_runs_leaves_no_multiprocessing_folder(tmp_path):
    """A graceful shutdown: the kernel waits for the forkserver and multiprocessing's resource
    tracker, which ignores SIGTERM, longer than Jupyter waits, and is terminated before its exit
    handlers run."""
    from pathlib import Path

    from jupyter_client import KernelManager

    root = Path(__file__).resolve().parents[1]
    manager = KernelManager(transport="ipc", ip=str(tmp_path / "kernel"))
    manager.start_kernel(cwd=str(root))
    client = manager.client()
    client.start_channels()
    lines = []
    try:
        client.wait_for_ready(60)
        code = RUN_AND_SAY_THE_FOLDER.replace('sys.argv[1] == "wait"', "False")
        client.execute_interactive(code, timeout=300, output_hook=lambda message: lines.append(
            message["content"].get("text", "")) if message["msg_type"] == "stream" else None)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=False)
    folder = "".join(lines).strip().splitlines()[-1]
    assert folder.startswith("/") and wait_until_gone(folder), f"{folder} was left behind"
