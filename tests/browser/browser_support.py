"""What the browser tests need: Chromium through Playwright, and JupyterLab and Voila servers
started in isolation (127.0.0.1, a free port, a random token, their own config, runtime, data and
settings folders), stopped by process group.

Nothing here downloads a browser: Playwright drives Debian's /usr/bin/chromium through
`executable_path`. Never run `playwright install`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
APP_NOTEBOOK = ROOT / "app" / "experiment_app.ipynb"
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]
# Generous: training runs 3-10x slower when the machine is shared.
SERVER_START_S = 120
KERNEL_START_S = 120
RUN_ALL_S = 900
TRAIN_S = 300


def missing_requirement() -> str | None:
    """Why the browser tests cannot run here, or None if they can."""
    if not CHROMIUM.is_file():
        return (f"{CHROMIUM} not found (apt-get install -y chromium; "
                "or set COURSE_CHROMIUM to a Chromium binary)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install -r requirements.txt)"
    return None


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def strip_outputs(source: Path, target: Path) -> None:
    """Copy a notebook without outputs or execution counts: every prompt starts as `[ ]:`, so
    `[n]:` on every code cell after Run All means each cell ran in this session."""
    notebook = json.loads(source.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(notebook, indent=1), encoding="utf-8")


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def isolated_env(home: Path) -> dict[str, str]:
    """Environment for a Jupyter server that reads and writes nothing of the user's."""
    dirs = {name: home / name for name in ("config", "runtime", "data", "settings", "workspaces",
                                           "ipython", "mpl")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTER_DATA_DIR=str(dirs["data"]), JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]), IPYTHONDIR=str(dirs["ipython"]),
        MPLCONFIGDIR=str(dirs["mpl"]), JUPYTER_PLATFORM_DIRS="1", PYTHONUNBUFFERED="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",  # no debugger warning in the kernel's stderr
        RNN_LESSON_PROGRESS=str(home / "progress.json"),  # never the learner's own progress
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_TOKEN", None)
    # No terminals (a shell on a test server is of no use), no Voila inside JupyterLab.
    write_json(dirs["config"] / "jupyter_server_config.json", {"ServerApp": {"jpserver_extensions": {
        "jupyter_server_terminals": False, "voila.server_extension": False,
        "notebook_shim": False}}})
    settings = dirs["settings"] / "@jupyterlab"
    write_json(settings / "apputils-extension" / "notification.jupyterlab-settings",
               {"fetchNews": "false", "checkForUpdates": False})
    # windowingMode none: every cell stays in the DOM, so the page can be searched for errors.
    write_json(settings / "notebook-extension" / "tracker.jupyterlab-settings",
               {"autoStartDefaultKernel": True, "windowingMode": "none"})
    write_json(settings / "extensionmanager-extension" / "plugin.jupyterlab-settings",
               {"enabled": False})
    write_json(settings / "docmanager-extension" / "plugin.jupyterlab-settings",
               {"autosave": False})
    return env


class Server:
    """A server process in its own process group, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path, log: Path,
                 port: int, ready_path: str, any_status: bool = False) -> None:
        self.name, self.port, self.log = name, port, log
        self.base = f"http://127.0.0.1:{port}"
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(args, env=env, cwd=cwd, stdout=self._log_file,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_until_ready(ready_path, any_status)
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self, path: str, any_status: bool) -> None:
        """Until `path` answers 200 (or anything, with `any_status`)."""
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n"
                                   + self.log_tail())
            try:
                with urllib.request.urlopen(self.base + path, timeout=5) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as error:
                if any_status and error.code < 500:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.25)
        raise TimeoutError(f"{self.name} did not answer within {SERVER_START_S} s:\n"
                           + self.log_tail())

    def log_tail(self, lines: int = 40) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the whole group (server and kernels), SIGKILL if it lingers."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                pass
        try:  # kernels left behind in the group, if any
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait(timeout=15)
        self._log_file.close()


def start_jupyter(home: Path, app: str = "lab") -> tuple[Server, str]:
    """JupyterLab (`app="lab"`) or Notebook 7 (`app="notebook"`) on a copy of the notebooks
    (outputs stripped; the repo's files never change)."""
    work = home / "work"
    for notebook in NOTEBOOKS:
        strip_outputs(notebook, work / "notebooks" / notebook.name)
    env = isolated_env(home / app)
    token, port = secrets.token_hex(16), free_port()
    args = [sys.executable, "-m", "jupyter", app, "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
            "--ServerApp.allow_root=True"]
    if app == "lab":
        args += ["--LabApp.news_url=None", "--LabApp.expose_app_in_browser=True",
                 "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    server = Server({"lab": "JupyterLab", "notebook": "Notebook 7"}[app], args, env, work,
                    home / f"{app}.log", port, f"/api/status?token={token}")
    return server, token


def restart_kernels(server: "Server", token: str) -> int:
    """Restart every kernel of the server through its REST API (as Kernel > Restart does)."""
    with urllib.request.urlopen(f"{server.base}/api/kernels?token={token}", timeout=30) as answer:
        kernels = json.load(answer)
    for kernel in kernels:
        request = urllib.request.Request(
            f"{server.base}/api/kernels/{kernel['id']}/restart?token={token}", method="POST",
            data=b"{}", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=120).close()
    return len(kernels)


def start_voila(home: Path, notebook: Path = APP_NOTEBOOK) -> Server:
    """The app as the README serves it (`voila app/experiment_app.ipynb`), on a free port."""
    env = isolated_env(home / "voila")
    port = free_port()
    args = [sys.executable, "-m", "voila", str(notebook.relative_to(ROOT)), "--no-browser",
            "--Voila.ip=127.0.0.1", f"--Voila.port={port}", "--Voila.port_retries=0"]
    # Not "/" (that would execute the notebook): a static path that answers 404 once it is up.
    return Server("Voila", args, env, ROOT, home / "voila.log", port, "/voila/static/ready",
                  any_status=True)


# ----------------------------------------------------------------------------- the page

def save_artifacts(page, name: str) -> Path:
    """A screenshot and the page's HTML under artifacts/browser/ (what the CI log names)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{stem}.png"), full_page=True, timeout=30_000)
    except Exception as error:  # a crashed page still gets its HTML saved, if it can
        (ARTIFACTS / f"{stem}.screenshot-error.txt").write_text(repr(error), encoding="utf-8")
    try:
        (ARTIFACTS / f"{stem}.html").write_text(page.content(), encoding="utf-8")
    except Exception as error:
        (ARTIFACTS / f"{stem}.html-error.txt").write_text(repr(error), encoding="utf-8")
    return ARTIFACTS
