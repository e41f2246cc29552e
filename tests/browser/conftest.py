"""Fixtures for the real-browser tests: Chromium, a JupyterLab server, a Voila server.

Without /usr/bin/chromium or the playwright package they are skipped with the reason, unless the
environment variable CI is set: then they fail, so CI can never skip them silently.
On a failure, a screenshot and the HTML of every open page (and the server logs) are saved under
artifacts/browser/, and the failure report names that folder.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from . import browser_support as support
from .lab_pages import LabNotebook

_state: dict = {"browser": None, "servers": [], "failed": False}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "browser: drives Chromium through Playwright (slow)")


def pytest_collection_modifyitems(config, items) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call") and _state["browser"] is not None:
        _state["failed"] = True
        saved = save_failure_artifacts(item.name)
        report.sections.append(("browser artifacts",
                                f"screenshots and page HTML of the failure: {saved}"))


def save_failure_artifacts(test_name: str) -> str:
    """Every open page of the browser, and the server logs so far."""
    stamp = time.strftime("%H%M%S")
    count = 0
    for context in _state["browser"].contexts:
        for page in context.pages:
            count += 1
            support.save_artifacts(page, f"{test_name}-{stamp}-page{count}")
    for server in _state["servers"]:
        if server.log.exists():
            support.ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(server.log, support.ARTIFACTS / f"{test_name}-{stamp}-{server.log.name}")
    return f"{support.ARTIFACTS}/{test_name}-{stamp}-* ({count} pages)"


@pytest.fixture(scope="package")
def chromium():
    reason = support.missing_requirement()
    if reason:
        if in_ci():
            pytest.fail(f"browser tests cannot run, and CI is set: {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = support.launch_chromium(playwright)
        _state["browser"] = browser
        try:
            yield browser
        finally:
            _state["browser"] = None
            browser.close()


def _serving(tmp_path_factory, app: str):
    """A Jupyter server on copies of the notebooks; stopped (process group) also on failure."""
    server, token = support.start_jupyter(tmp_path_factory.mktemp(app), app)
    _state["servers"].append(server)
    try:
        yield server, token
    finally:
        server.stop()
        _state["servers"].remove(server)


@pytest.fixture(scope="package")
def lab_server(chromium, tmp_path_factory):
    yield from _serving(tmp_path_factory, "lab")


@pytest.fixture(scope="package")
def lab_notebook(chromium, lab_server):
    """lab_notebook("notebooks/x.ipynb") -> the notebook open in its own page, after Run All.

    One page per notebook for the session: notebook 02's page (its Run All trains ~30 s) serves
    the panel, quiz and no-error tests."""
    server, token = lab_server
    opened: dict[str, LabNotebook] = {}

    def get(path: str) -> LabNotebook:
        if path not in opened:
            opened[path] = LabNotebook(chromium, server.base, token, path)
            opened[path].run_all()  # kept open if this fails: its screenshot is saved
        if not opened[path].ran_all:
            pytest.fail(f"Run All of {path} failed in an earlier test")
        return opened[path]

    yield get
    for notebook in opened.values():
        notebook.close()


@pytest.fixture(scope="module")
def voila_server(chromium, tmp_path_factory):
    server = support.start_voila(tmp_path_factory.mktemp("voila"))
    _state["servers"].append(server)
    try:
        yield server
    finally:
        server.stop()
        _state["servers"].remove(server)


@pytest.fixture(scope="package")
def notebook7_server(chromium, tmp_path_factory):
    yield from _serving(tmp_path_factory, "notebook")
