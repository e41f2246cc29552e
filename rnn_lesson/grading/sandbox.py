"""Where a learner's code runs when it is graded: fresh processes, out of the kernel's reach.

    notebook kernel ──(a task: source and settings)──▶ grader: a fresh process that judges
                                                          └─▶ worker: forked from the grader; the
                                                              only process that runs learner code

- The grader comes from the course's forkserver (`runs.worker_context`): its modules are imported
  from disk, so nothing patched in the kernel reaches it. It never runs learner code, so nothing
  that code does reaches the verdict.
- The worker runs the learner's code with the course's packages out of its reach (importing
  rnn_lesson or quizzes is refused with a message, and so are files outside Python's own,
  processes and sockets), its memory capped. Whatever the code changes dies with the worker.
- A time limit ends a run that takes too long, with a message naming the likely cause; the kernel
  stays usable.

A task (the fix exercise, the loop exercise) is a picklable object with `work(connection)` (in
the worker), `judge(channel)` (in the grader), `failed(message)`, `time_up(seconds, epochs)`, and
`origin`, `doing` and `advice` for the messages about errors in the learner's code.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import dis
import importlib.abc
import importlib.machinery
import inspect
import linecache
import multiprocessing
import os
import signal
import sys
import time
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models import build_model, count_parameters
from ..recipe import FIX
from ..runs import worker_context  # the forkserver of the course's workers: fresh modules
from ..training import TrainingDiverged


@dataclass(frozen=True)
class Limits:
    seconds: float = 60.0  # the whole check: building, training, evaluating
    memory_gib: float = 2.0  # beyond what torch itself takes


def run(task: Any, limits: Limits = Limits()) -> Any:
    """Run `task` in a fresh grader process and return its result (see the module's docstring);
    never raises for anything the learner's code does."""
    start = time.perf_counter()
    context = worker_context()
    parent, child = context.Pipe(duplex=False)
    # Not a daemon: it forks the worker (daemonic processes may not have children). It ends by
    # itself within the time limit, and is killed if it does not answer in time.
    grader = context.Process(target=_grader_main, args=(child, task, limits))
    grader.start()
    child.close()
    try:
        if parent.poll(limits.seconds + 30):  # the grader enforces the limit itself; this is its
            result = parent.recv()             # own backstop
        else:
            result = task.failed("the grader did not answer in time; try again (the kernel is fine)")
    except (EOFError, OSError):
        result = task.failed(f"the grader stopped unexpectedly (exit code {grader.exitcode}); "
                             "try again")
    finally:
        if grader.is_alive():
            grader.kill()
        grader.join(5)
        parent.close()
    result.seconds = time.perf_counter() - start
    return result


def _grader_main(kernel, task: Any, limits: Limits) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller stops us (a terminal's Ctrl-C)
    try:
        result = _judge(task, limits)
    except Exception as error:  # a bug of ours: say so rather than hang the kernel
        result = task.failed(f"the grader failed ({type(error).__name__}: {error})")
    kernel.send(result)
    kernel.close()


def _judge(task: Any, limits: Limits) -> Any:
    # Forked now, before the grader holds anything the worker must not see (a fresh draw).
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods()
                                          else "spawn")
    inbox, outbox = context.Pipe(duplex=True)
    worker = context.Process(target=_worker_main, args=(outbox, task, limits.memory_gib),
                             daemon=True)
    worker.start()
    outbox.close()
    channel = Channel(inbox, worker, time.monotonic() + limits.seconds)
    try:
        return task.judge(channel)
    except TimeUp:
        return task.failed(task.time_up(limits.seconds, channel.epochs))
    except Died as died:
        return task.failed(died.message(limits))
    except Refused as refused:
        return task.failed(str(refused))
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join(5)


class TimeUp(Exception):
    pass


class Refused(Exception):
    """The worker reported an error (its message is for the learner)."""


class Died(Exception):
    def __init__(self, worker) -> None:
        worker.join(5)
        self.code = worker.exitcode

    def message(self, limits: Limits) -> str:
        return (f"the process that ran your code ended abruptly (exit code {self.code}): it may "
                f"have needed more than the grader's {limits.memory_gib:g} GiB of memory, or "
                "called os._exit. Make the model smaller.")


class Channel:
    """The grader's end of the pipe to the worker, with the deadline."""

    def __init__(self, connection, worker, deadline: float) -> None:
        self.connection, self.worker, self.deadline = connection, worker, deadline
        self.epochs = 0  # the last epoch the worker reported

    def send(self, value: Any) -> None:
        self.connection.send(value)

    def receive(self, expected: str) -> Any:
        """The next message of kind `expected`: TimeUp, Died or Refused otherwise."""
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0 or not self.connection.poll(remaining):
                raise TimeUp()
            try:
                kind, payload = self.connection.recv()
            except (EOFError, OSError):
                raise Died(self.worker) from None
            if kind == "epoch":
                self.epochs = payload
                continue
            if kind == "error":
                raise Refused(payload)
            if kind != expected:
                raise Refused("the grader's worker answered out of order")
            return payload


# ---------------------------------------------------------------------------------------------
# The worker


def _worker_main(connection, task: Any, memory_gib: float) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _cap_memory(memory_gib)
        task.work(connection)
    except CourseRefused as refused:
        connection.send(("error", str(refused)))
    except BaseException as error:  # the learner's code: say what, and where in their code
        connection.send(("error", explain(error, task)))
    finally:
        connection.close()


def _cap_memory(gib: float) -> None:
    try:
        import resource

        with open("/proc/self/statm") as statm:  # Linux: pages of address space in use now
            in_use = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (ImportError, OSError):  # Windows, macOS: no cap
        return
    limit = in_use + int(gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class CourseRefused(ImportError):
    """The learner's code reached for the course's packages, files or processes (or failed in a
    way its message explains)."""


REFUSAL = ("{origin} {what}: the model's code may not touch the course's data or code (the "
           "lesson: change only the model and the training settings, never the dataset). Remove "
           "it; the grader gives your model the data.")


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
        raise CourseRefused(REFUSAL.format(origin=self._origin, what=f"uses {self.__name__}.{name}"))


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
            raise CourseRefused(REFUSAL.format(origin=self.origin, what=f"imports {fullname}"))
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        return _Stub(spec.name, self.origin, self.exports.get(spec.name, {}))

    def exec_module(self, module):
        pass


def guard_the_course(exports: dict[str, dict[str, Any]]) -> None:
    """From here on the worker runs learner code: the course's modules are replaced by stubs in
    sys.modules (the worker keeps its own references), their import is refused, and so are files,
    processes and sockets."""
    origin = "your code"
    for name in [n for n in sys.modules if n.split(".")[0] in ("rnn_lesson", "quizzes")]:
        sys.modules[name] = _Stub(name, origin, exports.get(name, {}))
    sys.meta_path.insert(0, _CourseGuard(origin, exports))
    sys.addaudithook(_audit)


# Reading Python's own files (imports, tracebacks) stays allowed: the installation and the course.
_ALLOWED_PREFIXES = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix,
                           str(Path(__file__).resolve().parents[2])})
_REFUSED_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                   "os.fork", "socket.connect", "socket.bind", "os.remove", "os.rename",
                   "os.rmdir", "shutil.rmtree", "ctypes.dlopen"}


def _audit(event: str, args: tuple) -> None:
    if event in _REFUSED_EVENTS:
        raise CourseRefused(REFUSAL.format(origin="your code", what=f"calls {event}"))
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path, mode = os.fsdecode(args[0]), args[1] if len(args) > 1 else "r"
        writes = isinstance(mode, str) and any(c in mode for c in "wax+")
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        writes = writes or bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        inside = os.path.abspath(path).startswith(_ALLOWED_PREFIXES)
        if writes or not inside:
            raise CourseRefused(REFUSAL.format(origin="your code", what=f"opens the file {path}"))


def exec_source(source: str, origin: str) -> dict[str, Any]:
    """Run the learner's source (its lines kept for tracebacks); its namespace."""
    namespace: dict[str, Any] = {"__name__": "__submission__", "__builtins__": builtins}
    filename = f"<{origin}>"
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as error:
        raise CourseRefused(f"{origin} has a syntax error at line {error.lineno}: {error.msg}. "
                            "Fix it and run it again.") from None
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(code, namespace)
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


def explain(error: BaseException, task: Any) -> str:
    """An error from the learner's code: its type, message and the line of their code, with the
    task's advice (`task.doing`: "training your model", `task.advice`)."""
    if isinstance(error, TrainingDiverged):
        return str(error)
    if out_of_memory(error):
        return memory_message()
    where = ""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename == f"<{task.origin}>":
            where = f" (line {frame.lineno} of {task.origin}: {(frame.line or '').strip()})"
            break
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{task.doing} raised {type(error).__name__}: {text}{where}. {task.advice}"


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
