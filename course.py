#!/usr/bin/env python3
"""Set up and run the course with nothing but Python 3.10+:

    python3 course.py lab       create .venv if needed, then open the notebooks in JupyterLab
    python3 course.py notebook  the same in Jupyter Notebook 7 (the classic one-document view)
    python3 course.py test      create .venv if needed, then run every test (unit + notebooks)
    python3 course.py app       open the experiment as a page with no code (Voila, port 8866)
    python3 course.py execute   re-run every notebook top to bottom and save its outputs
"""

from __future__ import annotations

import hashlib
import json
import os
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


def execute(notebooks: list[Path], extra: list[str]) -> None:
    """Re-run notebooks top to bottom and save them with clean, diff-friendly outputs."""
    # An empty cache and no progress: the saved outputs show fresh runs and a new learner.
    scratch = tempfile.mkdtemp(prefix="rnn-lesson-execute-")
    env = {**os.environ, "RNN_LESSON_CACHE": scratch,
           "RNN_LESSON_PROGRESS": os.path.join(scratch, "progress.json")}
    for notebook in notebooks:
        print(f"executing {notebook.relative_to(ROOT)}", flush=True)
        run([str(PYTHON), "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
             "--inplace", str(notebook)] + extra, env=env)
        content = json.loads(notebook.read_text())
        content["metadata"].pop("widgets", None)  # widget state: large, and changes every run
        for cell in content["cells"]:
            cell["metadata"].pop("execution", None)  # timestamps
        notebook.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n")


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    extra = sys.argv[2:]
    if command not in {"lab", "notebook", "test", "app", "execute", "setup"}:
        sys.exit(__doc__)
    setup()
    if command in ("lab", "notebook"):
        # Jupyter refuses to start as root (as in many containers) unless told it is wanted.
        as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        run([str(PYTHON), "-m", "jupyter", command, "--ip=127.0.0.1", "notebooks/"] + as_root + extra)
    elif command == "test":
        # The notebooks' quizzes must not read or write the learner's own progress file.
        progress = os.path.join(tempfile.mkdtemp(prefix="rnn-lesson-test-"), "progress.json")
        run([str(PYTHON), "-m", "pytest", "tests", "notebooks",
             "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider"] + extra,
            env={**os.environ, "RNN_LESSON_PROGRESS": progress})
    elif command == "app":
        run([str(PYTHON), "-m", "voila", "app/experiment_app.ipynb", "--Voila.ip=127.0.0.1"] + extra)
    elif command == "execute":
        execute(NOTEBOOKS + [ROOT / "app" / "experiment_app.ipynb"], extra)


if __name__ == "__main__":
    main()
