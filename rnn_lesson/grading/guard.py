"""The course guard: the friendly first line in Python, put up in the worker after its walls
(walls.py) and just before the learner's code runs.

From then on, importing the course's packages (each becomes a stub holding only the names a
submission may import), opening files outside Python's own, starting processes or threads,
signalling other processes, sockets and ctypes are refused with a CourseRefused naming what the
code tried; so is looking for the worker's own frames and objects: `sys._getframe` (but for the
standard library's namedtuple, typing and enum, and typing_extensions, which read only a module's
name or one local and keep the frame),
`sys._current_frames`, `gc.get_objects`, `gc.get_referrers`, `gc.get_referents`,
`sys.settrace`, `sys.setprofile`, `sys.addaudithook`, and the attributes Python 3.11 audits
(`object.__getattr__`: a traceback's `tb_frame`, a frame's `f_code`, a generator's or
coroutine's `gi_frame`, `gi_code`, `cr_frame`, `cr_code`, `ag_frame`, `ag_code`; `f_back` and a
function's `__globals__` raise no event). The check fails with the first refusal even when the
code caught it and went on (`ATTEMPTS`).

A bar, not a wall. Everything in the worker's own process is within reach of the code it runs:
a function's `__globals__` (an exported class's methods, the import hook in sys.meta_path) leads
to the course's modules, and from there a determined submission can patch how the worker
measures it (the decoy check, the record, the untrained logits: what the worker reports). What
holds whatever the worker does is what the grader computes from data the worker never sees the
labels of: the fresh draw, the noisy copies, and the disguised confirmation runs (fix.py). The
walls (walls.py) are what ctypes cannot get past.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import importlib.abc
import importlib.machinery
import os
import sys
import traceback
import types
import typing
from typing import Any

from .walls import PYTHON_AND_COURSE, WRITE_FLAGS


class CourseRefused(ImportError):
    """The learner's code reached for the course's packages, files or processes (or failed in a
    way its message explains)."""


_COURSE_PACKAGES = ("rnn_lesson", "quizzes")
REFUSAL = ("your code {what}: the model's code may not touch the course's data or code (the "
           "lesson: change only the model and the training settings, never the dataset). Remove "
           "it; the grader gives your model the data.")
SANDBOX_REFUSAL = ("your code tried to {what}: code graded here may not write files, start "
                   "programs, processes or threads, signal other processes, open network "
                   "connections or call C functions (the grader runs it in a sandbox). "
                   "Remove it.")


class _Stub(types.ModuleType):
    """What the learner's code gets for a course module: nothing, except the names a submission
    file may import (`exports`)."""

    def __init__(self, name: str, exports: dict[str, Any]) -> None:
        super().__init__(name)
        self.__path__ = []
        self.__dict__.update(exports)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        _refuse(REFUSAL.format(what=f"uses {self.__name__}.{name}"))


class _CourseGuard(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Refuses imports of the course's packages; the modules named in `exports` (with their
    parents) import as stubs that hold only those names."""

    def __init__(self, exports: dict[str, dict[str, Any]]) -> None:
        self.exports = exports
        self.allowed = {".".join(name.split(".")[:i + 1]) for name in exports
                        for i in range(name.count(".") + 1)}

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] not in _COURSE_PACKAGES:
            return None
        if fullname not in self.allowed:
            _refuse(REFUSAL.format(what=f"imports {fullname}"))
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        return _Stub(spec.name, self.exports.get(spec.name, {}))

    def exec_module(self, module):
        pass


def guard_the_course(exports: dict[str, dict[str, Any]]) -> None:
    """From here on the worker runs learner code: the course's modules are replaced by stubs in
    sys.modules (the worker keeps its own references), their import is refused, and so are files,
    processes, signals, sockets and ctypes; torch keeps one thread."""
    for name in [n for n in sys.modules if n.split(".")[0] in _COURSE_PACKAGES]:
        sys.modules[name] = _Stub(name, exports.get(name, {}))
    sys.meta_path.insert(0, _CourseGuard(exports))
    _pin_threads()
    _quiet_lazy_calls()
    global frames_of
    audit, frames_of = _make_audit()
    sys.addaudithook(audit)  # the hook and its tables live in its closure, not in this module


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
        _refuse(SANDBOX_REFUSAL.format(what="open a file (torch.from_file)"))

    torch.set_num_threads = threads
    torch.set_num_interop_threads = threads
    torch.from_file = from_file
    for storage in (torch.UntypedStorage, torch.TypedStorage):
        with contextlib.suppress(AttributeError, TypeError):
            storage.from_file = staticmethod(from_file)


def _quiet_lazy_calls() -> None:
    """torch.manual_seed queues a call for CUDA (and XPU, MTIA) with `traceback.format_stack()`,
    to name where it was made should the device fail to start later: a walk of the call stack
    the guard refuses. Those modules get a traceback module whose format_stack returns nothing
    (the CPU never starts them)."""
    shim = types.ModuleType("traceback")
    shim.__dict__.update(vars(traceback))
    shim.format_stack = lambda *args, **kwargs: []
    for name in ("torch.cuda", "torch.xpu", "torch.mtia"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "traceback", None) is traceback:
            module.traceback = shim


def frames_of(tb) -> list[tuple[str, int]]:
    """(file name, line) of each entry of a traceback, for the feedback (feedback.where); the
    guard replaces it with one its hook lets through."""
    entries = []
    while tb is not None and len(entries) < 1000:
        entries.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    return entries


# Reading Python's own files (imports, tracebacks) stays allowed: the installation and the course.
_ALLOWED_PREFIXES = tuple(PYTHON_AND_COURSE)
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
# Looking for the worker's own frames and objects (the grader's code that measures the model).
INTROSPECTION_REFUSAL = ("your code tried to {what}: code graded here may not look for the "
                         "grader's code, frames or objects (the model is judged by what it does "
                         "on data it is given). Remove it.")
_INTROSPECTION_EVENTS = {
    "sys._getframe": "inspect the call stack (sys._getframe, inspect.currentframe, logging)",
    "sys._current_frames": "inspect the call stack (sys._current_frames)",
    "sys._getframemodulename": "inspect the call stack (sys._getframemodulename)",
    "gc.get_objects": "search the process's objects (gc.get_objects)",
    "gc.get_referrers": "search the process's objects (gc.get_referrers)",
    "gc.get_referents": "search the process's objects (gc.get_referents)",
    "sys.settrace": "trace the code that runs (sys.settrace)",
    "sys.setprofile": "trace the code that runs (sys.setprofile)",
    "sys.addaudithook": "add an audit hook (sys.addaudithook)"}
# The attributes Python audits as ("object.__getattr__", obj, name) that lead to frames or code.
_FRAME_ATTRIBUTES = frozenset({"tb_frame", "f_code", "gi_frame", "gi_code", "cr_frame", "cr_code",
                               "ag_frame", "ag_code"})


def _getframe_callers() -> tuple:
    """The code of the functions that call sys._getframe only to read a caller's module name or
    one local, and keep the frame to themselves: the standard library's namedtuple, TypeVar and
    functional Enum (their __module__), and typing_extensions' (which torch imports, also when
    torch.load imports its unpickler: `Optional[...]` asks whether typing's Generic called it).
    Compared by the identity of their code objects: code compiled under their names is not
    them."""
    codes = [collections.namedtuple.__code__, typing._caller.__code__]
    with contextlib.suppress(AttributeError):
        codes.append(enum.EnumType._create_.__code__)
    extensions = sys.modules.get("typing_extensions")
    for name in ("_caller", "_has_generic_or_protocol_as_origin"):
        with contextlib.suppress(AttributeError):
            codes.append(getattr(extensions, name).__code__)
    return tuple(codes)


def _make_audit():
    """The audit hook, and the traceback walk (`frames_of`) it lets through. Its tables and state
    are held in the closure: nothing in this module's globals changes what it refuses."""
    refused = types.MappingProxyType(dict(_REFUSED_EVENTS))
    introspection = types.MappingProxyType(dict(_INTROSPECTION_EVENTS))
    attributes = _FRAME_ATTRIBUTES
    callers = _getframe_callers()
    caller_ids = frozenset(id(code) for code in callers)
    prefixes, write_flags, pid = _ALLOWED_PREFIXES, WRITE_FLAGS, os.getpid()
    getframe, fsdecode, abspath = sys._getframe, os.fsdecode, os.path.abspath
    state = [False, False]  # [looking at the caller ourselves, walking a traceback for feedback]

    def from_the_standard_library() -> bool:
        state[0] = True  # our own sys._getframe and f_code below raise events: let them through
        try:
            return id(getframe(2).f_code) in caller_ids  # 0 this, 1 the hook, 2 the caller
        except ValueError:
            return False
        finally:
            state[0] = False

    def audit(event: str, args: tuple) -> None:
        if state[0]:
            return
        what = refused.get(event)
        if event == "os.kill" and not (args and args[0] == pid):
            what = "send a signal to another process (os.kill)"
        if what is not None:
            _refuse(SANDBOX_REFUSAL.format(what=what))
        if not state[1]:
            look = introspection.get(event)
            if event == "object.__getattr__" and len(args) > 1 and args[1] in attributes:
                look = f"inspect the call stack (the attribute {args[1]})"
            if look is not None and not (event == "sys._getframe"
                                         and from_the_standard_library()):
                _refuse(INTROSPECTION_REFUSAL.format(what=look))
        if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            path, mode = fsdecode(args[0]), args[1] if len(args) > 1 else "r"
            writes = isinstance(mode, str) and any(c in mode for c in "wax+")
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            writes = writes or bool(flags & write_flags)
            inside = abspath(path).startswith(prefixes)
            if writes:
                _refuse(SANDBOX_REFUSAL.format(what=f"write the file {path}"))
            if not inside:
                _refuse(REFUSAL.format(what=f"opens the file {path}"))

    def walk(tb) -> list[tuple[str, int]]:
        """frames_of, let through: it reads only C attributes (no learner code runs during it)
        and hands out names and numbers, never a frame."""
        entries = []
        if type(tb) is not types.TracebackType:  # exactly (an object's __class__ is not asked)
            return entries
        state[1] = True
        try:
            while tb is not None and len(entries) < 1000:
                entries.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
                tb = tb.tb_next
        finally:
            state[1] = False
        return entries

    return audit, walk
