"""Quizzes for the nn.RNN course: question data, answer checking, notebook widgets.

    >>> import quizzes
    >>> quizzes.check("p3", " d ").correct
    True

In a notebook, ``quizzes.show("p3")`` renders one question and
``quizzes.show_test()`` the ten-question test; ``python -m quizzes`` runs the
quiz in a terminal. Only the widgets need ipywidgets, imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .checker import CheckResult, check
from .questions import COURSE, PRACTICE, QUESTIONS, Question, get_question, question_ids
from .session import QuizSession

if TYPE_CHECKING:
    from .widgets import ProgressCard, QuestionCard, TestCard

__all__ = [
    "COURSE",
    "PRACTICE",
    "QUESTIONS",
    "CheckResult",
    "Question",
    "QuizSession",
    "check",
    "get_question",
    "question_ids",
    "show",
    "show_progress",
    "show_test",
]


def show(question_id: str) -> "QuestionCard":
    """Render one question in a notebook: prompt, code, options, Check button, feedback."""
    from .widgets import show as _show  # keeps ipywidgets out of plain imports

    return _show(question_id)


def show_progress() -> "ProgressCard":
    """Everything the learner has done so far (saved across kernels), with a reset button."""
    from .widgets import show_progress as _show_progress

    return _show_progress()


def show_test(question_ids: list[str] | None = None) -> "TestCard":
    """Render the ten-question test (or the given ids) in a notebook, scored at the end."""
    from .widgets import show_test as _show_test

    return _show_test(question_ids)
