"""Imported by the course's forkserver only (`runs.worker_context` preloads it), never by a kernel.

A worker that the forkserver is still starting when its caller stops (Ctrl-C in the first
seconds of a run) cannot read what the caller sent any more: the forkserver would print that
child's traceback to the terminal. That child has nothing to do; it ends quietly instead. Any
other error is printed as usual.
"""

import sys

_default_hook = sys.excepthook


def _quiet_when_the_caller_is_gone(kind, error, trace) -> None:
    if issubclass(kind, (FileNotFoundError, EOFError, ConnectionError, KeyboardInterrupt)):
        return
    _default_hook(kind, error, trace)


sys.excepthook = _quiet_when_the_caller_is_gone
