"""Notebook 02 in JupyterLab, as a learner uses it: Run All, then the panel's sliders and Train
button, rapid slider moves, and a quiz question answered wrong, then right."""

from __future__ import annotations

import re

import pytest

from .lab_pages import (Panel, QuizCard, expected_verdict, keep_screenshot, normalize,
                       page_problems)

NOTEBOOK = "notebooks/02_overfitting_experiment.ipynb"
DROPOUTS = [round(0.05 * i, 2) for i in range(15)]  # the slider: 0 to 0.7, step 0.05


@pytest.fixture(scope="module")
def experiment(lab_notebook):
    notebook = lab_notebook(NOTEBOOK)
    panel = Panel(notebook.page)
    panel.wait_visible()
    panel.start_banner_log()
    return notebook, panel


def moved(options: list, value, key: str, times: int = 1):
    """Where key presses take a slider (one step each; it stops at its ends)."""
    index = options.index(value) + {"ArrowRight": 1, "ArrowLeft": -1}[key] * times
    return options[min(max(index, 0), len(options) - 1)]


def test_sliders_and_train_button(experiment):
    from rnn_lesson.ui.widgets import HIDDEN_SIZES

    notebook, panel = experiment
    start = panel.values()
    before = panel.wait_result(start)  # the notebook's baseline run
    assert before.caption == panel.expected_caption(start)

    panel.press("dropout", "ArrowRight", 6)
    panel.press("hidden size", "ArrowLeft", 2)
    values = panel.values()
    assert values["dropout"] == moved(DROPOUTS, start["dropout"], "ArrowRight", 6)
    assert values["hidden_size"] == moved(list(HIDDEN_SIZES), start["hidden_size"], "ArrowLeft", 2)
    after_moves = panel.wait_result(values, not_image=before.image)
    assert after_moves.banner != before.banner, "the verdict did not change with the settings"

    # Train retrains the same settings from scratch: the banner says "Training...", then the
    # same verdict (a seed makes a run reproducible).
    mark = len(panel.banner_log())
    panel.train_button().click()
    panel.wait_banner_logged(r"^Training\.\.\.", after=mark)
    after_train = panel.wait_result(values)
    keep_screenshot(panel.root, "lab-panel-after-train")
    assert after_train.banner == after_moves.banner
    assert after_train.caption == panel.expected_caption(values)
    assert page_problems(notebook.page) == []
    assert after_moves.banner == expected_verdict(values), "the verdict is not that of the settings"


def test_twenty_rapid_slider_moves(experiment):
    from rnn_lesson.ui.widgets import HIDDEN_SIZES

    notebook, panel = experiment
    start = panel.values()
    before = panel.wait_result(start)
    moves = ([("dropout", "ArrowRight")] * 5 + [("hidden size", "ArrowLeft")] * 3
             + [("dropout", "ArrowLeft")] * 7 + [("hidden size", "ArrowRight")]
             + [("dropout", "ArrowRight")] * 4)
    assert len(moves) == 20
    dropout, hidden = start["dropout"], start["hidden_size"]
    for slider, key in moves:  # as fast as the keyboard goes: each press starts a run
        panel.press(slider, key)
        if slider == "dropout":
            dropout = moved(DROPOUTS, dropout, key)
        else:
            hidden = moved(list(HIDDEN_SIZES), hidden, key)
    values = panel.values()
    assert (values["dropout"], values["hidden_size"]) == (dropout, hidden)
    assert values != start  # else the plot would not change
    final = panel.wait_result(values, not_image=before.image)
    keep_screenshot(panel.root, "lab-panel-after-20-moves")
    assert final.caption == panel.expected_caption(values)  # the plot is of the last value
    assert page_problems(notebook.page) == []
    assert final.banner == expected_verdict(values)


def test_quiz_wrong_then_right(experiment):
    from quizzes.questions import get_question
    from quizzes.widgets import QuestionCard

    notebook, _ = experiment
    question = get_question("t8")
    wrong = next(letter for letter in question.options if letter != question.answer)
    reference = QuestionCard(question)  # the texts the card must show, from its own code
    card = QuizCard(notebook.page, "t8")
    card.root.scroll_into_view_if_needed()

    from playwright.sync_api import expect

    card.choose(wrong)
    card.check()
    reference.select(wrong)
    reference.check()
    assert reference.feedback_text.startswith(f"Not yet: {wrong} is not the answer.")
    expect(card.feedback()).to_have_text(normalize(reference.feedback_text), use_inner_text=True)
    keep_screenshot(card.root, "lab-quiz-wrong")

    card.choose(question.answer)
    card.check()
    reference.select(question.answer)
    reference.check()
    assert reference.feedback_text.startswith(f"Correct (attempt 2): {question.answer}.")
    expect(card.feedback()).to_have_text(normalize(reference.feedback_text), use_inner_text=True)
    keep_screenshot(card.root, "lab-quiz-right")
    assert not re.search("Traceback", notebook.page.locator("body").inner_text())


def test_compare_two_runs_in_the_log(experiment):
    notebook, panel = experiment
    log = panel.root.locator(".rnn-lesson-run-log select")
    log.scroll_into_view_if_needed()
    labels = [text.strip() for text in log.locator("option").all_inner_texts()]
    assert len(labels) >= 2, f"the run log holds {labels}: every finished run should be a row"
    log.select_option(label=labels[:2])  # as Ctrl+click on two rows does
    comparison = panel.root.locator(".rnn-lesson-comparison svg")
    comparison.wait_for(timeout=60 * 1000)
    assert comparison.locator("polyline").count() == 4  # val loss and val accuracy of each run
    legend = comparison.inner_html()
    assert "#1:" in legend and "#2:" in legend
    keep_screenshot(panel.root.locator(".rnn-lesson-comparison"), "lab-run-log-comparison")
    assert page_problems(notebook.page) == []


def luminance(css_color: str) -> float:
    red, green, blue = (int(v) for v in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_the_panel_and_quiz_read_well_in_the_dark_theme(experiment):
    notebook, panel = experiment
    page = notebook.page
    change_theme(page, "JupyterLab Dark", light=False)
    try:
        banner = panel.root.locator(".rnn-lesson-verdict div").first
        background = banner.evaluate("e => getComputedStyle(e).backgroundColor")
        text = banner.evaluate("e => getComputedStyle(e).color")
        assert luminance(background) < 0.35 and luminance(text) > 0.6, (background, text)
        keep_screenshot(panel.root, "lab-panel-dark-theme")
        card = QuizCard(page, "t8")
        card.root.scroll_into_view_if_needed()
        keep_screenshot(card.root, "lab-quiz-dark-theme")
    finally:
        change_theme(page, "JupyterLab Light", light=True)


def change_theme(page, theme: str, light: bool) -> None:
    """Settings > Theme, through JupyterLab's own command (the server exposes the app)."""
    page.evaluate("theme => window.jupyterapp.commands.execute('apputils:change-theme', {theme})",
                  theme)
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{str(light).lower()}'"
                           " && !document.querySelector('#jupyterlab-splash')", timeout=60 * 1000)


def test_the_sliders_run_log_and_quiz_are_usable_without_a_mouse(experiment):
    """A screen reader hears each slider's name and shown value (the hidden-size slider's position
    is an index, so its value text says 128, not 4); the arrow keys move between a question's
    options instead of moving JupyterLab's cell selection."""
    from quizzes.questions import get_question

    notebook, panel = experiment
    page = notebook.page
    for description in ("dropout", "hidden size", "learning rate"):
        handle = panel.slider(description).locator(".noUi-handle")
        assert handle.get_attribute("aria-label") == description
        assert handle.get_attribute("aria-valuetext") == panel.readout(description)
    hidden = panel.slider("hidden size").locator(".noUi-handle")
    panel.press("hidden size", "ArrowLeft")
    page.wait_for_function(
        "([el, shown]) => el.getAttribute('aria-valuetext') === shown",
        arg=[hidden.element_handle(), panel.readout("hidden size")], timeout=10 * 1000)
    log = panel.root.locator(".rnn-lesson-run-log select")
    assert "compare" in (log.get_attribute("aria-label") or "")
    panel.wait_result(panel.values())  # the run that key press started

    question = get_question("t7")
    card = QuizCard(page, "t7")
    card.root.scroll_into_view_if_needed()
    letters = list(question.options)
    card.choose(letters[0])
    radios = card.root.locator(".widget-radio-box input[type=radio]")
    radios.nth(0).focus()
    active_cell = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.activeCellIndex")
    page.keyboard.press("ArrowDown")
    assert radios.nth(1).is_checked(), "ArrowDown did not move to the next option"
    assert page.evaluate("() => window.jupyterapp.shell.currentWidget.content.activeCellIndex") \
        == active_cell, "ArrowDown moved JupyterLab's cell selection"
    # ipywidgets holds a value back while the kernel has not answered its last message, and a
    # button's click is not held: a person's next key comes later than a test's.
    page.wait_for_timeout(300)
    page.keyboard.press("Tab")  # Tab leaves the options for the Check button; Enter checks
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Check"
    page.keyboard.press("Enter")
    from quizzes import messages

    expected = (messages.correct(letters[1], question.options[letters[1]])
                if letters[1] == question.answer else messages.not_yet(letters[1]))
    card.feedback().filter(has_text=expected).wait_for(timeout=10 * 1000)
    keep_screenshot(card.root, "lab-quiz-by-keyboard")
    assert page_problems(page) == []
