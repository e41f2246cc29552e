"""The committed notebooks as a reader without a kernel sees them: nbconvert's HTML (what GitHub,
nbviewer and an HTML export show) opened in Chromium, in the light and the dark theme. Every
picture loads, every answer is collapsed until its summary is clicked, and no widget's raw text
("VBox(...)", "interactive widget") is on the page."""

from __future__ import annotations

import pytest

from .browser_support import APP_NOTEBOOK, NOTEBOOKS
from .lab_pages import MS, keep_screenshot

RAW_WIDGET_TEXT = ("VBox(", "HBox(", "IntProgress(", "interactive widget: run in Jupyter",
                   "Loading widget")


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("path", NOTEBOOKS + [APP_NOTEBOOK], ids=lambda p: p.name)
def test_a_saved_notebook_reads_without_a_kernel(chromium, tmp_path, path, theme):
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(theme=theme).from_notebook_node(nbformat.read(path, as_version=4))
    page_file = tmp_path / f"{path.stem}.html"
    page_file.write_text(body)
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    try:
        page.goto(page_file.as_uri(), timeout=60 * MS)
        text = page.locator("body").inner_text()
        for raw in RAW_WIDGET_TEXT:
            assert raw not in text, f"{path.name}: {raw!r} on the page"
        broken = page.evaluate("() => [...document.images].filter(i => !i.complete || "
                               "i.naturalWidth === 0).map(i => i.alt || i.src.slice(0, 60))")
        assert broken == [], f"{path.name}: pictures that do not load: {broken}"
        answers = page.locator("details", has=page.locator("summary", has_text="Answer"))
        if answers.count():
            first = answers.first
            assert first.evaluate("d => !d.open"), "an answer shows before it is asked for"
            first.scroll_into_view_if_needed()
            hidden = first.locator("b").first
            assert not hidden.is_visible()
            first.locator("summary").click()
            assert hidden.is_visible()
            keep_screenshot(first, f"static-{path.stem}-{theme}-answer")
        keep_screenshot(page, f"static-{path.stem}-{theme}")
    finally:
        context.close()
