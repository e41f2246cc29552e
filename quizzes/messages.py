"""Every piece of quiz feedback wording, in one place: the widgets, the terminal quiz and the
checker all build their feedback from these functions, so they never disagree."""

from __future__ import annotations


def correct(answer: str, answer_text: str, attempt: int = 1) -> str:
    """'Correct: B. (2, 4, 20)', or 'Correct (attempt 2): ...' after wrong tries."""
    tries = "" if attempt == 1 else f" (attempt {attempt})"
    return f"Correct{tries}: {answer}. {answer_text}"


def not_yet(chosen: str) -> str:
    return f"Not yet: {chosen} is not the answer."


TRY_AGAIN = "Try again."
HINT = "Hint:"


def hint(text: str | None) -> str:
    return f"{HINT} {text or ''}"


def reveal(answer: str, answer_text: str) -> str:
    """The right answer, once it may be shown (the terminal quiz, the test's review)."""
    return f"Answer: {answer}. {answer_text}"


def saved(date: str) -> str:
    """Under an answer restored from the progress file."""
    return f"(Your answer from {date.replace('T', ' ')}, kept in your progress file.)"
