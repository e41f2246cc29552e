"""Where a learner's code runs when it is graded: fresh processes, none of them the kernel.

    kernel (or the CLI's grade) ── starts both from the course's forkserver (`runs.worker_context`:
      │                             a zygote holding torch and the library imported from disk, no
      │                             secrets, none of the kernel's pipes), then closes its copies of
      │                             the pipes between them
      ├──▶ grader: judges; holds the labels and the secret draws; never runs learner code
      └──▶ worker: the only process that runs learner code, behind its walls (walls.py) and the
                   course guard (guard.py); a task may add helper workers, walled alike

    worker ══ plain data: JSON, arrays as base64 float32 with their shape (wire.py) ══▶ grader
    grader ── pickled arrays (trusted to untrusted) ──▶ worker
    grader ── the verdict (trusted) ──▶ kernel

- The worker is the grader's sibling, not its child: it never holds the grader's or the kernel's
  memory, stack or connections, only its own two pipe ends. The grader checks every message it
  reads (wire.py) and never unpickles anything from it: a message it cannot read is a refusal,
  never a pass.
- The grader is not dumpable (a same-user process cannot read its memory through /proc), draws
  its secret seeds with `secrets`, and has an address-space limit (`GRADER_MEMORY` beyond what
  it holds when it starts): with the size limits of every message (wire.py) no worker can make
  it, or a teacher's `grade --workers N`, run out of memory.
- The worker says "ready" just before the learner's code runs: a "fault" (its walls could not
  go up: ours, not the learner's) counts only before that; after it, a "fault" is the learner's
  code writing to the pipe, a refusal that names it.
- Time: the grader reads with the deadline and ends a late run with a message naming the likely
  cause; the kernel waits at most the limit + 5 s for the verdict, and kills every process's
  group as soon as it has it (or gives up): nothing is left behind.
- A task may ask for helper workers (`workers()` lists one task per worker): siblings with the
  same walls, each on its own pipes (`channel.helpers`), so that independent runs of the learner's
  code use both cores (the fix exercise's confirmation runs).

A task (the fix exercise, the loop exercise) is a picklable object with `prepare()` (in the
worker, before the walls), `work(link, prepared)` (in the worker, behind them), `judge(channel)`
(in the grader), `failed(message, grader_fault=False)`, `time_up(seconds, epochs)`, `exports`
(the course names a submission may import), and `origin`, `doing` for messages about errors in
the learner's code (feedback.py); optionally `workers()`.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import signal
import struct
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any

from ..runs import worker_context  # the forkserver of the course's workers: fresh modules
from .feedback import explain
from .guard import ATTEMPTS, CourseRefused, guard_the_course
from .walls import cap_address_space, enter_walls, not_dumpable
from .wire import Text, Unreadable, Whole, check, pack, unpack

MAX_SECONDS = 600.0


@dataclass(frozen=True)
class Limits:
    seconds: float = 60.0  # the whole check: building, training, evaluating, confirming
    memory_gib: float = 2.0  # beyond what torch itself takes

    def __post_init__(self) -> None:
        for name, low, high in (("seconds", 1.0, MAX_SECONDS), ("memory_gib", 0.25, 1024.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not low <= value <= high:  # also refuses NaN
                raise ValueError(f"{name} must be a number from {low:g} to {high:g}, got {value!r}")


# The kernel waits this much longer than the limit before it gives up on the grader (which keeps
# the limit itself): a verdict comes within limit + 5 s, and nothing runs after it.
BACKSTOP = 5.0


# ---------------------------------------------------------------------------------------------
# The kernel's side


@dataclass
class _WorkerDied:
    """The grader's answer when a worker ended without a word: the kernel, which started the
    worker, knows its exit code and writes the message."""

    message: str = ""
    which: int = 0  # 0 the main worker, 1... its helpers


@dataclass
class _GraderFault:
    message: str


_LIVE: set = set()  # (grader, worker, helpers...) of the runs in progress, for stop_all
_LIVE_LOCK = threading.Lock()
_STOPPED = threading.Event()
STARTED: collections.deque = collections.deque(maxlen=500)  # (grader pid, worker pids...) of
# the latest runs: the tests check that none is left


def run(task: Any, limits: Limits = Limits()) -> Any:
    """Run `task` in a fresh grader and fresh workers and return the grader's result (see the
    module's docstring); never raises for anything the learner's code does."""
    start = time.perf_counter()
    result = _run(task, limits)
    if isinstance(result, _WorkerDied):
        result = task.failed(result.message)
    elif isinstance(result, _GraderFault):
        result = task.failed(result.message, grader_fault=True)
    result.seconds = time.perf_counter() - start
    return result


def _run(task: Any, limits: Limits) -> Any:
    if _STOPPED.is_set():
        return _GraderFault("grading was interrupted")
    context = worker_context()
    tasks = task.workers() if hasattr(task, "workers") else [task]
    answer, answer_end = _pipe(context)
    workers, grader_ends, worker_ends = [], [], []
    for n, work in enumerate(tasks):
        to_worker, from_grader = _pipe(context)  # (reader, writer) pairs
        to_grader, from_worker = _pipe(context)
        grader_ends.append((to_grader, from_grader))
        worker_ends += [to_worker, from_worker]
        workers.append(context.Process(
            target=_worker_main, args=(to_worker, from_worker, work, limits),
            name="rnn-lesson grading worker" + (f" {n}" if n else ""), daemon=True))
    grader = context.Process(target=_grader_main, args=(grader_ends, answer_end, task, limits),
                             name="rnn-lesson grader", daemon=True)
    group = (grader, *workers)
    with _LIVE_LOCK:
        _LIVE.add(group)
    try:
        try:
            for worker in workers:
                worker.start()
            grader.start()
            STARTED.append(tuple(process.pid for process in group))
        finally:  # from here on the pipe ends are the workers' and the grader's alone
            for end in [answer_end, *worker_ends] + [e for pair in grader_ends for e in pair]:
                end.close()
        if not answer.poll(limits.seconds + BACKSTOP):
            return _GraderFault("the grader did not answer in time; try again (the kernel is "
                                "fine)")
        result = answer.recv()
        if isinstance(result, _WorkerDied):
            died = workers[result.which if 0 <= result.which < len(workers) else 0]
            died.join(2)
            return _WorkerDied(died_message(died.exitcode, limits))
        return result
    except (EOFError, OSError):
        grader.join(1)
        code = "" if _STOPPED.is_set() else f" (exit code {grader.exitcode})"
        return _GraderFault(f"the grader stopped unexpectedly{code}; try again")
    except Exception as error:  # ours (a process that cannot start, say): not the learner's
        return _GraderFault(f"the grader could not run ({type(error).__name__}: {error}); try "
                            "again")
    finally:
        _end(group)
        answer.close()
        with _LIVE_LOCK:
            _LIVE.discard(group)


def _pipe(context):
    return context.Pipe(duplex=False)


def _end(group) -> None:
    """Kill the grader and each worker's whole process group, wait for them (the forkserver
    reaps them: no zombie), and release their handles."""
    _kill(group)
    for process in group:
        with contextlib.suppress(ValueError, AssertionError, OSError):
            if process.pid is not None:
                process.join(5)
            process.close()


def stop_all() -> None:
    """Kill every grader and worker this process started and refuse new runs (a terminal's Ctrl-C
    during `python -m rnn_lesson grade`): the runs in progress answer at once."""
    _STOPPED.set()
    with _LIVE_LOCK:
        groups = list(_LIVE)
    for group in groups:
        _kill(group)


def _kill(group) -> None:
    """group: (grader, worker, helpers...)."""
    for worker in group[1:]:
        if worker.pid is not None and hasattr(os, "killpg"):
            with contextlib.suppress(OSError):
                os.killpg(worker.pid, signal.SIGKILL)  # a worker leads its own group (os.setsid)
    for process in group:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if process.pid is not None:
                process.kill()


def died_message(code: int | None, limits: Limits) -> str:
    """Why the worker ended without a word, from its exit code."""
    start = "the process that ran your code ended abruptly"
    if code is None:
        return f"{start}. It may have needed more than the grader's {limits.memory_gib:g} GiB of " \
               "memory: make the model smaller."
    if code >= 0:
        return (f"{start} (exit code {code}): does your code call os._exit, or start threads or "
                "change torch's thread count (the grader allows neither)? Remove that.")
    if code == -signal.SIGKILL:
        return (f"{start}: it was killed, for using more CPU time than the grader allows "
                f"({limits.seconds + BACKSTOP:g} s) or more memory than the machine has. Make the "
                "model smaller, or lower max_epochs.")
    name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
    return (f"{start}: it crashed ({name}). It may have needed more than the grader's "
            f"{limits.memory_gib:g} GiB of memory: make the model smaller.")


# ---------------------------------------------------------------------------------------------
# The grader


# The grader's address space beyond what it holds when it starts (torch and the library: about
# 0.7 GB of address space, 0.2 GB resident). Measured (VmPeak less VmSize at the start): the fix
# exercise's grader takes 61 MB more for the lesson's solution, the loop exercise's 56 MB.
GRADER_MEMORY = 2**30


def _grader_main(ends, kernel, task: Any, limits: Limits) -> None:
    """ends: (inbound, outbound) for each worker, the main one first."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller stops us (a terminal's Ctrl-C)
    not_dumpable()
    cap_address_space(GRADER_MEMORY)
    deadline = time.monotonic() + limits.seconds
    channel, *helpers = [Channel(inbound, outbound, deadline, kernel, which=n)
                         for n, (inbound, outbound) in enumerate(ends)]
    channel.helpers = helpers
    try:
        result = task.judge(channel)
    except KernelGone:  # nobody waits for the verdict: end now (the forkserver, then the worker,
        return          # follow)
    except TimeUp:
        result = task.failed(task.time_up(limits.seconds, channel))
    except WorkerEnded as ended:
        result = _WorkerDied(which=ended.which)
    except Refused as refused:
        result = task.failed(str(refused))
    except Fault as fault:
        result = _GraderFault(f"the grader could not start the process for your code ({fault}); "
                              "try again")
    except Unreadable as unreadable:
        result = task.failed(
            f"the process that ran your code sent the grader a message it cannot read "
            f"({unreadable}). The grader accepts only the course's own messages: does your code "
            "write to the grader's pipe?")
    except MemoryError:  # beyond GRADER_MEMORY: only a worker's messages could take it there
        result = task.failed("the process that ran your code sent the grader more than it can "
                             "hold. The grader accepts only the course's own messages: does your "
                             "code write to the grader's pipe?")
    except Exception as error:  # a bug of ours: say so rather than hang the kernel
        result = _GraderFault(f"the grader failed ({type(error).__name__}: {error}); try again")
    with contextlib.suppress(OSError):  # the kernel may be gone
        kernel.send(result)
        kernel.close()


class TimeUp(Exception):
    pass


class WorkerEnded(Exception):
    """A worker's end of the pipe closed without a word: it ended abruptly."""

    def __init__(self, which: int = 0) -> None:
        super().__init__(which)
        self.which = which  # 0 the main worker, 1... its helpers


class Refused(Exception):
    """The worker reported an error (its message is for the learner)."""


class KernelGone(Exception):
    """The kernel (or the CLI) that waits for the verdict has ended."""


class Fault(Exception):
    """The worker could not put its walls up (a failure of ours, not of the learner's code)."""


MAX_MESSAGE = 64 * 2**20  # bytes: no message is read beyond this, whatever its kind
# What a message may weigh unless its kind says more (`receive`'s size): an epoch, an error
# (4000 characters at most, 6 bytes each when escaped), a fault.
SMALL_MESSAGE = 64 * 2**10


class Channel:
    """The grader's ends of the two pipes to the worker, with the deadline. Reads and writes
    wait at most until the deadline, whatever the worker does (a message half sent, a pipe not
    read): a late worker is TimeUp, a dead one WorkerEnded, a malformed message Unreadable."""

    def __init__(self, inbound, outbound, deadline: float, kernel=None, which: int = 0) -> None:
        self.inbound, self.outbound, self.deadline = inbound, outbound, deadline
        self.kernel = kernel  # its pipe's end: an error on it says the kernel has ended
        self.which = which  # 0 the main worker, 1... its helpers
        self.helpers: list[Channel] = []  # the main worker's channel: the helpers' channels
        self.epochs = 0  # the last epoch the worker reported
        self.phase = ""  # what the task is waiting for (its time_up message says it)
        self.ready = False  # the worker said "ready": its learner code runs from then on
        self.raw = hasattr(select, "poll") and sys.platform != "win32"
        if self.raw:
            os.set_blocking(inbound.fileno(), False)
            os.set_blocking(outbound.fileno(), False)

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeUp()
        return remaining

    def check_time(self) -> None:
        """TimeUp once the deadline has passed: the grader's own work counts against it too."""
        self._remaining()

    def _poller(self, fd: int, events: int):
        poller = select.poll()
        poller.register(fd, events)
        if self.kernel is not None:
            poller.register(self.kernel.fileno(), 0)  # POLLERR, POLLHUP: the kernel has ended
        return poller

    def _wait(self, poller, fd: int) -> None:
        ready = dict(poller.poll(self._remaining() * 1000))
        if self.kernel is not None and ready.get(self.kernel.fileno()):
            raise KernelGone()
        if fd not in ready:
            if self.deadline - time.monotonic() <= 0:
                raise TimeUp()

    # -- grader -> worker: pickled (the worker unpickles what the grader sends, never the reverse)

    def send(self, kind: str, value: Any) -> None:
        data = bytes(ForkingPickler.dumps((kind, value)))
        if not self.raw:
            self.outbound.send_bytes(data)
            return
        frame = memoryview(struct.pack("!i", len(data)) + data)
        fd = self.outbound.fileno()
        poller = self._poller(fd, select.POLLOUT)
        while frame:
            self._wait(poller, fd)
            try:
                written = os.write(fd, frame[:1 << 20])
            except BlockingIOError:
                continue
            except OSError:  # EPIPE: the worker is gone
                raise WorkerEnded(self.which) from None
            frame = frame[written:]

    # -- worker -> grader: JSON only

    def receive(self, expected: str, schema: Any, size: int = SMALL_MESSAGE) -> Any:
        """The next message of kind `expected` (at most `size` bytes), checked against `schema`
        (arrays decoded): TimeUp, WorkerEnded, Refused or Unreadable otherwise. Epoch reports
        are counted."""
        while True:
            kind, payload = unpack(self._frame(max(size, SMALL_MESSAGE)))
            if kind == "epoch":
                self.epochs = check(Whole(0, 10**7), payload, "epoch")
                continue
            if kind == "ready" and not self.ready:
                self.ready = True
                continue
            if kind == "error":
                raise Refused(check(Text(4000), payload, "error"))
            if kind == "fault" and not self.ready:  # the worker could not set itself up: no
                raise Fault(check(Text(400), payload, "fault"))  # learner code ran
            if kind != expected:
                raise Unreadable(f"a message {kind!r:.40} where {expected!r} was due")
            return check(schema, payload, kind)

    def _frame(self, limit: int) -> bytes:
        limit = min(limit, MAX_MESSAGE)
        if not self.raw:
            if not self.inbound.poll(self._remaining()):
                raise TimeUp()
            try:
                return self.inbound.recv_bytes(limit)
            except EOFError:
                raise WorkerEnded(self.which) from None
            except OSError as error:
                raise Unreadable(f"a message too long or broken: {error}") from None
        (size,) = struct.unpack("!i", self._read(4))
        if size == -1:
            (size,) = struct.unpack("!Q", self._read(8))
        if not 0 <= size <= limit:
            raise Unreadable(f"a message of {size} bytes where at most {limit} were due")
        return self._read(size)

    def _read(self, size: int) -> bytes:
        chunks, got = [], 0
        fd = self.inbound.fileno()
        poller = self._poller(fd, select.POLLIN)
        while got < size:
            self._wait(poller, fd)
            try:
                chunk = os.read(fd, min(size - got, 1 << 20))
            except BlockingIOError:
                continue
            if not chunk:
                raise WorkerEnded(self.which)
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)


# ---------------------------------------------------------------------------------------------
# The worker


class Link:
    """The worker's ends of the pipes: JSON out, pickles from the grader in."""

    def __init__(self, inbound, outbound) -> None:
        self.inbound, self.outbound = inbound, outbound
        self.epochs = 0

    def send(self, kind: str, payload: Any) -> None:
        if ATTEMPTS and kind not in ("epoch", "error"):  # refused, even if the code went on
            raise CourseRefused(ATTEMPTS[0])
        self.outbound.send_bytes(pack(kind, payload))

    def epoch_done(self, *_: Any) -> None:
        self.epochs += 1
        self.send("epoch", self.epochs)

    def receive(self) -> tuple[str, Any]:
        return self.inbound.recv()


def _worker_main(inbound, outbound, task: Any, limits: Limits) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    link = Link(inbound, outbound)
    try:
        prepared = task.prepare()  # what it needs of the course, before the walls go up
        # CPU time past the limit as well: a worker the kernel somehow failed to kill dies anyway
        walls = enter_walls(limits.memory_gib, limits.seconds + BACKSTOP,
                            keep=(inbound.fileno(), outbound.fileno()))
    except Exception as error:  # ours, not the learner's: no learner code has run
        _fault(outbound, f"{type(error).__name__}: {error}")
        return
    if walls.get("nobody") is False:  # root that could not drop to nobody runs nothing
        _fault(outbound, "it could not stop running as root")
        return
    try:  # from here on a "fault" is not ours (Channel.receive)
        outbound.send_bytes(pack("ready", True))
    except (OSError, ValueError):
        return
    try:
        guard_the_course(task.exports)
        task.work(link, prepared)
    except CourseRefused as refused:
        _say(link, str(refused))
    except BaseException as error:  # the learner's code: say what, and where in their code
        _say(link, explain(error, task))
    finally:
        with contextlib.suppress(OSError):
            outbound.close()


def _say(link: Link, message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        link.send("error", message[:4000])


def _fault(outbound, message: str) -> None:
    """The worker could not set itself up (the grader's Fault: no learner code has run)."""
    with contextlib.suppress(OSError, ValueError):
        outbound.send_bytes(pack("fault", message))

