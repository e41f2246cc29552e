"""course.py, as a learner runs it: a quiet start, Ctrl-C that shuts Jupyter down cleanly, and
saved notebooks that read without a kernel."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("course", ROOT / "course.py")
course = importlib.util.module_from_spec(spec)
spec.loader.exec_module(course)

ALARMING = ("WARNING", "Warning", "without encryption", "deprecated", "Traceback", "not trusted")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_lab(tmp_path: Path):
    """`python3 course.py lab` in a process group of its own, as a terminal runs it."""
    runtime = Path(tempfile.mkdtemp(prefix="rt-"))  # short: kernels' sockets live there
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws")}
    port = free_port()
    process = subprocess.Popen([sys.executable, "course.py", "lab", "--no-browser", f"--port={port}",
                                "--IdentityProvider.token=test-token"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token=test-token", timeout=2)
            return process, base, runtime
        except OSError:
            time.sleep(0.3)
    process.kill()
    shutil.rmtree(runtime, ignore_errors=True)
    raise TimeoutError(process.communicate()[0])


def test_lab_starts_quietly_runs_a_kernel_and_stops_cleanly_on_ctrl_c(tmp_path):
    process, base, runtime = start_lab(tmp_path)
    try:
        request = urllib.request.Request(f"{base}/api/kernels?token=test-token", method="POST",
                                         data=json.dumps({"name": "python3"}).encode())
        kernel = json.loads(urllib.request.urlopen(request, timeout=30).read())
        time.sleep(8)  # the kernel starts and would print its warnings
        assert list(runtime.glob("jpserver-*.json"))  # the server's runtime file, while it runs
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert "Stopping the server" in output and "Shutting down" in output
    assert not [line for line in output.splitlines() if any(word in line for word in ALARMING)], output
    assert not list(runtime.glob("jpserver-*")) and not list(runtime.glob(f"kernel-{kernel['id']}*"))
    shutil.rmtree(runtime, ignore_errors=True)


def pids_running(text: str) -> list[int]:
    """The processes whose command line holds `text` (zombies aside)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in command and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_lab_stops_cleanly_when_course_py_is_terminated_or_its_terminal_closes(tmp_path, signum):
    """The server runs in a session of its own, so a SIGTERM (kill) or a SIGHUP (the terminal
    closed) reaches course.py alone: it must stop the server as Ctrl-C does, not leave it running
    with its kernels."""
    process, base, runtime = start_lab(tmp_path)
    server_pids: list[int] = []
    kernel_pids: list[int] = []
    try:
        try:
            request = urllib.request.Request(f"{base}/api/kernels?token=test-token", method="POST",
                                             data=json.dumps({"name": "python3"}).encode())
            kernel = json.loads(urllib.request.urlopen(request, timeout=30).read())
            server_pids = [int(p.stem.split("-")[1]) for p in runtime.glob("jpserver-*.json")]
            deadline = time.monotonic() + 30
            while not pids_running(kernel["id"]) and time.monotonic() < deadline:
                time.sleep(0.2)
            kernel_pids = pids_running(kernel["id"])
            assert server_pids and kernel_pids
            time.sleep(2)
        finally:
            process.send_signal(signum)  # to course.py only, not to its group
            output, _ = process.communicate(timeout=60)
        assert process.returncode == 128 + signum, output
        assert "Stopping the server" in output and "Traceback" not in output, output
        alive = [pid for pid in server_pids + kernel_pids if pid in pids_running("")]
        assert not alive, f"still running: {alive}\n{output}"
        assert not list(runtime.glob("jpserver-*"))
        assert not list(runtime.glob(f"kernel-{kernel['id']}*"))
    finally:  # whatever failed, nothing of the test stays behind
        for pid in server_pids + kernel_pids:
            if pid in pids_running(""):
                os.kill(pid, signal.SIGTERM)
        time.sleep(0.5 if server_pids else 0)
        for pid in server_pids + kernel_pids:
            if pid in pids_running(""):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(runtime, ignore_errors=True)


CTRL_C_DURING_SETUP = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("course", "course.py")
course = importlib.util.module_from_spec(spec)
spec.loader.exec_module(course)
def slow_setup():  # as pip installing the requirements, minutes the first time
    print("setting up", flush=True)
    time.sleep(60)
course.setup = slow_setup
sys.argv = ["course.py", sys.argv[1]]
course.main()
"""


@pytest.mark.parametrize("command", ["lab", "test"])
def test_ctrl_c_during_setup_prints_one_line_and_exits_130(command):
    process = subprocess.Popen([sys.executable, "-c", CTRL_C_DURING_SETUP, command], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        assert process.stdout.readline().strip() == "setting up"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 130 and "Traceback" not in output, output
    assert output.strip() == "Interrupted."


def test_a_saved_notebook_keeps_only_the_static_copy_of_each_widget():
    notebook = {"metadata": {"widgets": {"state": "large"}}, "cells": [
        {"cell_type": "code", "metadata": {"execution": {"t": 1}}, "outputs": [
            {"output_type": "display_data", "data": {course.WIDGET_VIEW: {}, "text/html": "<b>q</b>",
                                                      "text/plain": "card"}},
            {"output_type": "display_data", "data": {course.WIDGET_VIEW: {}, "text/plain": "bar"}},
        ]}]}
    saved = course.static(notebook)
    first, second = saved["cells"][0]["outputs"]
    assert set(first["data"]) == {"text/html", "text/plain"}
    assert course.WIDGET_VIEW in second["data"]  # nothing static to show instead: kept as it is
    assert "widgets" not in saved["metadata"] and "execution" not in saved["cells"][0]["metadata"]


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")) + [ROOT / course.APP],
                         ids=lambda p: p.name)
def test_the_committed_notebooks_hold_no_widget_state_and_no_learners_progress(path):
    notebook = json.loads(path.read_text())
    assert "widgets" not in notebook["metadata"]
    text = path.read_text()
    assert "rnn-lesson-execute-" not in text and "rnn-lesson-test-" not in text  # no executor's path
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            assert course.WIDGET_VIEW not in data or not ({"text/html", "image/png"} & set(data))
