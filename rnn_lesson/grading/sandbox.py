"""Where a learner's code runs when it is graded: two fresh processes, neither of them the kernel.

    kernel (or the CLI's grade) ── starts both from the course's forkserver (`runs.worker_context`:
      │                             a zygote holding torch and the library imported from disk, no
      │                             secrets, none of the kernel's pipes), then closes its copies of
      │                             the pipes between them
      ├──▶ grader: judges; holds the labels and the secret draws; never runs learner code
      └──▶ worker: the only process that runs learner code, behind the walls below

    worker ══ plain data: length-prefixed JSON, arrays as base64 float32 with their shape ══▶ grader
    grader ── pickled arrays (trusted to untrusted) ──▶ worker
    grader ── the verdict (trusted) ──▶ kernel

- The worker is the grader's sibling, not its child: it never holds the grader's or the kernel's
  memory, stack or connections, only its own two pipe ends. The grader reads what the worker
  sends as JSON, checks every message's kind, fields, types, shapes and finiteness, and never
  unpickles anything from it: a message it cannot read is a refusal, never a pass.
- The worker, right after it starts and before any learner code: its own session; its standard
  streams on /dev/null and every other inherited descriptor closed; its memory (RLIMIT_AS), CPU
  time (the limit + 5 s) and file sizes (0) capped, no core files; root dropped to nobody (after
  it has imported what training needs: a learner's code cannot read root's files); killed when
  its parent (the forkserver, which ends with the kernel) ends, and not dumpable; no new
  processes or threads (RLIMIT_NPROC 0 when it is not root); one torch thread; and on Linux
  x86_64 and aarch64 a seccomp filter (`_seccomp_program`) that ctypes cannot bypass: signals only
  to itself, no ptrace or reading other processes' memory, no sockets, no exec, fork or new
  processes (threads only), no file opened for writing, created, renamed, removed, linked,
  truncated or changed, no mounts, no raising limits; and where the kernel has Landlock (5.13 and
  later), files readable only under Python's installation and the course's folder (so no
  pre-trained weights or other files read past the guard, by torch.from_file or ctypes). Then the
  course guard, the friendly first
  line: importing the course's packages, opening files outside Python's own, starting
  processes, signalling other processes, sockets and ctypes are refused with a message naming
  what the code tried. On other platforms (macOS, Windows) there is no seccomp filter: the guard,
  the limits and the separate processes remain, and ctypes can get past the guard there.
- The grader is not dumpable (a same-user process cannot read its memory through /proc) and draws
  its secret seeds with `secrets`.
- Time: the grader reads with the deadline and ends a late run with a message naming the likely
  cause; the kernel waits at most the limit + 5 s for the verdict, and kills both processes'
  groups as soon as it has it (or gives up): nothing is left behind.

A task (the fix exercise, the loop exercise) is a picklable object with `prepare()` (in the
worker, before the walls), `work(link, prepared)` (in the worker, behind them), `judge(channel)`
(in the grader), `failed(message, grader_fault=False)`, `time_up(seconds, epochs)`, `exports`
(the course names a submission may import), and `origin`, `doing` for messages about errors in
the learner's code.
"""

from __future__ import annotations

import ast
import base64
import builtins
import collections
import contextlib
import ctypes
import dis
import errno
import importlib
import importlib.abc
import importlib.machinery
import inspect
import json
import linecache
import math
import os
import platform
import select
import signal
import struct
import sys
import threading
import time
import traceback
import types
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

import numpy as np

from ..models import build_model, count_parameters
from ..recipe import FIX
from ..runs import worker_context  # the forkserver of the course's workers: fresh modules
from ..training import ModelError, TrainingDiverged

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
    """The grader's answer when the worker ended without a word: the kernel, which started the
    worker, knows its exit code and writes the message."""

    message: str = ""


@dataclass
class _GraderFault:
    message: str


_LIVE: set = set()  # (grader, worker) of the runs in progress, for stop_all
_LIVE_LOCK = threading.Lock()
_STOPPED = threading.Event()
STARTED: collections.deque = collections.deque(maxlen=500)  # (grader pid, worker pid) of
# the latest runs: the tests check that none is left


def run(task: Any, limits: Limits = Limits()) -> Any:
    """Run `task` in a fresh grader and a fresh worker and return the grader's result (see the
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
    to_worker, from_grader = _pipe(context)  # (reader, writer) pairs
    to_grader, from_worker = _pipe(context)
    answer, answer_end = _pipe(context)
    worker = context.Process(target=_worker_main, args=(to_worker, from_worker, task, limits),
                             name="rnn-lesson grading worker", daemon=True)
    grader = context.Process(target=_grader_main, args=(to_grader, from_grader, answer_end, task,
                                                        limits), name="rnn-lesson grader",
                             daemon=True)
    pair = (grader, worker)
    with _LIVE_LOCK:
        _LIVE.add(pair)
    try:
        try:
            worker.start()
            grader.start()
            STARTED.append((grader.pid, worker.pid))
        finally:  # from here on the worker's pipe ends are the worker's alone
            for end in (to_worker, from_grader, to_grader, from_worker, answer_end):
                end.close()
        if not answer.poll(limits.seconds + BACKSTOP):
            return _GraderFault("the grader did not answer in time; try again (the kernel is "
                                "fine)")
        result = answer.recv()
        if isinstance(result, _WorkerDied):
            worker.join(2)
            return _WorkerDied(died_message(worker.exitcode, limits))
        return result
    except (EOFError, OSError):
        grader.join(1)
        code = "" if _STOPPED.is_set() else f" (exit code {grader.exitcode})"
        return _GraderFault(f"the grader stopped unexpectedly{code}; try again")
    except Exception as error:  # ours (a process that cannot start, say): not the learner's
        return _GraderFault(f"the grader could not run ({type(error).__name__}: {error}); try "
                            "again")
    finally:
        _end(pair)
        answer.close()
        with _LIVE_LOCK:
            _LIVE.discard(pair)


def _pipe(context):
    return context.Pipe(duplex=False)


def _end(pair) -> None:
    """Kill the grader and the worker's whole process group, wait for both (the forkserver reaps
    them: no zombie), and release their handles."""
    grader, worker = pair
    _kill(worker, grader)
    for process in (worker, grader):
        with contextlib.suppress(ValueError, AssertionError, OSError):
            if process.pid is not None:
                process.join(5)
            process.close()


def stop_all() -> None:
    """Kill every grader and worker this process started and refuse new runs (a terminal's Ctrl-C
    during `python -m rnn_lesson grade`): the runs in progress answer at once."""
    _STOPPED.set()
    with _LIVE_LOCK:
        pairs = list(_LIVE)
    for grader, worker in pairs:
        _kill(worker, grader)


def _kill(worker, grader) -> None:
    if worker.pid is not None and hasattr(os, "killpg"):
        with contextlib.suppress(OSError):
            os.killpg(worker.pid, signal.SIGKILL)  # the worker leads its own group (os.setsid)
    for process in (worker, grader):
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


def _grader_main(inbound, outbound, kernel, task: Any, limits: Limits) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller stops us (a terminal's Ctrl-C)
    not_dumpable()
    channel = Channel(inbound, outbound, time.monotonic() + limits.seconds, kernel)
    try:
        result = task.judge(channel)
    except KernelGone:  # nobody waits for the verdict: end now (the forkserver, then the worker,
        return          # follow)
    except TimeUp:
        result = task.failed(task.time_up(limits.seconds, channel))
    except WorkerEnded:
        result = _WorkerDied()
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
    except Exception as error:  # a bug of ours: say so rather than hang the kernel
        result = _GraderFault(f"the grader failed ({type(error).__name__}: {error}); try again")
    with contextlib.suppress(OSError):  # the kernel may be gone
        kernel.send(result)
        kernel.close()


def not_dumpable() -> None:
    """Linux: no core file, and /proc/<pid>/mem (and maps, environ...) of this process cannot be
    opened by another process of the same user (only by root with CAP_SYS_PTRACE)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE


class TimeUp(Exception):
    pass


class WorkerEnded(Exception):
    """The worker's end of the pipe closed without a word: it ended abruptly."""


class Refused(Exception):
    """The worker reported an error (its message is for the learner)."""


class Unreadable(Exception):
    """The worker sent something that is not a message of the course, or a malformed one."""


class KernelGone(Exception):
    """The kernel (or the CLI) that waits for the verdict has ended."""


class Fault(Exception):
    """The worker could not put its walls up (a failure of ours, not of the learner's code)."""


MAX_MESSAGE = 64 * 2**20  # bytes: the loop exercise's weights of 3 runs take about 1.5 MB


class Channel:
    """The grader's ends of the two pipes to the worker, with the deadline. Reads and writes
    wait at most until the deadline, whatever the worker does (a message half sent, a pipe not
    read): a late worker is TimeUp, a dead one WorkerEnded, a malformed message Unreadable."""

    def __init__(self, inbound, outbound, deadline: float, kernel=None) -> None:
        self.inbound, self.outbound, self.deadline = inbound, outbound, deadline
        self.kernel = kernel  # its pipe's end: an error on it says the kernel has ended
        self.epochs = 0  # the last epoch the worker reported
        self.phase = ""  # what the task is waiting for (its time_up message says it)
        self.raw = hasattr(select, "poll") and sys.platform != "win32"
        if self.raw:
            os.set_blocking(inbound.fileno(), False)
            os.set_blocking(outbound.fileno(), False)

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeUp()
        return remaining

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
                written = os.write(self.outbound.fileno(), frame[:1 << 20])
            except BlockingIOError:
                continue
            except OSError:  # EPIPE: the worker is gone
                raise WorkerEnded() from None
            frame = frame[written:]

    # -- worker -> grader: JSON only

    def receive(self, expected: str, schema: Any) -> Any:
        """The next message of kind `expected`, checked against `schema` (arrays decoded):
        TimeUp, WorkerEnded, Refused or Unreadable otherwise. Epoch reports are counted."""
        while True:
            kind, payload = unpack(self._frame())
            if kind == "epoch":
                self.epochs = check(Whole(0, 10**7), payload, "epoch")
                continue
            if kind == "error":
                raise Refused(check(Text(4000), payload, "error"))
            if kind == "fault":  # the worker could not set itself up: no learner code ran
                raise Fault(check(Text(400), payload, "fault"))
            if kind != expected:
                raise Unreadable(f"a message {kind!r:.40} where {expected!r} was due")
            return check(schema, payload, kind)

    def _frame(self) -> bytes:
        if not self.raw:
            if not self.inbound.poll(self._remaining()):
                raise TimeUp()
            try:
                return self.inbound.recv_bytes(MAX_MESSAGE)
            except EOFError:
                raise WorkerEnded() from None
            except OSError as error:
                raise Unreadable(f"a message too long or broken: {error}") from None
        (size,) = struct.unpack("!i", self._read(4))
        if size == -1:
            (size,) = struct.unpack("!Q", self._read(8))
        if not 0 <= size <= MAX_MESSAGE:
            raise Unreadable(f"a message of {size} bytes")
        return self._read(size)

    def _read(self, size: int) -> bytes:
        chunks, got = [], 0
        fd = self.inbound.fileno()
        poller = self._poller(fd, select.POLLIN)
        while got < size:
            self._wait(poller, fd)
            try:
                chunk = os.read(self.inbound.fileno(), min(size - got, 1 << 20))
            except BlockingIOError:
                continue
            if not chunk:
                raise WorkerEnded()
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)


# ---------------------------------------------------------------------------------------------
# The messages from the worker: plain JSON, checked field by field


def pack(kind: str, payload: Any) -> bytes:
    """A worker's message: [kind, payload] as JSON; numpy arrays and tensors go as float32
    bytes in base64 with their shape."""
    return json.dumps([kind, _plain(payload)], separators=(",", ":")).encode()


def _plain(value: Any) -> Any:
    if hasattr(value, "detach"):  # a tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value, dtype="<f4")
        return {"f32": base64.b64encode(array.tobytes()).decode("ascii"), "shape": list(array.shape)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


def unpack(data: bytes) -> tuple[str, Any]:
    try:
        message = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Unreadable("not a JSON message") from None
    if not (isinstance(message, list) and len(message) == 2 and isinstance(message[0], str)):
        raise Unreadable("not a [kind, payload] message")
    return message[0], message[1]


class Bad(Exception):
    pass


@dataclass(frozen=True)
class Text:
    """A string, cut to `limit` characters, its control characters (but newlines and tabs)
    removed: it may reach a teacher's terminal."""

    limit: int = 4000


@dataclass(frozen=True)
class Flag:
    pass


@dataclass(frozen=True)
class Whole:
    low: int
    high: int


@dataclass(frozen=True)
class Array:
    """float32 values, finite, of this shape (None: any length on that axis)."""

    shape: tuple


@dataclass(frozen=True)
class Items:
    item: Any
    limit: int


@dataclass(frozen=True)
class Fields:
    """A JSON object with exactly these keys."""

    fields: dict


@dataclass(frozen=True)
class Names:
    """A JSON object of up to `limit` string keys, each value an `item`."""

    item: Any
    limit: int


@dataclass(frozen=True)
class Row:
    """A JSON array of exactly these items."""

    items: tuple


@dataclass(frozen=True)
class Maybe:
    item: Any


@dataclass(frozen=True)
class Plain:
    """Any JSON value (checked later by whoever reads it, e.g. History.from_dict)."""


_CONTROL = dict.fromkeys([c for c in range(32) if c not in (9, 10)] + list(range(127, 160)))


def check(schema: Any, value: Any, where: str) -> Any:
    """`value` checked against `schema`, arrays decoded to numpy; Unreadable naming the field."""
    try:
        return _check(schema, value, where)
    except Bad as bad:
        raise Unreadable(str(bad)) from None


def _check(schema: Any, value: Any, where: str) -> Any:
    if isinstance(schema, Text):
        if not isinstance(value, str):
            raise Bad(f"{where} is not a string")
        return value[:schema.limit].translate(_CONTROL)
    if isinstance(schema, Flag):
        if not isinstance(value, bool):
            raise Bad(f"{where} is not true or false")
        return value
    if isinstance(schema, Whole):
        if isinstance(value, bool) or not isinstance(value, int) \
                or not schema.low <= value <= schema.high:
            raise Bad(f"{where} is not a whole number from {schema.low} to {schema.high}")
        return value
    if isinstance(schema, Array):
        return _array(schema, value, where)
    if isinstance(schema, Items):
        if not isinstance(value, list) or len(value) > schema.limit:
            raise Bad(f"{where} is not a list of at most {schema.limit} items")
        return [_check(schema.item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(schema, Fields):
        if not isinstance(value, dict) or set(value) != set(schema.fields):
            raise Bad(f"{where} does not have exactly the fields {sorted(schema.fields)}")
        return {k: _check(s, value[k], f"{where}.{k}") for k, s in schema.fields.items()}
    if isinstance(schema, Names):
        if not isinstance(value, dict) or len(value) > schema.limit:
            raise Bad(f"{where} is not an object of at most {schema.limit} names")
        return {str(k)[:200]: _check(schema.item, v, f"{where}[{k!r:.40}]") for k, v in value.items()}
    if isinstance(schema, Row):
        if not isinstance(value, list) or len(value) != len(schema.items):
            raise Bad(f"{where} is not a list of {len(schema.items)} items")
        return [_check(s, v, f"{where}[{i}]") for i, (s, v) in enumerate(zip(schema.items, value))]
    if isinstance(schema, Maybe):
        return None if value is None else _check(schema.item, value, where)
    if isinstance(schema, Plain):
        return value
    raise TypeError(f"unknown schema {schema!r}")


def _array(schema: Array, value: Any, where: str) -> np.ndarray:
    if not isinstance(value, dict) or set(value) != {"f32", "shape"}:
        raise Bad(f"{where} is not an array")
    shape = value["shape"]
    if not isinstance(shape, list) or len(shape) != len(schema.shape) or not all(
            isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 10**8 for n in shape) \
            or any(want is not None and n != want for n, want in zip(shape, schema.shape)):
        raise Bad(f"{where} has the shape {str(shape)[:60]}, not {schema.shape}")
    if not isinstance(value["f32"], str):
        raise Bad(f"{where} holds no data")
    try:
        data = base64.b64decode(value["f32"], validate=True)
    except ValueError:
        raise Bad(f"{where} holds malformed data") from None
    if len(data) != 4 * math.prod(shape):
        raise Bad(f"{where} holds {len(data)} bytes for the shape {shape}")
    array = np.frombuffer(data, dtype="<f4").reshape(shape).astype(np.float32)
    if not np.isfinite(array).all():
        raise Bad(f"{where} holds values that are NaN or infinite")
    return array


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
        walls = enter_walls(limits, keep=(inbound.fileno(), outbound.fileno()))
    except Exception as error:  # ours, not the learner's: no learner code has run
        with contextlib.suppress(OSError, ValueError):
            link.outbound.send_bytes(pack("fault", f"{type(error).__name__}: {error}"))
        return
    if walls.get("nobody") is False:  # root that could not drop to nobody runs nothing
        with contextlib.suppress(OSError, ValueError):
            link.outbound.send_bytes(pack("fault", "it could not stop running as root"))
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
        link.send("error", message)


# -- the walls


def enter_walls(limits: Limits, keep: tuple[int, ...]) -> dict[str, bool]:
    """Everything that confines the worker before any learner code runs (the module's
    docstring); which walls are up."""
    up = {}
    with contextlib.suppress(OSError, AttributeError):
        os.setsid()  # its own session and process group: the kernel kills the group
    _quiet_and_closed(keep)
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    _load_what_training_needs()
    up["limits"] = _limit(limits)
    if root:
        try:
            up["nobody"] = _become_nobody()
        except OSError:
            up["nobody"] = False
            return up
    up["dies with its parent"] = _die_with_parent()
    not_dumpable()
    import torch

    torch.set_num_threads(1)
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        up["no processes"] = _set_limit("RLIMIT_NPROC", 0)
    up["landlock"] = install_landlock(readable_folders())
    up["seccomp"] = install_seccomp()
    return up


def _quiet_and_closed(keep: tuple[int, ...]) -> None:
    """Standard streams to /dev/null (learner prints are captured; nothing reaches a terminal or a
    file), every other inherited descriptor closed (the forkserver's, the resource tracker's)."""
    if sys.platform == "win32":
        return
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if fd not in keep:
            os.dup2(null, fd)
    keep = set(keep) | {0, 1, 2}
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = list(range(3, 256))
    for fd in open_fds:
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


# What a learner's code may import once the worker runs as nobody (who cannot read root's files,
# where Python itself may live) or behind Landlock: imported before the walls go up.
_PRELOAD = ("math", "copy", "random", "collections", "functools", "itertools", "operator",
            "statistics", "typing", "dataclasses", "time", "string", "re", "json", "base64", "io",
            "numbers", "heapq", "bisect", "textwrap", "enum", "abc", "warnings", "contextlib",
            "types", "weakref", "struct", "array", "fractions", "decimal", "pickle", "numpy",
            "torch.nn.functional", "torch.nn.init", "torch.nn.utils.rnn", "torch.optim",
            "torch.optim.lr_scheduler", "torch.utils.data")


def _load_what_training_needs() -> None:
    """Import what a learner's code and one training run need (modules torch imports lazily
    included, and the temporary folder some of them look up by writing a probe file), while
    files can still be read and written."""
    for name in _PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    import tempfile

    with contextlib.suppress(OSError):
        tempfile.gettempdir()  # cached from now on
    import torch
    from torch import nn

    from ..training import TorchState, _train_one_epoch, evaluate

    state = TorchState.now()
    with torch.random.fork_rng(devices=[]):
        x, y = torch.zeros(4, 3, 2), torch.zeros(4, dtype=torch.long)
        for cell in (nn.RNN, nn.LSTM, nn.GRU):
            cell(2, 2, num_layers=2, batch_first=True, dropout=0.1)(x)[0].sum().backward()
        from ..data import Split
        from ..models import ModelConfig, build_model
        from ..training import TrainConfig

        model = build_model(ModelConfig(input_size=2, hidden_size=2))
        config = TrainConfig(max_epochs=1, device="cpu", grad_clip=1.0)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        _train_one_epoch(model, optimizer, Split(x, y), config, torch.Generator().manual_seed(0))
        evaluate(model, Split(x, y))
        model.load_state_dict({k: v.clone() for k, v in model.state_dict().items()})
        handle = model.register_forward_hook(lambda *args: None)
        handle.remove()
    state.restore()


def _set_limit(name: str, value: int) -> bool:
    try:
        import resource

        resource.setrlimit(getattr(resource, name), (value, value))
        return True
    except (ImportError, AttributeError, ValueError, OSError):
        return False


def _limit(limits: Limits) -> bool:
    """Memory (address space in use now + the allowance), CPU time (the limit + BACKSTOP: a
    worker the kernel somehow failed to kill dies anyway), no file growth (writes fail, the
    signal ignored), no core files."""
    try:
        import resource

        with open("/proc/self/statm") as statm:  # Linux: pages of address space in use now
            in_use = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (ImportError, OSError):  # Windows, macOS: no memory cap
        in_use = None
    done = True
    if in_use is not None:
        memory = in_use + int(limits.memory_gib * 2**30)
        done &= _set_limit("RLIMIT_AS", memory)
    used = time.process_time()
    done &= _set_limit("RLIMIT_CPU", int(math.ceil(used + limits.seconds + BACKSTOP)))
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    done &= _set_limit("RLIMIT_FSIZE", 0)
    done &= _set_limit("RLIMIT_CORE", 0)
    return done


NOBODY = 65534


def _become_nobody() -> bool:
    """Root drops to nobody (uid and gid 65534, no supplementary groups): it can neither read nor
    write root's files, nor signal or trace root's processes, for good."""
    try:
        import pwd

        uid, gid = pwd.getpwnam("nobody")[2:4]
    except (ImportError, KeyError):
        uid = gid = NOBODY
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    return os.geteuid() == uid


def _die_with_parent() -> bool:
    """Linux: SIGKILL when the parent (the forkserver, which ends when the kernel does) ends. Set
    after the change of user, which clears it."""
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    try:
        if ctypes.CDLL(None).prctl(1, int(signal.SIGKILL), 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # the parent ended before the call
        os._exit(1)
    return True


# -- Landlock (Linux 5.13 and later): files can be read only where Python and the course live


def readable_folders() -> list[str]:
    """Where the worker may read files: Python's installation, its site-packages, the course."""
    import site

    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(__file__).resolve().parents[2])}
    with contextlib.suppress(AttributeError):
        folders.update(site.getsitepackages())
    with contextlib.suppress(AttributeError):
        folders.add(site.getusersitepackages())
    return sorted(f for f in folders if os.path.isdir(f))


def install_landlock(folders: list[str]) -> bool:
    """Linux: from here on this process reads only files under `folders`, and creates, writes,
    removes or renames none (the kernel refuses: ctypes and torch.from_file included). False
    where Landlock is missing (older kernels, other systems): the audit hook still refuses
    Python's own opens outside these folders."""
    if not sys.platform.startswith("linux") or seccomp_arch() is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # the ABI version
    if abi < 1:
        return False
    handled = (1 << {1: 13, 2: 14, 3: 15, 4: 15}.get(abi, 16)) - 1  # every access right it knows
    read = (1 << 0) | (1 << 2) | (1 << 3)  # EXECUTE, READ_FILE, READ_DIR

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    handled_access = ctypes.c_uint64(handled)
    ruleset = libc.syscall(444, ctypes.byref(handled_access), ctypes.c_size_t(8), ctypes.c_uint32(0))
    if ruleset < 0:
        return False
    try:
        for folder in folders:
            try:
                fd = os.open(folder, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                rule = PathBeneath(read, fd)
                libc.syscall(445, ruleset, 1, ctypes.byref(rule), ctypes.c_uint32(0))
            finally:
                os.close(fd)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            return False
        return libc.syscall(446, ruleset, ctypes.c_uint32(0)) == 0
    finally:
        os.close(ruleset)


# -- the seccomp filter (Linux x86_64 and aarch64)

_ARCHES = {
    "x86_64": (0xC000003E, dict(
        kill=62, tkill=200, tgkill=234, rt_sigqueueinfo=129, rt_tgsigqueueinfo=297,
        pidfd_send_signal=424, pidfd_open=434, pidfd_getfd=438, ptrace=101,
        process_vm_readv=310, process_vm_writev=311, socket=41, socketpair=53, connect=42,
        bind=49, listen=50, accept=43, accept4=288, sendto=44, sendmsg=46, sendmmsg=307,
        execve=59, execveat=322, fork=57, vfork=58, clone=56, clone3=435, open=2, openat=257,
        creat=85, openat2=437, rename=82, renameat=264, renameat2=316, unlink=87, unlinkat=263,
        mkdir=83, mkdirat=258, rmdir=84, link=86, linkat=265, symlink=88, symlinkat=266,
        truncate=76, ftruncate=77, fallocate=285, chmod=90, fchmod=91, fchmodat=268,
        fchmodat2=452, chown=92, fchown=93, lchown=94, fchownat=260, mknod=133, mknodat=259,
        mount=165, umount2=166, pivot_root=155, chroot=161, setrlimit=160, prlimit64=302,
        prctl=157, ioctl=16, fcntl=72, utime=132, utimes=235, utimensat=280, futimesat=261,
        setxattr=188, lsetxattr=189, fsetxattr=190, removexattr=197, lremovexattr=198,
        fremovexattr=199, io_uring_setup=425, io_uring_enter=426, io_uring_register=427,
        unshare=272, setns=308, bpf=321, perf_event_open=298, userfaultfd=323, keyctl=250,
        add_key=248, request_key=249, name_to_handle_at=303, open_by_handle_at=304,
        shmget=29, msgget=68, semget=64, mq_open=240, mq_unlink=241, open_tree=428,
        move_mount=429, fsopen=430, fsconfig=431, fsmount=432, mount_setattr=442)),
    "aarch64": (0xC00000B7, dict(  # the generic table (no open, creat, fork...: the *at calls)
        kill=129, tkill=130, tgkill=131, rt_sigqueueinfo=138, rt_tgsigqueueinfo=240,
        pidfd_send_signal=424, pidfd_open=434, pidfd_getfd=438, ptrace=117,
        process_vm_readv=270, process_vm_writev=271, socket=198, socketpair=199, connect=203,
        bind=200, listen=201, accept=202, accept4=242, sendto=206, sendmsg=211, sendmmsg=269,
        execve=221, execveat=281, clone=220, clone3=435, openat=56, openat2=437, renameat=38,
        renameat2=276, unlinkat=35, mkdirat=34, linkat=37, symlinkat=36, truncate=45,
        ftruncate=46, fallocate=47, fchmod=52, fchmodat=53, fchmodat2=452, fchownat=54,
        fchown=55, mknodat=33, mount=40, umount2=39, pivot_root=41, chroot=51, setrlimit=164,
        prlimit64=261, prctl=167, ioctl=29, fcntl=25, utimensat=88, setxattr=5, lsetxattr=6,
        fsetxattr=7, removexattr=14, lremovexattr=15, fremovexattr=16, io_uring_setup=425,
        io_uring_enter=426, io_uring_register=427, unshare=97, setns=268, bpf=280,
        perf_event_open=241, userfaultfd=282, keyctl=219, add_key=217, request_key=218,
        name_to_handle_at=264, open_by_handle_at=265, shmget=194, msgget=186, semget=190,
        mq_open=180, mq_unlink=181, open_tree=428, move_mount=429, fsopen=430, fsconfig=431,
        fsmount=432, mount_setattr=442)),
}
# Refused outright (EPERM): tracing and other processes' memory, sockets, programs, new
# processes, every change to the file system, mounts and namespaces, raising limits, System V
# and POSIX IPC objects (they outlive the process), io_uring (its operations bypass seccomp).
_DENIED = (
    "pidfd_send_signal", "pidfd_open", "pidfd_getfd", "ptrace", "process_vm_readv",
    "process_vm_writev", "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    "sendto", "sendmsg", "sendmmsg", "execve", "execveat", "fork", "vfork", "creat", "rename",
    "renameat", "renameat2", "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir", "link", "linkat",
    "symlink", "symlinkat", "truncate", "ftruncate", "fallocate", "chmod", "fchmod", "fchmodat",
    "fchmodat2", "chown", "fchown", "lchown", "fchownat", "mknod", "mknodat", "mount", "umount2",
    "pivot_root", "chroot", "setrlimit", "utime", "utimes", "utimensat", "futimesat",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "unshare", "setns", "bpf",
    "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "name_to_handle_at",
    "open_by_handle_at", "shmget", "msgget", "semget", "mq_open", "mq_unlink", "open_tree",
    "move_mount", "fsopen", "fsconfig", "fsmount", "mount_setattr")
_NOT_THERE = ("clone3", "openat2")  # ENOSYS: glibc falls back to clone and openat, checked below
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_CLONE_THREAD = 0x00010000
_PR_SET_PDEATHSIG = 1
_TIOCSTI = 0x5412  # pushes characters into a terminal's input
_F_SETOWN, _F_SETSIG, _F_SETOWN_EX = 8, 10, 15  # SIGIO to another process
_KILL_PROCESS, _ALLOW, _ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
_LD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, JMP|JEQ|K, ..., RET|K


def _seccomp_program(arch: str, pid: int) -> list[tuple[int, int, int, int]]:
    """The filter as BPF instructions (code, jt, jf, k) for `arch` and the worker's `pid`."""
    audit_arch, numbers = _ARCHES[arch]
    program: list[tuple[int, int, int, int]] = []

    def low(i: int) -> int:  # offsetof(struct seccomp_data, args[i]), little-endian
        return 16 + 8 * i

    def deny(code: int = errno.EPERM) -> list:
        return [(_RET, 0, 0, _ERRNO | code)]

    def only_self(i: int) -> list:  # the call's argument i is this process's pid (not -1, not 0)
        return [(_LD, 0, 0, low(i)), (_JEQ, 0, 3, pid), (_LD, 0, 0, low(i) + 4), (_JEQ, 0, 1, 0),
                (_RET, 0, 0, _ALLOW), (_RET, 0, 0, _ERRNO | errno.EPERM)]

    def deny_bits(i: int, mask: int) -> list:
        return [(_LD, 0, 0, low(i)), (_JSET, 0, 1, mask), (_RET, 0, 0, _ERRNO | errno.EPERM),
                (_RET, 0, 0, _ALLOW)]

    def deny_values(i: int, values: tuple[int, ...]) -> list:
        body = [(_LD, 0, 0, low(i))]
        for n, value in enumerate(values):
            body.append((_JEQ, len(values) - n, 0, value))
        return body + [(_RET, 0, 0, _ALLOW), (_RET, 0, 0, _ERRNO | errno.EPERM)]

    rules = {name: deny() for name in _DENIED}
    rules.update({name: deny(errno.ENOSYS) for name in _NOT_THERE})
    rules.update({"kill": only_self(0), "tkill": only_self(0), "tgkill": only_self(0),
                  "rt_sigqueueinfo": only_self(0), "rt_tgsigqueueinfo": only_self(0),
                  "open": deny_bits(1, _WRITE_FLAGS), "openat": deny_bits(2, _WRITE_FLAGS),
                  # threads only: a clone without CLONE_THREAD is a new process
                  "clone": [(_LD, 0, 0, low(0)), (_JSET, 0, 1, _CLONE_THREAD),
                            (_RET, 0, 0, _ALLOW), (_RET, 0, 0, _ERRNO | errno.EPERM)],
                  # reading a limit passes no new one (argument 2 is NULL)
                  "prlimit64": [(_LD, 0, 0, low(2)), (_JEQ, 0, 2, 0), (_LD, 0, 0, low(2) + 4),
                                (_JEQ, 1, 0, 0), (_RET, 0, 0, _ERRNO | errno.EPERM),
                                (_RET, 0, 0, _ALLOW)],
                  "prctl": deny_values(0, (_PR_SET_PDEATHSIG,)),
                  "ioctl": deny_values(1, (_TIOCSTI,)),
                  "fcntl": deny_values(1, (_F_SETOWN, _F_SETSIG, _F_SETOWN_EX))})
    program += [(_LD, 0, 0, 4), (_JEQ, 1, 0, audit_arch), (_RET, 0, 0, _KILL_PROCESS),
                (_LD, 0, 0, 0)]
    if arch == "x86_64":  # the x32 ABI's numbers: none of ours
        program += [(_JGE, 0, 1, 0x40000000), (_RET, 0, 0, _KILL_PROCESS)]
    for name, body in rules.items():
        if name in numbers:
            program.append((_JEQ, 0, len(body), numbers[name]))
            program += body
    program.append((_RET, 0, 0, _ALLOW))
    return program


def seccomp_arch() -> str | None:
    """The architecture whose filter this machine takes, or None (no seccomp here)."""
    if not sys.platform.startswith("linux"):
        return None
    machine = platform.machine().lower()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64",
            "arm64": "aarch64"}.get(machine) if sys.maxsize > 2**32 else None


def install_seccomp() -> bool:
    """Install the filter on every thread of this process, for good (no_new_privs first, which
    lets a process without privileges install one). False where there is no seccomp."""
    arch = seccomp_arch()
    if arch is None:
        return False

    class Instruction(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Instruction))]

    instructions = _seccomp_program(arch, os.getpid())
    array = (Instruction * len(instructions))(*[Instruction(*i) for i in instructions])
    program = Program(len(instructions), array)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        return False
    seccomp = {"x86_64": 317, "aarch64": 277}[arch]
    # seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &program): every thread
    if libc.syscall(seccomp, 1, 1, ctypes.byref(program)) == 0:
        return True
    return libc.prctl(22, 2, ctypes.byref(program), 0, 0) == 0  # PR_SET_SECCOMP: this thread


# -- the course guard: the friendly first line


class CourseRefused(ImportError):
    """The learner's code reached for the course's packages, files or processes (or failed in a
    way its message explains)."""


REFUSAL = ("{origin} {what}: the model's code may not touch the course's data or code (the "
           "lesson: change only the model and the training settings, never the dataset). Remove "
           "it; the grader gives your model the data.")
SANDBOX_REFUSAL = ("{origin} tried to {what}: code graded here may not write files, start "
                   "programs, processes or threads, signal other processes, open network "
                   "connections or call C functions (the grader runs it in a sandbox). Remove "
                   "it.")


class _Stub(types.ModuleType):
    """What the learner's code gets for a course module: nothing, except the names a submission
    file may import (`exports`)."""

    def __init__(self, name: str, origin: str, exports: dict[str, Any]) -> None:
        super().__init__(name)
        self.__path__ = []
        self._origin = origin
        self.__dict__.update(exports)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        _refuse(REFUSAL.format(origin=self._origin, what=f"uses {self.__name__}.{name}"))


class _CourseGuard(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Refuses imports of the course's packages; the modules named in `exports` (with their
    parents) import as stubs that hold only those names."""

    def __init__(self, origin: str, exports: dict[str, dict[str, Any]]) -> None:
        self.origin, self.exports = origin, exports
        self.allowed = {".".join(name.split(".")[:i + 1]) for name in exports
                        for i in range(name.count(".") + 1)}

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] not in ("rnn_lesson", "quizzes"):
            return None
        if fullname not in self.allowed:
            _refuse(REFUSAL.format(origin=self.origin, what=f"imports {fullname}"))
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        return _Stub(spec.name, self.origin, self.exports.get(spec.name, {}))

    def exec_module(self, module):
        pass


def guard_the_course(exports: dict[str, dict[str, Any]]) -> None:
    """From here on the worker runs learner code: the course's modules are replaced by stubs in
    sys.modules (the worker keeps its own references), their import is refused, and so are files,
    processes, signals, sockets and ctypes; torch keeps one thread."""
    origin = "your code"
    for name in [n for n in sys.modules if n.split(".")[0] in ("rnn_lesson", "quizzes")]:
        sys.modules[name] = _Stub(name, origin, exports.get(name, {}))
    sys.meta_path.insert(0, _CourseGuard(origin, exports))
    _pin_threads()
    sys.addaudithook(_audit)


# What the learner's code tried and was refused: the check fails with the first, even when the
# code caught the exception and went on.
ATTEMPTS: list[str] = []


def _refuse(message: str) -> None:
    ATTEMPTS.append(message)
    raise CourseRefused(message)


def _pin_threads() -> None:
    """torch keeps one thread, and torch.from_file (which opens files without an audit event)
    is refused."""
    import torch

    def threads(*args, **kwargs):
        _refuse("your code calls torch.set_num_threads: the grader trains with one thread, as the "
                "course does (more threads make small models slower as soon as anything else "
                "uses a core). Remove that call.")

    def from_file(*args, **kwargs):
        _refuse(SANDBOX_REFUSAL.format(origin="your code", what="open a file (torch.from_file)"))

    torch.set_num_threads = threads
    torch.set_num_interop_threads = threads
    torch.from_file = from_file
    for storage in (torch.UntypedStorage, torch.TypedStorage):
        with contextlib.suppress(AttributeError, TypeError):
            storage.from_file = staticmethod(from_file)


# Reading Python's own files (imports, tracebacks) stays allowed: the installation and the course.
_ALLOWED_PREFIXES = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix,
                           str(Path(__file__).resolve().parents[2])})
_REFUSED_EVENTS = {
    "subprocess.Popen": "start a program (subprocess)", "os.system": "start a program (os.system)",
    "os.exec": "start a program (os.exec*)", "os.posix_spawn": "start a program (posix_spawn)",
    "os.spawn": "start a program (os.spawn*)", "os.fork": "start a process (os.fork)",
    "os.forkpty": "start a process (os.forkpty)", "socket.__new__": "open a socket",
    "socket.connect": "open a network connection", "socket.bind": "open a network socket",
    "socket.sendto": "send over the network", "os.remove": "remove a file",
    "os.rename": "rename a file", "os.rmdir": "remove a folder", "os.mkdir": "create a folder",
    "os.truncate": "truncate a file", "os.chmod": "change a file's permissions",
    "os.chown": "change a file's owner", "os.link": "link a file", "os.symlink": "link a file",
    "shutil.rmtree": "remove a folder", "os.killpg": "signal a process group",
    "signal.pthread_kill": "signal a thread", "ctypes.dlopen": "load a C library (ctypes)",
    "ctypes.dlsym": "call a C function (ctypes)", "ctypes.call_function":
    "call a C function (ctypes)", "_thread.start_new_thread": "start a thread",
    "mmap.__new__": "map a file into memory", "resource.setrlimit": "change a resource limit",
    "resource.prlimit": "change a resource limit"}


def _audit(event: str, args: tuple) -> None:
    what = _REFUSED_EVENTS.get(event)
    if event == "os.kill" and not (args and args[0] == os.getpid()):
        what = "send a signal to another process (os.kill)"
    if what is not None:
        _refuse(SANDBOX_REFUSAL.format(origin="your code", what=what))
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path, mode = os.fsdecode(args[0]), args[1] if len(args) > 1 else "r"
        writes = isinstance(mode, str) and any(c in mode for c in "wax+")
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        writes = writes or bool(flags & _WRITE_FLAGS)
        inside = os.path.abspath(path).startswith(_ALLOWED_PREFIXES)
        if writes:
            _refuse(SANDBOX_REFUSAL.format(origin="your code", what=f"write the file {path}"))
        if not inside:
            _refuse(REFUSAL.format(origin="your code", what=f"opens the file {path}"))


def exec_source(source: str, origin: str) -> dict[str, Any]:
    """Run the learner's source (its lines kept for tracebacks); its namespace. A syntax error,
    or an error while the source runs (a failed import, say), is a CourseRefused that names the
    line."""
    namespace: dict[str, Any] = {"__name__": "__submission__", "__builtins__": builtins}
    filename = f"<{origin}>"
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as error:
        raise CourseRefused(f"{origin} has a syntax error at line {error.lineno}: {error.msg}. "
                            "Fix it and run it again.") from None
    except ValueError as error:  # a null byte
        raise CourseRefused(f"{origin} cannot be compiled: {error}.") from None
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        exec(code, namespace)
    except CourseRefused:
        raise
    except BaseException as error:  # SystemExit included: the file ran, and stopped
        raise CourseRefused(
            f"{origin} could not run: {_what(error)}{_where(error, origin)}. "
            f"{_hint(error)}".strip()) from None
    return namespace


def memory_message() -> str:
    weights = count_parameters(build_model(FIX.model))
    return (f"your model needs more memory than the grader allows: make it smaller (the lesson's "
            f"fix has {weights:,} weights).")


def out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or any(
        words in str(error) for words in ("can't allocate memory", "not enough memory",
                                          "Cannot allocate memory"))


def warning_texts(caught) -> list[str]:
    return list(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))


def _what(error: BaseException) -> str:
    text = str(error).splitlines()[0].strip() if str(error).strip() else ""
    return f"{type(error).__name__}: {text}".rstrip(": ").rstrip(".") if text \
        else type(error).__name__


def _where(error: BaseException, origin: str) -> str:
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename == f"<{origin}>":
            return f" (line {frame.lineno} of {origin}: {(frame.line or '').strip()})"
    return ""


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def _hint(error: BaseException) -> str:
    """Advice that fits this error, or none."""
    text = str(error)
    if isinstance(error, PermissionError) or (isinstance(error, OSError) and error.errno in (
            errno.EPERM, errno.EACCES, errno.ENOSYS, errno.EFBIG)) or any(
            words in text for words in ("Operation not permitted", "Permission denied")):
        return ("The grader's sandbox refused it: code graded here may not write files, start "
                "processes, signal other processes or open network connections. Remove it.")
    if isinstance(error, RuntimeError) and "can't start new thread" in text:
        return "The grader runs your code without threads of its own: remove the thread."
    if isinstance(error, ModuleNotFoundError):
        return ("The grader runs your code with torch, numpy and Python's standard library "
                "(the modules the course uses): import only those.")
    if "inplace operation" in text or "modified by an inplace" in text:
        return ("forward changes a tensor in place that autograd still needs: write "
                "out = out + ..., not out += ... (or .add_, [...] = ...).")
    if "does not require grad" in text or "does not have a grad_fn" in text:
        return ("The loss has no gradient: does forward detach its output (.detach(), .item(), "
                "torch.no_grad, numpy)?")
    if "expected scalar type" in text or "Long" in text or "dtype" in text:
        return "forward must return float logits of shape (batch, 2)."
    return ""


def explain(error: BaseException, task: Any) -> str:
    """An error from the learner's code: its type, message and the line of their code, with
    advice that fits it (`task.doing`: "training your model")."""
    if isinstance(error, (TrainingDiverged, ModelError, CourseRefused)):
        return _sentence(str(error))
    if out_of_memory(error):
        return memory_message()
    return " ".join(part for part in (
        _sentence(f"{task.doing} raised {_what(error)}{_where(error, task.origin)}"),
        _hint(error)) if part)


# ---------------------------------------------------------------------------------------------
# Code defined in a notebook, as source


def class_source(model_class: type) -> str:
    """The source of a class, also one defined in a notebook cell (inspect cannot find those:
    the class is found through its methods' code, which IPython keeps in linecache)."""
    with contextlib.suppress(TypeError, OSError):
        return inspect.getsource(model_class) + "\n"
    for member in vars(model_class).values():
        code = getattr(getattr(member, "__func__", member), "__code__", None)
        if code is None:
            continue
        lines = linecache.getlines(code.co_filename)
        if not lines:
            continue
        tree = ast.parse("".join(lines))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == model_class.__name__ \
                    and node.lineno <= code.co_firstlineno <= node.end_lineno:
                start = node.lineno - 1 - len(node.decorator_list)
                return "".join(lines[start:node.end_lineno]) + "\n"
    raise ValueError(f"the source of {model_class.__name__} cannot be found: define it in a "
                     "notebook cell or a .py file (not with type() or exec)")


def source_of(value: type | types.FunctionType) -> str:
    """The source of a class or a function defined in a notebook cell or a file."""
    if isinstance(value, type):
        return class_source(value)
    try:
        return inspect.getsource(value) + "\n"
    except (TypeError, OSError):
        raise ValueError(f"the source of {value.__name__} cannot be found: define it in a "
                         "notebook cell or a .py file") from None


def _global_names(code: types.CodeType) -> set[str]:
    names = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _global_names(constant)
    return names


def with_prelude(value: type | types.FunctionType) -> str:
    """The source of a class or function, after what its code uses from its notebook: imports of
    the modules, the values of plain constants, and the source of helper functions and classes.
    ValueError for an object that cannot travel as source (a tensor, say)."""
    return _prelude(value, set()) + source_of(value)


def _prelude(value: type | types.FunctionType, seen: set) -> str:
    space = vars(sys.modules.get(value.__module__, builtins))
    lines = []
    for name in sorted(_global_names(compile(source_of(value), "<code>", "exec"))):
        if name in seen or hasattr(builtins, name) or name.startswith("__") or name not in space:
            continue
        seen.add(name)
        used = space[name]
        if isinstance(used, types.ModuleType):
            lines.append(f"import {used.__name__} as {name}\n")
        elif _is_literal(used):
            lines.append(f"{name} = {used!r}\n")
        elif isinstance(used, (types.FunctionType, type)) and used.__module__ == value.__module__:
            lines.append(_prelude(used, seen) + source_of(used))
        elif isinstance(used, (types.FunctionType, type)):
            lines.append(f"from {used.__module__} import {used.__qualname__} as {name}\n")
        else:
            raise ValueError(
                f"{value.__name__} uses `{name}`, a {type(used).__name__} defined outside it: the "
                "grader runs your code in a fresh process, where only source and plain values "
                "(numbers, strings) can go. Create it inside (or import it).")
    return "".join(lines)


def _is_literal(value: Any) -> bool:
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
