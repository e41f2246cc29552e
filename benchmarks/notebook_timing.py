"""Run course notebooks, or the stretches of a path through them, in kernels and time each cell."""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path

import nbformat
from jupyter_client import KernelManager
from nbclient import NotebookClient

from rnn_lesson.lessons import paths


def cell_seconds(name: str, scratch: str) -> dict[str, float]:
    """Each code cell's execution time of one notebook run top to bottom, by cell id."""
    return {key.split("/", 1)[1]: value
            for key, value in path_seconds((paths.Stretch(name),), scratch).items()}


def path_seconds(path: tuple[paths.Stretch, ...], scratch: str) -> dict[str, float]:
    """Run the code cells of a path in order, as a learner would: one kernel per notebook, kept
    open while the path moves on to other notebooks (so a later stretch of a notebook sees what
    its earlier one defined). Each code cell's time, by "notebook/cell id", from the kernel's own
    timestamps (kernel start and shutdown are not counted). A cell that raises stops the run: a
    path whose stretches do not run on their own is an error, not a figure. Kernels talk over
    sockets in `scratch` (no TCP warning); RNN_LESSON_CACHE and PROGRESS are the caller's."""
    seconds: dict[str, float] = {}
    with contextlib.ExitStack() as kernels:
        clients: dict[str, tuple[NotebookClient, nbformat.NotebookNode]] = {}
        for stretch in path:
            if stretch.notebook not in clients:
                notebook = nbformat.read(paths.NOTEBOOK_FOLDER / stretch.notebook, as_version=4)
                manager = KernelManager(transport="ipc", ip=str(Path(scratch) / "kernel"))
                client = NotebookClient(notebook, km=manager, timeout=1800, record_timing=True,
                                        resources={"metadata": {"path": str(paths.NOTEBOOK_FOLDER)}})
                # nbclient shuts down only the kernels it created itself: this one is ours to stop
                kernels.callback(manager.shutdown_kernel, now=True)
                kernels.enter_context(client.setup_kernel())
                clients[stretch.notebook] = (client, notebook)
            client, notebook = clients[stretch.notebook]
            wanted = {cell["id"] for cell in paths.cells(stretch)}
            for index, cell in enumerate(notebook.cells):
                if cell.id in wanted and cell.cell_type == "code":
                    client.execute_cell(cell, index)
                    seconds[f"{stretch.notebook}/{cell.id}"] = _duration(cell)
    return seconds


def _duration(cell: nbformat.NotebookNode) -> float:
    timing = cell.metadata["execution"]
    begun = datetime.fromisoformat(timing["iopub.execute_input"].rstrip("Z"))
    ended = datetime.fromisoformat(timing["shell.execute_reply"].rstrip("Z"))
    return (ended - begun).total_seconds()
