"""Notebook 02 in Jupyter Notebook 7 (`jupyter notebook`): Run All, the panel's slider (by mouse), a quiz
answered wrong then right, and the answer still there after the kernel restarts."""

from __future__ import annotations

import pytest

from . import browser_support as support
from .lab_pages import LabNotebook, Panel, QuizCard, expected_verdict, keep_screenshot, page_problems

NOTEBOOK = "notebooks/02_overfitting_experiment.ipynb"


@pytest.fixture(scope="module")
def notebook7(chromium, notebook7_server):
    server, token = notebook7_server
    notebook = LabNotebook(chromium, server.base, token, NOTEBOOK, notebook7=True)
    notebook.run_all()
    yield notebook, server, token
    notebook.close()


def test_the_panel_trains_in_notebook_7(notebook7):
    notebook, _, _ = notebook7
    panel = Panel(notebook.page)
    panel.wait_visible()
    start = panel.values()
    before = panel.wait_result(start)
    panel.click_track("hidden size", 0.3)  # by mouse
    values = panel.values()
    assert values["hidden_size"] != start["hidden_size"]
    after = panel.wait_result(values, not_image=before.image)
    assert after.banner == expected_verdict(values)
    # By keyboard: the panel's controls keep their keys (Notebook 7 would take the arrow keys to
    # move between cells without the course's page script).
    panel.press("dropout", "ArrowRight", 2)
    by_keys = panel.values()
    assert by_keys["dropout"] == round(values["dropout"] + 0.1, 2)
    after_keys = panel.wait_result(by_keys, not_image=after.image)
    keep_screenshot(panel.root, "nb7-panel")
    assert after_keys.banner == expected_verdict(by_keys)
    assert page_problems(notebook.page) == []


def test_a_quiz_answer_survives_a_kernel_restart_in_notebook_7(notebook7):
    from quizzes.questions import get_question

    notebook, server, token = notebook7
    question = get_question("t8")
    card = QuizCard(notebook.page, "t8")
    card.root.scroll_into_view_if_needed()
    wrong = next(letter for letter in question.options if letter != question.answer)
    card.choose(wrong)
    card.check()
    card.choose(question.answer)
    card.check()
    card.feedback().filter(has_text="Correct (attempt 2)").wait_for()
    keep_screenshot(card.root, "nb7-quiz-right")

    assert support.restart_kernels(server, token) >= 1
    notebook.page.reload()
    notebook.wait_kernel_idle(support.KERNEL_START_S)
    notebook.run_all()
    again = QuizCard(notebook.page, "t8")
    again.root.scroll_into_view_if_needed()
    again.feedback().filter(has_text="kept in your progress file").wait_for()
    assert "Correct (attempt 2)" in again.feedback().inner_text()
    keep_screenshot(again.root, "nb7-quiz-after-restart")
