"""Quizzes for the nn.RNN course: question data, answer checking, notebook widgets.

    >>> import quizzes
    >>> quizzes.check("p3", " d ").correct
    True

In a notebook, ``quizzes.show("p3")`` renders one question and
``quizzes.show_progress()`` the learner's progress; ``python -m quizzes`` runs
the notebooks' questions in a terminal, and ``python -m quizzes --test`` a test
drawn from a seed (``rnn_lesson.lessons.mastery``, which notebook 05 shows as
the pre- and post-test). Only the widgets need ipywidgets, imported on first
use; only the generated items (``quizzes.items``) need torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .checker import CheckResult, check
from .questions import COURSE, PRACTICE, QUESTIONS, Question, get_question, question_ids
from .session import QuizSession

if TYPE_CHECKING:
    from .widgets import ProgressCard, QuestionCard

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
]


def show(question_id: str) -> "QuestionCard":
    """Render one question in a notebook: prompt, code, options, Check button, feedback."""
    from .widgets import show as _show  # keeps ipywidgets out of plain imports

    return _show(question_id)


def show_progress() -> "ProgressCard":
    """Everything the learner has done so far (saved across kernels), with a reset button."""
    from .widgets import show_progress as _show_progress

    return _show_progress()
