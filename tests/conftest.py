import os
import shutil
import signal
import tempfile
import threading

import pytest

from rnn_lesson.lessons.overfitting import BASELINE, FIX

_SCRATCH: list[str] = []


def _stop_as_on_ctrl_c(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config) -> None:
    """The whole session (unit tests, the notebooks' kernels, the browser's servers) uses a run
    cache and a progress file of its own, never the learner's; both are removed at the end, also
    when the session is stopped by SIGTERM or SIGHUP (`course.py test` passes them on), which end
    it as Ctrl-C does: its servers, kernels and files are cleaned up."""
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            signum = getattr(signal, name, None)
            if signum is not None and signal.getsignal(signum) == signal.SIG_DFL:
                signal.signal(signum, _stop_as_on_ctrl_c)
    scratch = tempfile.mkdtemp(prefix="rnn-lesson-test-")
    _SCRATCH.append(scratch)
    os.environ["RNN_LESSON_CACHE"] = os.path.join(scratch, "cache")
    os.environ["RNN_LESSON_PROGRESS"] = os.path.join(scratch, "progress.json")


def pytest_unconfigure(config) -> None:
    for scratch in _SCRATCH:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def baseline_history():
    """Seed 0 of the overfitting baseline (~3 s): trained once for every test that reads it."""
    return BASELINE.run(seed=0)


@pytest.fixture(scope="session")
def fix_history():
    return FIX.run(seed=0)


@pytest.fixture(autouse=True)
def own_progress_file(tmp_path, monkeypatch):
    """Every test writes its progress to its own file, never the learner's."""
    monkeypatch.setenv("RNN_LESSON_PROGRESS", str(tmp_path / "progress.json"))
