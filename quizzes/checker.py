"""Checking answers: ``check()`` and the ``CheckResult`` it returns.

Shared by the notebook widgets and the terminal quiz, so both give the same
feedback for the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import messages
from .questions import LETTERS, Question, get_question


@dataclass(frozen=True)
class CheckResult:
    """The outcome of answering one question."""

    question_id: str
    chosen: str  # the normalised letter that was given
    correct: bool
    answer: str  # the correct letter
    answer_text: str  # the correct option's text
    explanation: str
    hint: str | None  # aimed at the chosen option; None when correct
    mistake: str | None = None  # the common mistake the chosen option stands for; None when correct

    @property
    def feedback(self) -> str:
        """Plain-text feedback: verdict, then the mistake, the hint and the explanation."""
        if self.correct:
            return f"{messages.correct(self.answer, self.answer_text)}\n{self.explanation}"
        return (
            f"{messages.not_yet(self.chosen)}\n{messages.mistake(self.mistake)}\n"
            f"{messages.hint(self.hint)}\n{messages.reveal(self.answer, self.answer_text)}\n"
            f"{self.explanation}"
        )


def normalize_letter(answer: str, question: Question | None = None) -> str:
    """'  c ' -> 'C'; ``ValueError`` naming the valid letters if it is not an option."""
    letters = tuple(question.options) if question else LETTERS
    letter = answer.strip().upper() if isinstance(answer, str) else answer
    if letter not in letters:
        raise ValueError(
            f"answer {answer!r} is not an option; valid letters: {', '.join(letters)}"
        )
    return letter


def check(question: Question | str, answer: str) -> CheckResult:
    """Check ``answer`` (a letter, case and surrounding spaces ignored) for a question, given as
    a ``Question`` or the id of one of the notebooks' questions.

    Raises ``ValueError`` for an unknown question id or a letter that is not an option.
    """
    if not isinstance(question, Question):
        question = get_question(question)
    letter = normalize_letter(answer, question)
    correct = letter == question.answer
    # The general hint (question.hint) is for before answering; after a wrong
    # answer, say what is off about that particular choice, and which mistake it is.
    return CheckResult(
        question_id=question.id,
        chosen=letter,
        correct=correct,
        answer=question.answer,
        answer_text=question.answer_text,
        explanation=question.explanation,
        hint=None if correct else question.wrong_option_hints[letter],
        mistake=None if correct else question.mistakes[letter],
    )
