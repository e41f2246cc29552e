#!/usr/bin/env python3
"""Set up and run the course with nothing but Python 3.10+:

    python3 course.py lab       create .venv if needed, then open the notebooks in JupyterLab
    python3 course.py notebook  the same in Jupyter Notebook 7 (the classic one-document view)
    python3 course.py test      create .venv if needed, then run every test (unit + notebooks)
    python3 course.py app       open the experiment as a page with no code (Voila, port 8866)
    python3 course.py execute   re-run every notebook top to bottom and save its outputs (or only
                                the notebooks named after it)
    python3 course.py setup     only create .venv (then .venv/bin/python runs the course's commands)

Ctrl-C stops a server cleanly (its kernels shut down, its runtime files removed), and so does
closing the terminal (SIGHUP) or `kill` (SIGTERM). Ctrl-C at any other time prints one line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".installed"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
APP = "app/experiment_app.ipynb"


def setup() -> None:
    """Create .venv and install the pinned requirements, unless they are already installed."""
    wanted = hashlib.sha256(
        b"".join((ROOT / f).read_bytes() for f in ("requirements.txt", "pyproject.toml"))
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if sys.version_info < (3, 10):
        sys.exit(f"Python 3.10 or newer is needed, this is {sys.version.split()[0]}")
    print(f"Setting up {VENV} (a few minutes the first time)...", flush=True)
    if not PYTHON.exists():  # a venv in use (a kernel runs its python) cannot be made again
        venv.create(VENV, with_pip=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check"]
    run(pip + ["-r", "requirements.txt"])
    run(pip + ["--no-deps", "-e", "."])
    STAMP.write_text(wanted)


class Stopped(Exception):
    """This process was told to stop (SIGTERM, or SIGHUP when its terminal closed)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop_signal(signum: int, frame) -> None:
    raise Stopped(signum)


STOP_SIGNALS = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]


def say(text: str) -> None:
    """Print a line, unless the terminal is gone (closed: SIGHUP): stopping must go on."""
    try:
        print(text, flush=True)
    except (OSError, ValueError):
        pass


def run(args: list[str], env: dict[str, str] | None = None) -> None:
    """Run a command to its end; if we are told to stop meanwhile, it is stopped first."""
    process = subprocess.Popen(args, cwd=ROOT, env=env)
    try:
        code = process.wait()
    except KeyboardInterrupt:
        stop(process, None, timeout=30)  # Ctrl-C reached it too (one process group): it ends
        raise
    except Stopped:
        stop(process, signal.SIGTERM, timeout=30)  # it reached only us: pass it on
        raise
    if code:
        sys.exit(code)


def stop(process: subprocess.Popen, signum: int | None, timeout: float) -> None:
    """Ask `process` to end with `signum` (None: it was told already), wait up to `timeout`
    seconds, then kill it. A further Ctrl-C, SIGTERM or SIGHUP meanwhile does not cut this short
    (a server is shutting its kernels down); the kill comes after `timeout` in any case."""
    ignored = {s: signal.signal(s, signal.SIG_IGN) for s in [signal.SIGINT, *STOP_SIGNALS]}
    try:
        if signum is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                process.send_signal(signum)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    finally:
        for s, handler in ignored.items():
            signal.signal(s, handler)


def server_options(voila: bool = False) -> list[str]:
    """What a server needs so that a normal start prints nothing alarming:
    - kernels talk over local sockets (IPC) rather than TCP, so the kernel does not warn that it
      "is running over TCP without encryption" (a socket's path must fit in 107 characters: where
      the runtime folder is too deep for that, TCP stays, and so does the warning);
    - JupyterLab and Notebook 7 run without notebook_shim, which bridges classic-notebook
      extensions (the course has none) and, listing the server's attributes, reads a deprecated
      one: "ServerApp.token config is deprecated"."""
    options = [] if voila else ["--ServerApp.jpserver_extensions={'notebook_shim': False}"]
    if os.name == "nt":
        return options
    runtime = subprocess.run([str(PYTHON), "-c", "from jupyter_core.paths import "
                              "jupyter_runtime_dir; print(jupyter_runtime_dir())"],
                             capture_output=True, text=True).stdout.strip()
    longest_socket = len(os.path.join(runtime, f"kernel-{'0' * 36}-ipc-99"))
    return options + (["--KernelManager.transport=ipc"] if runtime and longest_socket < 107 else [])


def serve(args: list[str]) -> None:
    """Run a Jupyter or Voila server until it ends; Ctrl-C stops it cleanly and exits with 130.

    The server runs in its own process group, so the terminal's Ctrl-C reaches only us: we ask the
    server to stop (SIGTERM, which Jupyter answers by shutting its kernels down and removing its
    runtime files) instead of it asking "Shut down this server (y/[n])?" while we kill it."""
    if os.name == "nt":  # no process groups: Jupyter's own Ctrl-C handling
        run(args)
        return
    server = subprocess.Popen(args, cwd=ROOT, start_new_session=True)
    try:
        code = server.wait()
    except (KeyboardInterrupt, Stopped) as reason:
        # SIGTERM or SIGHUP (the terminal closed) reach only us too, since the server has a
        # session of its own: it is stopped the same way, or it would run on with its kernels.
        say("\nStopping the server (its kernels shut down)...")
        stop(server, signal.SIGTERM, timeout=30)
        sys.exit(128 + reason.signum if isinstance(reason, Stopped) else 130)
    if code:
        sys.exit(code)


def execute(notebooks: list[Path], extra: list[str]) -> None:
    """Re-run notebooks top to bottom and save them with clean, diff-friendly outputs."""
    # An empty cache and no progress: the saved outputs show fresh runs and a new learner. Both
    # are removed afterwards.
    with tempfile.TemporaryDirectory(prefix="rnn-lesson-execute-") as scratch:
        env = {**os.environ, "RNN_LESSON_CACHE": scratch,
               "RNN_LESSON_PROGRESS": os.path.join(scratch, "progress.json")}
        for notebook in notebooks:
            print(f"executing {notebook.relative_to(ROOT)}", flush=True)
            # The kernel talks over sockets in the scratch folder (absolute, as nbconvert starts
            # the kernel in the notebook's folder), so it does not warn about TCP.
            ipc = ([] if os.name == "nt" else
                   ["--KernelManager.transport=ipc", f"--KernelManager.ip={scratch}/kernel"])
            run([str(PYTHON), "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                 "--inplace", str(notebook)] + ipc + extra, env=env)
            notebook.write_text(json.dumps(static(json.loads(notebook.read_text())), indent=1,
                                           ensure_ascii=False) + "\n")


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def static(notebook: dict) -> dict:
    """A notebook that reads without a kernel: each widget output keeps only its static copy
    (text/html or a picture, which every widget of the course carries), since no widget state is
    saved (it is large and changes every run); no timestamps."""
    notebook["metadata"].pop("widgets", None)
    for cell in notebook["cells"]:
        cell["metadata"].pop("execution", None)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and ({"text/html", "image/png"} & set(data)):
                del data[WIDGET_VIEW]
    return notebook


def main() -> None:
    """The command; Ctrl-C at any point prints one line and exits 130 (a server or a command
    started here is stopped first), SIGTERM and SIGHUP exit 128 + the signal's number."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop_signal)
    try:
        commands()
    except KeyboardInterrupt:
        say("\nInterrupted.")
        sys.exit(130)
    except Stopped as stopped:
        sys.exit(128 + stopped.signum)


def commands() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    extra = sys.argv[2:]
    if command not in {"lab", "notebook", "test", "app", "execute", "setup"}:
        sys.exit(__doc__)
    setup()
    if command in ("lab", "notebook"):
        # Jupyter refuses to start as root (as in many containers) unless told it is wanted.
        as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        serve([str(PYTHON), "-m", "jupyter", command, "--ip=127.0.0.1", "notebooks/"]
              + as_root + server_options() + extra)
    elif command == "test":
        # tests/conftest.py gives the whole run (notebooks included) its own run cache and
        # progress file, and removes them at the end: the learner's are never touched.
        run([str(PYTHON), "-m", "pytest", "tests", "notebooks",
             "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider"] + extra)
    elif command == "app":
        # Voila warns "Notebook ... is not trusted" for a notebook this machine never signed:
        # sign it (as opening and saving it in Jupyter would).
        subprocess.run([str(PYTHON), "-m", "jupyter", "trust", APP], cwd=ROOT,
                       stdout=subprocess.DEVNULL, check=False)
        serve([str(PYTHON), "-m", "voila", APP, "--Voila.ip=127.0.0.1"]
              + server_options(voila=True) + extra)
    elif command == "execute":
        chosen = [ROOT / arg for arg in extra if arg.endswith(".ipynb")]  # some, or all of them
        execute(chosen or NOTEBOOKS + [ROOT / APP], [arg for arg in extra if not arg.endswith(".ipynb")])


if __name__ == "__main__":
    main()
