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
    """The right answer, once it may be shown (the terminal quiz, the test's review): a sentence
    of its own, so that an explanation after it does not run on."""
    end = "" if answer_text.rstrip().endswith((".", "!", "?")) else "."
    return f"Answer: {answer}. {answer_text}{end}"


def saved(date: str) -> str:
    """Under an answer restored from the progress file."""
    return f"(Your answer from {date.replace('T', ' ')}, kept in your progress file.)"


MISTAKE = "Common mistake:"
# The terminal quiz ends with its process: what it could not save is not kept in memory either.
TERMINAL_UNSAVED = ("This terminal quiz ends now, so the answers it could not save are lost: "
                    "fix the progress file's path and take it again.")


def mistake(text: str | None) -> str:
    """After a wrong answer: the classic mistake the chosen option stands for."""
    return f"{MISTAKE} {text or ''}"


def taught_in(label: str) -> str:
    return f"Taught in {label}."


SHOW_HINT = "Show the hint"
HINT_SHOWN = "Hint shown"
LESSON_MISTAKES = "Common mistakes:"

PHASES = {"pre": "pre-test", "post": "post-test"}


def test_intro(phase: str) -> str:
    if phase == "pre":
        return ("The pre-test: ten questions drawn fresh for you (3 easy, 4 medium, 3 hard), to "
                "take before the course. It shows what you know already; the post-test at the end "
                "measures what you learned, with other questions of the same kinds.")
    return ("The post-test: ten new questions of the same kinds as the pre-test (none of them "
            "repeated), to take after the course. Your progress shows both scores and the gain.")


def start_test(phase: str) -> str:
    return f"Start the {PHASES[phase]}"


def new_test(phase: str) -> str:
    return f"Take a new {PHASES[phase]}"


def static_note(what: str) -> str:
    """Under a widget's static copy (GitHub, nbviewer, HTML export, before the kernel runs)."""
    return (f"This is a static copy of {what}. Run the notebook in Jupyter to use it; "
            "your answers are kept in your progress file.")

SAVE_PREDICTION = "Save my prediction, then show the answer"
SKIP_PREDICTION = "Show the answer without predicting"
PREDICT_ALL = "Answer every question first: the point is to commit before you see."
YOU_PREDICTED = "You predicted:"
