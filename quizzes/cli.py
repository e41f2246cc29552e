"""The quiz in a terminal: ``python -m quizzes`` (all ten) or ``--practice`` (the five).

``run_quiz`` takes its input and output streams as arguments so tests can drive it
with ``io.StringIO``.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Sequence, TextIO

from . import messages
from .questions import PRACTICE, QUESTIONS, Question, get_question
from .session import QuizSession

WIDTH = 78


def _wrap(text: str, indent: str = "", hang: str | None = None) -> str:
    hang = indent if hang is None else hang
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=hang)


def format_question(question: Question, number: int, total: int) -> str:
    lines = [f"Question {number}/{total} [{question.difficulty}]", _wrap(question.prompt)]
    if question.code:
        lines += ["", textwrap.indent(question.code, "    "), ""]
    lines += [_wrap(f"{letter}. {text}", "  ", "     ") for letter, text in question.options.items()]
    return "\n".join(lines)


def _ask(question: Question, stdin: TextIO, stdout: TextIO, echo: bool) -> str | None:
    """Read a valid letter; None at end of input. Bad letters get a re-prompt."""
    letters = tuple(question.options)
    prompt = f"Your answer ({'/'.join(letters)}): "
    while True:
        stdout.write(prompt)
        stdout.flush()
        line = stdin.readline()
        if line == "":  # EOF: no more answers are coming
            stdout.write("\n")
            return None
        if echo:  # piped input is not shown by the terminal, so show it
            stdout.write(line if line.endswith("\n") else line + "\n")
        letter = line.strip().upper()
        if letter in letters:
            return letter
        stdout.write(f"Please answer with one of {', '.join(letters)}.\n")


def run_quiz(
    questions: Sequence[Question],
    stdin: TextIO,
    stdout: TextIO,
    echo: bool = False,
) -> QuizSession:
    """Ask each question, give feedback after each answer, then print the score.

    Stops early, without a traceback, if the input ends; check ``session.finished``.
    """
    session = QuizSession(tuple(questions))
    total = len(questions)
    for number, question in enumerate(questions, 1):
        stdout.write("\n" + format_question(question, number, total) + "\n")
        letter = _ask(question, stdin, stdout, echo)
        if letter is None:
            stdout.write(
                f"Input ended after {len(session.answers)} of {total} questions; stopping.\n"
            )
            break
        result = session.answer(question.id, letter)
        if result.correct:
            stdout.write(messages.correct(result.answer, result.answer_text) + "\n")
        else:
            stdout.write(f"{messages.not_yet(result.chosen)} "
                         f"{messages.reveal(result.answer, result.answer_text)}\n")
            stdout.write(_wrap(messages.hint(result.hint), "  ") + "\n")
        stdout.write(_wrap(result.explanation, "  ") + "\n")
    stdout.write(f"\nScore: {session.summary()}\n")
    return session


def main(
    argv: Sequence[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Entry point of ``python -m quizzes``; returns the exit status (1 if input ran out)."""
    parser = argparse.ArgumentParser(
        prog="python -m quizzes",
        description="Quiz yourself on PyTorch's nn.RNN in the terminal.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--practice", action="store_true", help="only the lesson's five practice questions"
    )
    group.add_argument("--ids", help="comma-separated question ids, e.g. p3,t6")
    args = parser.parse_args(argv)
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    if stdin is None:  # started with stdin closed
        stdout.write("No input to read answers from; run it in a terminal.\n")
        return 1

    if args.ids is not None:
        ids = [i.strip() for i in args.ids.split(",") if i.strip()]
        if not ids:
            parser.error("--ids needs at least one question id, e.g. --ids p3,t6")
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            parser.error(f"--ids names {', '.join(duplicates)} more than once: each question "
                         "is asked once")
        try:
            questions = tuple(get_question(i) for i in ids)
        except ValueError as error:
            parser.error(str(error))
    else:
        questions = PRACTICE if args.practice else QUESTIONS

    if hasattr(stdin, "reconfigure"):  # bytes that are not text become "?" and get a re-prompt
        stdin.reconfigure(errors="replace")
    interactive = hasattr(stdin, "isatty") and stdin.isatty()
    title = "Practice: 5 questions" if args.practice else f"Test: {len(questions)} questions"
    stdout.write(f"nn.RNN quiz. {title}. Answer with a letter and press Enter.\n")
    try:
        session = run_quiz(questions, stdin, stdout, echo=not interactive)
    except KeyboardInterrupt:
        stdout.write("\nStopped.\n")
        return 130
    return 0 if session.finished else 1
