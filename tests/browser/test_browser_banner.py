"""The panel's verdict banner and curves as Chromium draws them, without a server: the banner's
fixed height holds the longest verdict it can show at the curves' width (never a clipped line),
in both themes and both font sizes it is shown at; the 7th run of an overlay reads on a dark page."""

from __future__ import annotations

import dataclasses
import re

import pytest

from .lab_pages import keep_screenshot

THEMES = {  # JupyterLab's variables, light and dark
    "light": "--jp-ui-font-color1:rgba(0,0,0,0.87);--jp-layout-color2:#eeeeee;background:#fff",
    "dark": "--jp-ui-font-color1:rgba(255,255,255,0.87);--jp-layout-color2:#424242;"
            "background:#111",
}


def longest_banner() -> str:
    from rnn_lesson.lessons.overfitting import BASELINE, ES_ONLY, TASK, missing_fixes, panel
    from rnn_lesson.ui.widgets import banner_html

    start = panel(ES_ONLY, auto_run=False)
    verdict = dataclasses.replace(TASK.check((1.0, 0.779)),
                                  hint=TASK.hint_stopped_early.format(epoch=60, train=1.0))
    return banner_html(verdict, missing=missing_fixes(BASELINE.model, BASELINE.train),
                       height=start.banner_height)


@pytest.mark.parametrize("font_px", [13, 14])
@pytest.mark.parametrize("theme", list(THEMES))
def test_the_banner_never_clips_its_longest_verdict(chromium, theme, font_px):
    page = chromium.new_page(viewport={"width": 900, "height": 400})
    try:
        page.set_content(f'<body style="{THEMES[theme]};font-family:sans-serif;'
                         f'font-size:{font_px}px"><div style="width:760px">{longest_banner()}'
                         "</div></body>")
        banner = page.locator(".rnn-lesson-verdict")
        scroll, client = banner.evaluate("e => [e.scrollHeight, e.clientHeight]")
        keep_screenshot(banner, f"banner-{theme}-{font_px}px")
        assert scroll <= client, f"the banner clips its text: {scroll} px of text in {client} px"
    finally:
        page.close()


def test_every_run_of_an_overlay_reads_on_a_dark_page(chromium):
    from rnn_lesson.ui.svg import RUN_COLORS, curves_svg
    from rnn_lesson.training import History, Metrics
    from rnn_lesson.lessons.overfitting import FIX

    runs = [(History(FIX.model, dataclasses.replace(FIX.train, seed=i), [0.5, 0.4], [0.9, 0.9],
                     [0.5, 0.4], [0.8, 0.85], final=Metrics(0.4, 0.9, 0.4, 0.85, 0.4, 0.85)),
             f"run {i}") for i in range(len(RUN_COLORS))]
    page = chromium.new_page(viewport={"width": 900, "height": 400})
    try:
        page.set_content(f'<body style="{THEMES["dark"]}">{curves_svg(runs)}</body>')
        strokes = page.evaluate("() => [...document.querySelectorAll('polyline')]"
                                ".map(p => getComputedStyle(p).stroke)")
        for stroke in strokes:
            red, green, blue = (float(v) for v in re.findall(r"[\d.]+", stroke)[:3])
            assert max(red, green, blue) >= 80, f"a curve the dark page hides: {stroke}"
    finally:
        page.close()
