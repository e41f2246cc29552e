"""Independent training runs on worker processes, one torch thread each.

Results do not depend on the number of threads or workers (training is bit-identical with 1 or 2
threads), so a parallel sweep gives the same numbers as a plain loop. The workers come from a
"forkserver": a clean helper process that imports torch and the library once and forks the
workers, which is safe inside Jupyter, unlike forking the kernel itself after torch has started
its threads. Windows has no forkserver and starts fresh interpreters ("spawn").
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterator, Sequence, TypeVar

import torch

Item = TypeVar("Item")
Result = TypeVar("Result")


def run_in_workers(
    fn: Callable[[Item], Result],
    items: Sequence[Item],
    workers: int = 2,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
) -> Iterator[tuple[int, Result]]:
    """Yield (index, fn(item)) as each run finishes; items start in the order given.

    `fn` and `initializer` must be importable module-level functions (not defined in a notebook).
    """
    with ProcessPoolExecutor(workers, mp_context=_context(), initializer=_start_worker,
                             initargs=(initializer, initargs)) as pool:
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Workers start with torch imported, and torch._dynamo, which the first optimizer of a
    # process imports otherwise (about a second per worker).
    context.set_forkserver_preload(["rnn_lesson.training", "torch._dynamo"])
    return context


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple) -> None:
    torch.set_num_threads(1)  # two workers on two cores
    if initializer is not None:
        initializer(*initargs)
