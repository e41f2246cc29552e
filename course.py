#!/usr/bin/env python3
"""Set up and run the course with nothing but Python 3.10+:

    python3 course.py lab       create .venv if needed, then open the notebooks in JupyterLab
    python3 course.py notebook  the same in Jupyter Notebook 7 (the classic one-document view)
    python3 course.py test      create .venv if needed, then run every test (unit + notebooks)
    python3 course.py app       open the experiment as a page with no code (Voila, port 8866)
    python3 course.py execute   re-run every notebook top to bottom and save its outputs (or only
                                the notebooks named after it)
    python3 course.py setup     only create .venv (then .venv/bin/python runs the course's commands)

Ctrl-C stops a server cleanly (its kernels shut down, its runtime files removed).
"""

from __future__ import annotations

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
    venv.create(VENV, with_pip=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check"]
    run(pip + ["-r", "requirements.txt"])
    run(pip + ["--no-deps", "-e", "."])
    STAMP.write_text(wanted)


def run(args: list[str], env: dict[str, str] | None = None) -> None:
    completed = subprocess.run(args, cwd=ROOT, env=env)
    if completed.returncode:
        sys.exit(completed.returncode)


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
    except KeyboardInterrupt:
        print("\nStopping the server (its kernels shut down)...", flush=True)
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        sys.exit(130)
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
