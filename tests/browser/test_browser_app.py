"""The Voila app (app/experiment_app.ipynb): a page with no code, where the sliders retrain the
model and the curves, the caption and the verdict follow."""

from __future__ import annotations

import re

import pytest

from .lab_pages import MS, Panel, keep_screenshot


@pytest.fixture(scope="module")
def app_page(chromium, voila_server):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120 * MS)
    page.goto(voila_server.base + "/", timeout=300 * MS)  # Voila runs the notebook first
    yield page
    context.close()


def test_app_shows_the_experiment_without_code(app_page):
    panel = Panel(app_page)
    panel.wait_visible(300)
    start = panel.values()
    assert (start["dropout"], start["hidden_size"]) == (0.0, 128)  # the overfitting baseline
    baseline = panel.wait_result(start)  # the app's first run, in the background
    keep_screenshot(app_page, "voila-baseline")
    text = app_page.locator("body").inner_text()
    assert app_page.locator(".jp-CodeCell .jp-InputArea, .jp-InputArea-editor, .cm-editor").count() == 0
    assert "ExperimentPanel(" not in text and "from rnn_lesson" not in text, "code on the page"
    assert app_page.get_by_role("button", name="Show hint 1").count() == 1

    panel.press("dropout", "ArrowRight", 4)
    panel.press("hidden size", "ArrowLeft", 3)
    values = panel.values()
    assert (values["dropout"], values["hidden_size"]) == (0.2, 16)
    moved = panel.wait_result(values, not_image=baseline.image)
    keep_screenshot(app_page, "voila-after-moves")
    assert moved.caption == panel.expected_caption(values)
    assert moved.banner != baseline.banner
    text = app_page.locator("body").inner_text()
    assert not re.search(r"Traceback|There was an error|Error\b", text), text[:3000]
