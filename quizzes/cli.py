"""The quiz in a terminal.

    python -m quizzes                   the notebooks' ten questions (p1-p5, t6-t10)
    python -m quizzes --practice        the lesson's five practice questions
    python -m quizzes --ids p3,t6       some of them
    python -m quizzes --test [--seed N] [--phase pre|post]
                                        a test drawn fresh from a seed (random if not given);
                                        an unfinished test is taken up where it stopped
    python -m quizzes --test --seed N --json
                                        print that test as JSON and exit (nothing is saved)

Answers go to the progress file, as in the notebooks. ``run_quiz`` takes its input and output
streams as arguments so tests can drive it with ``io.StringIO``.

The test is drawn by ``rnn_lesson.lessons.mastery`` (it needs torch and the course's runs): this
command line is an entry point on top of both packages, the one place where ``quizzes`` reaches
into ``rnn_lesson``, and only for ``--test``.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Sequence, TextIO

from . import messages
from .progress import TEST_PHASES, Progress
from .questions import PRACTICE, QUESTIONS, Question, get_question
from .session import QuizSession

WIDTH = 78
MAX_SEED = 2**31 - 1


def _wrap(text: str, indent: str = "", hang: str | None = None) -> str:
    hang = indent if hang is None else hang
    return "\n".join(textwrap.fill(line, WIDTH, initial_indent=indent, subsequent_indent=hang)
                     for line in text.splitlines() or [""])


def format_question(question: Question, number: int, total: int) -> str:
    lines = [f"Question {number}/{total} [{question.difficulty}]", _wrap(question.prompt)]
    if question.figure_text:
        lines += ["", _wrap(question.figure_text, "  ")]
    if question.code:
        lines += ["", textwrap.indent(question.code, "    "), ""]
    lines += [_wrap(f"{letter}. {text}", "  ", "     ") for letter, text in question.options.items()]
    return "\n".join(lines)


HINT_KEY = "?"


def _ask(question: Question, stdin: TextIO, stdout: TextIO, echo: bool,
         on_hint=None) -> str | None:
    """Read a valid letter; None at end of input. Bad letters get a re-prompt. With `on_hint`
    (practice, not a test), "?" shows the question's hint first and calls `on_hint()`."""
    letters = tuple(question.options)
    ask_hint = f", {HINT_KEY} for a hint" if on_hint else ""
    prompt = f"Your answer ({'/'.join(letters)}{ask_hint}): "
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
        if on_hint and letter == HINT_KEY:
            stdout.write(_wrap(messages.hint(question.hint), "  ") + "\n")
            on_hint()
            continue
        stdout.write(f"Please answer with one of {', '.join(letters)}{ask_hint}.\n")


def run_quiz(
    questions: Sequence[Question],
    stdin: TextIO,
    stdout: TextIO,
    echo: bool = False,
    progress: Progress | None = None,
    phase: str | None = None,
    answered: dict[str, str] | None = None,
) -> QuizSession:
    """Ask each question, give feedback after each answer, then print the score.

    Practice answers (no `phase`) are recorded in `progress` as the notebooks' cards record them,
    and "?" shows a question's hint before answering; a test (`phase` "pre" or "post") records its
    answers and, once finished, its score, and reviews the missed items. `answered` (a test taken
    up again) holds the answers given before: those questions are not asked again. Stops early,
    without a traceback, if the input ends; check ``session.finished``.
    """
    session = QuizSession(tuple(questions))
    total = len(questions)
    for question in questions:
        letter = (answered or {}).get(question.id)
        if letter in question.options:
            session.answer(question.id, letter)
    if session.answers:
        stdout.write(f"\nTaken up where you stopped: {len(session.answers)} of {total} answered "
                     "before.\n")
    for number, question in enumerate(questions, 1):
        if question.id in session.answers:
            continue
        stdout.write("\n" + format_question(question, number, total) + "\n")
        on_hint = None
        if phase is None and progress is not None:
            on_hint = lambda qid=question.id: progress.record_hint(qid)  # noqa: E731
        elif phase is None:
            on_hint = lambda: None  # noqa: E731
        letter = _ask(question, stdin, stdout, echo, on_hint)
        if letter is None:
            stdout.write(
                f"Input ended after {len(session.answers)} of {total} questions; stopping.\n"
            )
            break
        result = session.answer(question.id, letter)
        if progress is not None:
            if phase is None:
                progress.record_answer(question.id, result.chosen, result.correct)
            else:
                progress.record_test_answer(phase, question.id, result.chosen)
        if phase is not None:
            continue  # a test is reviewed at the end, not after each answer
        if result.correct:
            stdout.write(messages.correct(result.answer, result.answer_text) + "\n")
            if question.common_mistakes:  # what the others stand for, as the notebooks show
                stdout.write(f"  {messages.LESSON_MISTAKES}\n" + "".join(
                    _wrap(mistake, "    - ", "      ") + "\n" for mistake in question.common_mistakes))
        else:
            stdout.write(f"{messages.not_yet(result.chosen)} "
                         f"{messages.reveal(result.answer, result.answer_text)}\n")
            stdout.write(_wrap(messages.mistake(result.mistake), "  ") + "\n")
            stdout.write(_wrap(messages.hint(result.hint), "  ") + "\n")
        stdout.write(_wrap(result.explanation, "  ") + "\n")
    stdout.write(f"\nScore: {session.summary()}\n")
    if phase is not None and session.finished:
        if progress is not None:
            progress.record_test_score(phase, session.score, total, session.score_by_difficulty())
        for question, result in zip(session.questions, session.results()):
            if not result.correct:
                stdout.write(f"\n{question.id} ({question.difficulty}): your answer {result.chosen}. "
                             f"{messages.mistake(result.mistake)}\n")
                stdout.write(_wrap(f"{messages.reveal(question.answer, question.answer_text)} "
                                   f"{question.explanation}", "  ") + "\n")
                if question.section is not None:
                    stdout.write(f"  {messages.taught_in(question.section.label)}\n")
    if progress is not None and progress.problem:
        stdout.write(_wrap(f"{progress.problem} {messages.TERMINAL_UNSAVED}") + "\n")
    return session


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed is a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is between 0 and {MAX_SEED}, got {value}")
    return value


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
    group.add_argument("--test", action="store_true",
                       help="a test of ten items drawn fresh from a seed (3 easy, 4 medium, 3 hard)")
    parser.add_argument("--seed", type=_seed, help="the test's seed (default: a new random one)")
    parser.add_argument("--phase", choices=TEST_PHASES,
                        help="save the test as the pre- or post-test (default: the pre-test "
                        "until it is scored, then the post-test)")
    parser.add_argument("--json", action="store_true",
                        help="print the test as JSON (id, difficulty, prompt, options, answer, "
                        "section) and exit; needs --test and --seed")
    args = parser.parse_args(argv)
    stdout = sys.stdout if stdout is None else stdout
    if (args.seed is not None or args.phase or args.json) and not args.test:
        parser.error("--seed, --phase and --json go with --test")
    if args.json and args.seed is None:
        parser.error("--json needs --seed N: a test printed as JSON must be reproducible")

    progress = Progress()
    phase, answered = None, {}
    if args.test:
        from rnn_lesson.lessons import mastery  # the test needs torch and the course's runs

        if args.json:
            stdout.write(json.dumps(mastery.as_json(mastery.draw(args.seed, pictures=False)),
                                    indent=1) + "\n")
            return 0
        phase = args.phase or ("post" if (progress.test("pre") or {}).get("score") else "pre")
        seed = args.seed
        saved = progress.test(phase)
        other = progress.test("post" if phase == "pre" else "pre")
        other_seed = None if other is None else other["seed"]
        if saved is not None and "score" not in saved and seed in (None, saved["seed"]):
            seed, answered = saved["seed"], saved["answers"]  # an unfinished test: take it up
        else:
            if seed is not None and other_seed is not None and mastery.shares_items(seed, other_seed):
                parser.error(f"the test of seed {seed} asks items of your "
                             f"{messages.PHASES['pre' if phase == 'post' else 'post']} (seed "
                             f"{other_seed}): choose another seed, or leave --seed out for a "
                             "fresh one")
            if seed is None:
                seed = _fresh_seed(mastery, other_seed)
            answered = {}
            progress.start_test(phase, seed)
        questions = mastery.draw(seed, pictures=False)
    elif args.ids is not None:
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

    stdin = sys.stdin if stdin is None else stdin
    if stdin is None:  # started with stdin closed
        stdout.write("No input to read answers from; run it in a terminal.\n")
        return 1
    if hasattr(stdin, "reconfigure"):  # bytes that are not text become "?" and get a re-prompt
        stdin.reconfigure(errors="replace")
    interactive = hasattr(stdin, "isatty") and stdin.isatty()
    title = (f"The {messages.PHASES[phase]} (seed {seed}): {len(questions)} questions" if phase
             else "Practice: 5 questions" if args.practice else f"{len(questions)} questions")
    stdout.write(f"nn.RNN quiz. {title}. Answer with a letter and press Enter.\n")
    try:
        session = run_quiz(questions, stdin, stdout, echo=not interactive, progress=progress,
                           phase=phase, answered=answered if phase else None)
    except KeyboardInterrupt:
        stdout.write("\nStopped; your answers so far are saved.\n")
        return 130
    return 0 if session.finished else 1


def _fresh_seed(mastery, other: int | None) -> int:
    import secrets

    while True:
        seed = secrets.randbelow(MAX_SEED)
        if other is None or not mastery.shares_items(seed, other):
            return seed
