"""The course guard: the friendly first line in Python, put up in the worker after its walls
(walls.py) and just before the learner's code runs.

From then on, importing the course's packages (each becomes a stub holding only the names a
submission may import), opening files outside Python's own, starting processes or threads,
signalling other processes, sockets and ctypes are refused with a CourseRefused naming what the
code tried. The check fails with the first refusal even when the code caught it and went on
(`ATTEMPTS`). Python can reach past a guard in Python; the walls are what ctypes cannot bypass.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
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
        _refuse(SANDBOX_REFUSAL.format(what="open a file (torch.from_file)"))

    torch.set_num_threads = threads
    torch.set_num_interop_threads = threads
    torch.from_file = from_file
    for storage in (torch.UntypedStorage, torch.TypedStorage):
        with contextlib.suppress(AttributeError, TypeError):
            storage.from_file = staticmethod(from_file)


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


def _audit(event: str, args: tuple) -> None:
    what = _REFUSED_EVENTS.get(event)
    if event == "os.kill" and not (args and args[0] == os.getpid()):
        what = "send a signal to another process (os.kill)"
    if what is not None:
        _refuse(SANDBOX_REFUSAL.format(what=what))
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path, mode = os.fsdecode(args[0]), args[1] if len(args) > 1 else "r"
        writes = isinstance(mode, str) and any(c in mode for c in "wax+")
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        writes = writes or bool(flags & WRITE_FLAGS)
        inside = os.path.abspath(path).startswith(_ALLOWED_PREFIXES)
        if writes:
            _refuse(SANDBOX_REFUSAL.format(what=f"write the file {path}"))
        if not inside:
            _refuse(REFUSAL.format(what=f"opens the file {path}"))
