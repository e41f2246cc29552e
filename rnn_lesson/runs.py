"""Many runs of the one `train()`: on worker processes, biggest first, cached on disk.

Every multi-run experiment of the course (the seed tables, the ablation, the map, notebooks 03 and
04) describes its runs as `Job`s and calls `run_many`. Results are `History` records without the
model, in the order of the jobs, and equal a plain loop's to the bit (training is deterministic
and does not depend on the number of threads or processes).

Workers come from a "forkserver": a fresh helper process that imports torch and the library from
disk once and forks the workers, which is safe inside Jupyter, unlike forking the kernel after torch
has started its threads. Every run trains in a worker, never in the caller: nothing a learner
changed in a kernel (a patched loss, an edited tensor) reaches what is trained and cached. Each
worker trains with one torch thread (two workers on two cores).

Each finished run is stored, by the worker that trained it, as a JSON file keyed by everything that
decides its numbers: the configs, the data's fingerprint, the function that measured its extras, a
hash of the code and the torch version. An entry is used only if it holds a valid record (values in
range, curves consistent with the final metrics) of the same configs under the same key; anything
else is recomputed (and overwritten), so a stale, corrupt or edited file never shows up as a result.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import hashlib
import inspect
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from quizzes.progress import write_atomically  # the course's one atomic writer (the lowest package)

from .data import Dataset, load_course_data
from .models import ModelConfig
from .training import History, TrainConfig, pick_device, train, use_course_threads

_HERE = Path(__file__).resolve().parent
# The code whose change changes the numbers: a new hash invalidates every cached run.
CODE_VERSION = hashlib.sha256(
    b"".join((_HERE / name).read_bytes() for name in ("data.py", "models.py", "training.py"))
).hexdigest()[:16]
CACHE_ENV = "RNN_LESSON_CACHE"


@dataclass(frozen=True)
class DataSource:
    """A dataset a worker process can rebuild: a module-level function and its arguments."""

    loader: Callable[..., Dataset] = load_course_data
    args: tuple = ()

    def load(self) -> Dataset:
        """The data (loaders cache what is expensive themselves; `run_job` checks that the data
        it trains on is still the data the cache key names)."""
        return self.loader(*self.args)

    def __str__(self) -> str:
        return f"{self.loader.__module__}.{self.loader.__qualname__}{self.args!r}"


COURSE_DATA = DataSource()

Measure = Callable[[History, Dataset], dict]


@dataclass(frozen=True)
class Job:
    """One training run: the configs, the data, and optionally what to measure on the model.

    `measure(history, data)` runs in the worker while the trained model is still there and
    returns JSON values that land in `history.extras` (it must be a module-level function).
    """

    model: ModelConfig
    train: TrainConfig
    data: DataSource = COURSE_DATA
    measure: Measure | None = None


@dataclass(frozen=True)
class Experiment:
    """A named configuration: what a lesson trains on several seeds (`jobs`)."""

    name: str
    description: str
    model: ModelConfig
    train: TrainConfig

    def with_seed(self, seed: int) -> "Experiment":
        return dataclasses.replace(self, train=dataclasses.replace(self.train, seed=seed))

    def jobs(self, seeds: Sequence[int], data: DataSource = COURSE_DATA,
             measure: Measure | None = None) -> list[Job]:
        return [Job(self.model, self.with_seed(s).train, data, measure) for s in seeds]

    def record(self, seed: int = 0, data: "DataSource" = COURSE_DATA) -> History:
        """One run's record (without the model), read from the cache if it was trained before
        (else trained in a worker process)."""
        return run_many(self.jobs([seed], data), workers=1)[0]

    def run(self, seed: int = 0, data: Dataset | None = None, on_epoch_end=None) -> History:
        """Train it once, in this process, keeping the model (`history.model`)."""
        exp = self.with_seed(seed)
        return train(exp.model, exp.train, data, on_epoch_end)


def run_many(
    jobs: Sequence[Job],
    workers: int = 2,
    cache: bool | Path = True,
    progress: Callable[[int, int], None] | None = None,
) -> list[History]:
    """Run every job (cached ones are read, not retrained); records in job order, no models.

    Runs always train in fresh worker processes, never in the calling process: a notebook's
    kernel may hold code a learner changed (a patched loss, say), and what a worker trains and
    caches must not depend on it. `workers` processes train in parallel; `cache` is True for the
    default folder ($RNN_LESSON_CACHE or ~/.cache/rnn_lesson, then runs/), a folder, or False;
    `progress(done, total)` is called after every run. If a run fails or the learner interrupts,
    the queued and running runs are stopped at once and the finished ones stay cached.
    """
    jobs = list(jobs)
    folder = cache_folder() if cache is True else Path(cache) / "runs" if cache else None
    results: dict[int, History] = {}
    for i, job in enumerate(jobs):
        stored = _read(folder, job)
        if stored is not None:
            results[i] = stored
    todo = sorted((i for i in range(len(jobs)) if i not in results), key=lambda i: -_cost(jobs[i]))
    total = len(jobs)
    if progress is not None:
        progress(len(results), total)
    for i, (record, cache_problem) in _run_all([jobs[i] for i in todo], todo, workers, folder):
        results[i] = History.from_dict(record)
        if cache_problem:  # the result is still returned; only its cache entry is lost
            warnings.warn(cache_problem, stacklevel=2)
        if progress is not None:
            progress(len(results), total)
    return [results[i] for i in range(len(jobs))]


def run_job(job: Job, fingerprint: str | None = None,
            folder: str | None = None) -> tuple[dict[str, Any], str]:
    """Train one job with the course's `train()`: its record as JSON values, and why it could not
    be cached ("" if it was or no `folder` was given). It runs in a worker, which writes the
    record to the cache `folder` itself, under the key it computes itself.

    With `fingerprint`, the data must still be the data the caller made its cache keys from (a
    tensor edited in place in a cached loader would otherwise be trained under a clean key).
    """
    data = job.data.load()
    if fingerprint is not None and data.fingerprint() != fingerprint:
        raise ValueError(f"the data of {job.data} changed in this process after it was first "
                         "loaded (edited in place?): restart the kernel to get the original data")
    history = train(job.model, job.train, data)
    if job.measure is not None:
        history.extras = job.measure(history, data)
    record = history.to_dict()
    problem = "" if folder is None else _write(Path(folder), cache_key(job), record)
    return record, problem


def _run_all(jobs: list[Job], indices: list[int], workers: int, folder: Path | None):
    if not jobs:
        return
    pool = concurrent.futures.ProcessPoolExecutor(
        max(1, min(workers, len(jobs))), mp_context=worker_context(), initializer=_start_worker)
    where = None if folder is None else str(folder)
    futures = {pool.submit(run_job, job, _fingerprint(job.data), where): i
               for i, job in zip(indices, jobs)}
    try:
        for future in concurrent.futures.as_completed(futures):
            yield futures[future], future.result()
    except BaseException:  # a failed run or Ctrl-C: stop the running runs, drop the queued ones
        _stop(pool)
        raise
    pool.shutdown()


def _stop(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:  # a running run would otherwise go on to its end
        process.terminate()
    for process in processes:
        process.join(timeout=5)


def worker_context() -> multiprocessing.context.BaseContext:
    """Where the course's worker processes come from (the run workers and the grader)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")  # Windows
    context = multiprocessing.get_context("forkserver")
    # Workers start with torch imported, and torch._dynamo, which the first optimizer of a
    # process imports otherwise (about a second per worker); rnn_lesson.forkserver keeps a worker
    # that is still starting when its caller stops from printing a traceback.
    context.set_forkserver_preload(["rnn_lesson.training", "torch._dynamo", "rnn_lesson.forkserver"])
    _remove_temp_dir_when_this_process_ends()
    _start_forkserver_deaf_to_ctrl_c()
    return context


# The folder of this process's multiprocessing files (the forkserver's socket: /tmp/pymp-*) and the
# process that removes it once this one has ended.
_JANITOR: dict[str, Any] = {"pid": None, "folder": None, "process": None}
_JANITOR_LOCK = threading.Lock()
_JANITOR_CODE = """
import os, shutil, sys
descriptor, folder = int(sys.argv[1]), sys.argv[2]
while True:
    try:
        if not os.read(descriptor, 1):
            break  # end of file: the process that started us has ended, however it ended
    except InterruptedError:
        continue
    except OSError:
        break
shutil.rmtree(folder, ignore_errors=True)
"""


def _remove_temp_dir_when_this_process_ends() -> None:
    """Make sure multiprocessing's folder of this process (/tmp/pymp-*, where the forkserver's
    socket lives) is removed when this process ends, however it ends.

    multiprocessing removes it at a normal exit only. A Jupyter kernel that started the forkserver
    never exits normally: at a shutdown it waits for its children, the forkserver and
    multiprocessing's resource tracker (which ignores SIGTERM), longer than Jupyter waits for it,
    so it is terminated before its exit handlers run (and an immediate shutdown kills it). So a
    small process in a session of its own holds the end of a pipe that only this process can
    write to; when this process ends, the pipe reaches its end and it removes the folder (a normal
    exit has removed it already: then it has nothing to do)."""
    if os.name == "nt":
        return
    from multiprocessing import util

    with _JANITOR_LOCK:
        folder = util.get_temp_dir()
        if _JANITOR["folder"] == folder:  # watched already (a forked child shares its parent's:
            return                        # it holds the pipe too, so that waits for both)
        reader, writer = os.pipe()  # both ends close on exec: only this process holds the writer
        try:
            janitor = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _JANITOR_CODE, str(reader), folder],
                pass_fds=(reader,), start_new_session=True, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            os.close(writer)
            return  # the folder is still removed at a normal exit
        finally:
            os.close(reader)
        _JANITOR.update(pid=os.getpid(), folder=folder, process=janitor, writer=writer)


def _start_forkserver_deaf_to_ctrl_c() -> None:
    """Start the forkserver with SIGINT ignored, which it and its workers inherit: a Ctrl-C in
    the terminal then reaches only the caller, which stops the workers itself (a forkserver still
    importing torch would otherwise print a KeyboardInterrupt traceback)."""
    from multiprocessing import forkserver

    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers belong to the main thread: start it the ordinary way later
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


def _start_worker() -> None:
    use_course_threads()
    # Ctrl-C in a terminal reaches every process of its group: the caller stops the workers
    # (and says so in one line), so a worker must not print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _cost(job: Job) -> float:
    """A rough relative cost, so that the slowest runs start first and the workers end together."""
    sequences, steps = _size(job.data)
    cell = {"rnn": 1.0, "lstm": 4.0, "gru": 3.0}[job.model.cell]
    width = job.model.hidden_size * (job.model.hidden_size + job.model.input_size)
    epochs = job.train.max_epochs if not job.train.early_stopping else min(job.train.max_epochs, 20)
    return sequences * steps * width * job.model.num_layers * cell * epochs


@functools.lru_cache(maxsize=64)
def _size(source: DataSource) -> tuple[int, int]:
    train = source.load().train
    return len(train), train.x.shape[1]


# ---------------------------------------------------------------------------------------------
# The disk cache


def cache_folder() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "rnn_lesson") / "runs"


def cache_key(job: Job) -> str:
    """Everything that decides a run's numbers, as one string (the device resolved: a CUDA run
    and a CPU run of the same job do not share an entry)."""
    measure = None if job.measure is None else _measure_identity(job.measure)
    training = dataclasses.asdict(job.train)
    training["device"] = pick_device(job.train.device).type
    return json.dumps([dataclasses.asdict(job.model), training, _fingerprint(job.data), measure,
                       CODE_VERSION, torch.__version__], sort_keys=True)


@functools.lru_cache(maxsize=64)
def _measure_identity(measure: Callable) -> list[str]:
    if "<" in measure.__qualname__ or measure.__module__ == "__main__":
        raise ValueError(f"a Job's measure must be a function defined at the top level of a "
                         f"module (a worker process imports it by name), not {measure.__qualname__} "
                         f"in {measure.__module__}")
    source = inspect.getsource(inspect.getmodule(measure))
    return [measure.__module__, measure.__qualname__,
            hashlib.sha256(source.encode()).hexdigest()[:16]]


@functools.lru_cache(maxsize=16)
def _fingerprint(source: DataSource) -> str:
    return source.load().fingerprint()


def _path(folder: Path, key: str) -> Path:
    return folder / f"{hashlib.sha256(key.encode()).hexdigest()}.json"


def _read(folder: Path | None, job: Job) -> History | None:
    """The cached record of `job`, or None if there is none or it is not a valid one (the key,
    the record's own configs and the ranges of its values are all checked)."""
    if folder is None:
        return None
    key = cache_key(job)
    try:
        entry = json.loads(_path(folder, key).read_text(encoding="utf-8"))
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        history = History.from_dict(entry.get("record"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None  # missing, a folder, not JSON, nested too deep, invalid: recomputed
    if (history.model_config, history.train_config) != (job.model, job.train):
        return None
    return history


def _write(folder: Path, key: str, record: dict[str, Any]) -> str:
    """Write one entry atomically (`write_atomically`); why it failed, or ""."""
    path = _path(folder, key)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps({"key": key, "record": record}))
    except OSError as error:
        return (f"could not write the run cache at {path}: {error}. Set {CACHE_ENV} to a "
                "writable folder to keep results between sessions.")
    return ""
