"""Every notebook, opened in JupyterLab and run with Run > Run All Cells: every cell runs, and
no error output (nor any other stderr output, nor a Log Console entry) is on the page."""

from __future__ import annotations

import pytest

from .browser_support import NOTEBOOKS
from .lab_pages import keep_screenshot, page_problems


@pytest.mark.parametrize("name", [path.name for path in NOTEBOOKS])
def test_run_all_shows_no_error(lab_notebook, name):
    notebook = lab_notebook(f"notebooks/{name}")
    keep_screenshot(notebook.page, f"lab-run-all-{name}")
    not_run = notebook.cells_not_run()
    problems = page_problems(notebook.page)
    assert problems == [], f"{name} after Run All:\n" + "\n\n".join(problems)
    assert not_run == [], f"{name}: code cells {not_run} did not run"
