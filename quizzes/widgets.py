"""Notebook rendering with core ipywidgets: one question, the pre- and post-test, the progress.

The button callbacks are ordinary methods (``select``, ``check``, ``start``, ``next`` ...), so
tests drive a card without a browser and read ``feedback_text``.

ipywidgets is imported when a card is built, not when ``quizzes`` is imported, so ``quizzes.check``
works without it.

A displayed card carries, beside the widget, a static copy of itself as text/html (the question,
its options and, collapsed, its answer): what GitHub, nbviewer, VS Code before running and
``nbconvert --to html`` show, where no kernel runs the widget (``course.py execute`` keeps only that
copy in the committed notebooks). Its text/plain is fixed, so saved outputs stay stable.
"""

from __future__ import annotations

import html
import secrets
from typing import Any, Callable

from . import messages
from .checker import CheckResult, check, normalize_letter
from .progress import TEST_PHASES, Progress
from .questions import Question, get_question
from .session import QuizSession, by_difficulty_text

# Colours come from JupyterLab's theme variables (with fallbacks elsewhere), so the
# cards read well in light and dark themes.
_BOX = (
    "border:1px solid var(--jp-border-color2,#ccc);border-radius:6px;"
    "padding:8px 12px;margin:4px 0;line-height:1.45;"
)
_TONES = {
    "right": "var(--jp-success-color1,#388e3c)",
    "wrong": "var(--jp-warn-color1,#f57c00)",
    "info": "var(--jp-info-color1,#0288d1)",
}
_MUTED = "color:var(--jp-ui-font-color2,#555)"
# Classes the course's keyboard script looks for (`keyboard_script`): radio groups answer to the
# arrow keys instead of moving JupyterLab to the next cell.
KEYBOARD_CLASS = "rnn-lesson-keyboard"


def _ipywidgets() -> Any:
    import ipywidgets  # lazy: only notebooks need it

    return ipywidgets


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _badge(text: str) -> str:
    return (
        "<span style='font-size:0.8em;padding:1px 6px;border-radius:8px;"
        "border:1px solid var(--jp-border-color1,#999);"
        f"color:var(--jp-ui-font-color2,#555)'>{_esc(text)}</span>"
    )


def _code_html(code: str | None) -> str:
    if not code:
        return ""
    return (
        "<pre style='background:var(--jp-cell-editor-background,#f5f5f5);"
        "border:1px solid var(--jp-cell-editor-border-color,#e0e0e0);"
        "border-radius:4px;padding:6px 10px;margin:6px 0;white-space:pre;overflow-x:auto;"
        "font-family:var(--jp-code-font-family,monospace);"
        f"font-size:var(--jp-code-font-size,13px)'>{_esc(code)}</pre>"
    )


def _figure_html(question: Question) -> str:
    if not question.figure_png:
        return ""
    text = question.figure_text or "a learning-curve picture"
    alt = html.escape(text.splitlines()[0], quote=True)  # the summary; the epochs follow as text
    table = ("" if "\n" not in text else
             f"<details><summary>The curves as numbers, epoch by epoch</summary>"
             f"{_code_html(text.split(chr(10), 1)[1])}</details>")
    return (f"<img alt=\"{alt}\" style='max-width:100%' "
            f"src='data:image/png;base64,{question.figure_png}'>" + table)


def _question_html(question: Question, heading: str) -> str:
    return (
        f"<div style='margin-bottom:4px'><b>{_esc(heading)}</b> {_badge(question.difficulty)}</div>"
        f"<div style='font-size:1.05em'>{_esc(question.prompt)}</div>"
        + _figure_html(question) + _code_html(question.code)
    )


def _tone_box(tone: str, body_html: str) -> str:
    return f"<div style='{_BOX}border-left:4px solid {_TONES[tone]}'>{body_html}</div>"


def _section_html(question: Question) -> str:
    s = question.section
    if s is None:
        return ""
    return (f"<div style='margin-top:4px'>Taught in <a href='{html.escape(s.link, quote=True)}'>"
            f"{_esc(s.label)}</a>.</div>")


def _options(question: Question) -> list[tuple[str, str]]:
    return [(f"{letter}. {text}", letter) for letter, text in question.options.items()]


def static_question_html(question: Question, heading: str) -> str:
    """A question as plain HTML: prompt, options and, collapsed, the answer (no widget needed)."""
    options = "".join(f"<li>{_esc(letter)}. {_esc(text)}</li>"
                      for letter, text in question.options.items())
    mistakes = "".join(f"<li>{_esc(m)}</li>" for m in question.common_mistakes)
    return _tone_box("info", (
        _question_html(question, heading)
        + f"<ul style='list-style:none;padding-left:0.5em'>{options}</ul>"
        + f"<details><summary>{_esc(messages.HINT)}</summary>{_esc(question.hint)}</details>"
        + f"<details><summary>Answer and explanation</summary>"
          f"<b>{_esc(messages.reveal(question.answer, question.answer_text))}</b>"
          f"<div>{_esc(question.explanation)}</div>"
          f"<div>{_esc(messages.LESSON_MISTAKES)}</div><ul>{mistakes}</ul>"
          f"{_section_html(question)}</details>"
        + f"<div style='{_MUTED};font-size:0.9em'>{_esc(messages.static_note('this question'))}</div>"))


class _Card:
    """Shared display plumbing: the widget, its static copy, and a fixed text/plain repr."""

    widget: Any
    _label = "quiz"

    def __repr__(self) -> str:
        return f"<{self._label} (interactive widget: run in Jupyter)>"

    def static_html(self) -> str:
        return ""

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        self.widget.add_class(KEYBOARD_CLASS)  # its keys reach its controls (see the script)
        data = self.widget._repr_mimebundle_(**kwargs)
        data["text/plain"] = repr(self)  # the widget's own repr varies with its state
        static = self.static_html()
        if static:
            data["text/html"] = static
        return data


class QuestionCard(_Card):
    """One question: prompt, code, radio buttons, Check and Hint buttons, and feedback."""

    def __init__(self, question: Question, progress: Progress | None = None) -> None:
        w = _ipywidgets()
        self.question = question
        self.progress = Progress() if progress is None else progress
        self._label = f"quizzes question {question.id}"
        self.attempts = 0
        self.result: CheckResult | None = None
        self.hint_shown = False
        self._message: tuple[str, str] | None = None  # (tone, plain text) for non-result notes
        self._saved_note = ""

        self.radio = w.RadioButtons(
            options=_options(question), value=None, layout=w.Layout(width="auto")
        )
        self.check_button = w.Button(description="Check", button_style="primary")
        self.check_button.on_click(lambda _button: self.check())
        self.hint_button = w.Button(description=messages.SHOW_HINT, icon="lightbulb-o",
                                    layout=w.Layout(width="auto"))
        self.hint_button.on_click(lambda _button: self.show_hint())
        self.hint_html = w.HTML(value="")
        self.feedback = w.HTML(value="")
        self.widget = w.VBox(
            [
                w.HTML(value=_question_html(question, f"Question {question.id}")),
                self.radio,
                w.HBox([self.check_button, self.hint_button]),
                self.hint_html,
                self.feedback,
            ],
            layout=w.Layout(
                border="1px solid var(--jp-border-color2, #ccc)",
                padding="6px 12px 10px 12px",
                margin="4px 0",
            ),
        )
        self._restore()

    def static_html(self) -> str:
        return static_question_html(self.question, f"Question {self.question.id}")

    def _restore(self) -> None:
        """Show the learner's last answer from the progress file, as it was graded."""
        saved = self.progress.answer(self.question.id)
        if saved and saved.get("answer") in self.question.options:
            self.radio.value = saved["answer"]
            self.attempts = saved["attempts"]
            self.result = check(self.question, saved["answer"])
            self._saved_note = messages.saved(str(saved.get("at", "")))
        if self.progress.problem:
            self._message = ("info", self.progress.problem)
        self.feedback.value = self._feedback_html()

    def select(self, letter: str) -> None:
        """Choose an option, as clicking its radio button does."""
        self.radio.value = normalize_letter(letter, self.question)

    def show_hint(self) -> str:
        """The Hint button: the question's hint (the lesson's, for its five), before answering."""
        if not self.hint_shown:
            self.hint_shown = True
            self.progress.record_hint(self.question.id)
        self.hint_button.disabled, self.hint_button.description = True, messages.HINT_SHOWN
        self.hint_html.value = _tone_box("info", f"<b>{_esc(messages.HINT)}</b> "
                                                 f"{_esc(self.question.hint)}")
        return self.question.hint

    def check(self) -> CheckResult | None:
        """The Check button: grade the selected option and update the feedback."""
        if self.radio.value is None:
            self.result = None
            self._message = ("info", "Choose an option, then press Check.")
        else:
            self.attempts += 1
            self.result = check(self.question, self.radio.value)
            self._saved_note = ""
            self.progress.record_answer(self.question.id, self.result.chosen, self.result.correct)
            self._message = ("info", self.progress.problem) if self.progress.problem else None
        self.feedback.value = self._feedback_html()
        return self.result

    @property
    def feedback_text(self) -> str:
        """The feedback as plain text, as shown under the buttons."""
        r = self.result
        note = self._message[1] if self._message else ""
        if r is None:
            return note
        if r.correct:
            text = (f"{messages.correct(r.answer, r.answer_text, self.attempts)}\n{r.explanation}\n"
                    f"{messages.LESSON_MISTAKES}\n" + "\n".join(self.question.common_mistakes))
        else:
            text = (f"{messages.not_yet(r.chosen)} {messages.TRY_AGAIN}\n"
                    f"{messages.mistake(r.mistake)}\n{messages.hint(r.hint)}")
        return f"{text}\n{note}" if note else text

    def _feedback_html(self) -> str:
        r = self.result
        parts = []
        if r is not None:
            parts.append(self._result_html(r))
            if self._saved_note:
                parts.append(f"<div style='margin-top:4px;{_MUTED}'>{_esc(self._saved_note)}</div>")
        if self._message:
            parts.append(_tone_box(self._message[0], _esc(self._message[1])))
        return "".join(parts)

    def _result_html(self, r: CheckResult) -> str:
        if r.correct:
            mistakes = "".join(f"<li>{_esc(m)}</li>" for m in self.question.common_mistakes)
            return _tone_box(
                "right",
                f"<b>{_esc(messages.correct(r.answer, r.answer_text, self.attempts))}</b>"
                f"<div style='margin-top:4px'>{_esc(r.explanation)}</div>"
                f"<div style='margin-top:4px'>{_esc(messages.LESSON_MISTAKES)}</div>"
                f"<ul style='margin:2px 0'>{mistakes}</ul>",
            )
        # Keep the answer hidden after a wrong try: the mistake and the hint should do the work.
        return _tone_box(
            "wrong",
            f"<b>{_esc(messages.not_yet(r.chosen))}</b> {messages.TRY_AGAIN}"
            f"<div style='margin-top:4px'><b>{messages.MISTAKE}</b> {_esc(r.mistake or '')}</div>"
            f"<div style='margin-top:4px'><b>{messages.HINT}</b> {_esc(r.hint or '')}</div>",
        )


Draw = Callable[[int], tuple[Question, ...]]


class TestCard(_Card):
    """The pre-test or the post-test: started by a button (a fresh draw from a new seed), one
    question at a time, then a score by difficulty and a review of every item.

    The seed and the answers are kept in the progress file, so after a restart the same items
    come back with their answers. `fresh(seed, other_seed)` says whether a seed may be used
    beside the other phase's seed (the post-test shares no item with the pre-test)."""

    __test__ = False  # not a pytest class, despite the name

    def __init__(self, phase: str, draw: Draw,
                 fresh: Callable[[int, int | None], bool] = lambda seed, other: True,
                 progress: Progress | None = None) -> None:
        if phase not in TEST_PHASES:
            raise ValueError(f"phase must be one of {TEST_PHASES}, got {phase!r}")
        w = _ipywidgets()
        self.phase, self._draw, self._fresh = phase, draw, fresh
        self._label = f"quizzes {messages.PHASES[phase]}"
        self.progress = Progress() if progress is None else progress
        self.session: QuizSession | None = None
        self.seed: int | None = None
        self.index = 0
        self.done = False
        self._syncing = False  # set while we move the radio, so it isn't read as an answer

        self.intro = w.HTML(_tone_box("info", _esc(messages.test_intro(phase))))
        self.start_button = w.Button(description=messages.start_test(phase), button_style="primary",
                                     layout=w.Layout(width="auto"))
        self.start_button.on_click(lambda _b: self.start())
        self.question_html = w.HTML()
        self.radio = w.RadioButtons(options=[], value=None, layout=w.Layout(width="auto"))
        self.radio.observe(self._on_radio, names="value")
        self.prev_button = w.Button(description="Previous")
        self.next_button = w.Button(description="Next")
        self.finish_button = w.Button(description="Finish and score", button_style="primary")
        self.restart_button = w.Button(description=messages.new_test(phase),
                                       layout=w.Layout(width="auto"))
        self.status = w.HTML()
        self.results_html = w.HTML()
        self.prev_button.on_click(lambda _b: self.previous())
        self.next_button.on_click(lambda _b: self.next())
        self.finish_button.on_click(lambda _b: self.finish())
        self.restart_button.on_click(lambda _b: self.start())

        self.start_box = w.VBox([self.intro, self.start_button])
        self.question_box = w.VBox([self.question_html, self.radio,
                                    w.HBox([self.prev_button, self.next_button, self.finish_button]),
                                    self.status])
        self.results_box = w.VBox([self.results_html, self.restart_button])
        self.widget = w.VBox(
            [self.start_box, self.question_box, self.results_box],
            layout=w.Layout(border="1px solid var(--jp-border-color2, #ccc)",
                            padding="6px 12px 10px 12px", margin="4px 0"),
        )
        self._restore()

    def static_html(self) -> str:
        return _tone_box("info", f"<b>The {_esc(messages.PHASES[self.phase])}</b><div>"
                                 f"{_esc(messages.test_intro(self.phase))}</div><div style='{_MUTED}'>"
                                 f"{_esc(messages.static_note('the ' + messages.PHASES[self.phase]))}"
                                 "</div>")

    @property
    def started(self) -> bool:
        return self.session is not None

    @property
    def question(self) -> Question:
        return self.session.questions[self.index]

    def _restore(self) -> None:
        saved = self.progress.test(self.phase)
        if saved is not None:
            self._begin(saved["seed"])
            for qid, letter in saved["answers"].items():
                question = next((q for q in self.session.questions if q.id == qid), None)
                if question is not None and letter in question.options:
                    self.session.answers[qid] = letter
            self.done = "score" in saved
            if not self.done:  # back where the learner stopped: the first unanswered question
                self.index = next((n for n, q in enumerate(self.session.questions)
                                   if q.id not in self.session.answers), 0)
        self._render()

    def _begin(self, seed: int) -> None:
        self.seed = seed
        self.session = QuizSession(self._draw(seed))
        self.index = 0
        self.done = False

    def start(self, seed: int | None = None) -> None:
        """Draw a new test (from `seed`, or a new random one) and show its first question."""
        if seed is None:
            other = self.progress.test("post" if self.phase == "pre" else "pre")
            other_seed = None if other is None else other["seed"]
            seed = secrets.randbelow(2**31)
            while not self._fresh(seed, other_seed):
                seed = secrets.randbelow(2**31)
        self._begin(seed)
        self.progress.start_test(self.phase, seed)
        self._render()

    # The button and radio callbacks.
    def select(self, letter: str) -> None:
        """Answer the current question, as clicking its radio button does."""
        self.radio.value = normalize_letter(letter, self.question)

    def next(self) -> None:
        self.go_to(self.index + 1)

    def previous(self) -> None:
        self.go_to(self.index - 1)

    def go_to(self, index: int) -> None:
        self.index = max(0, min(index, len(self.session.questions) - 1))
        self._render()

    def finish(self) -> str:
        """Score the test and show the review; returns the score line."""
        self.done = True
        self.progress.record_test_score(self.phase, self.session.score, len(self.session.questions),
                                        self.session.score_by_difficulty())
        self._render()
        return self.score_text

    def _on_radio(self, change: dict[str, Any]) -> None:
        if not self._syncing and change["new"] is not None and self.started:
            self.session.answer(self.question.id, change["new"])
            self.progress.record_test_answer(self.phase, self.question.id, change["new"])
            self._render()

    # What the learner sees.
    @property
    def score_text(self) -> str:
        return f"Score: {self.session.summary()}"

    @property
    def status_text(self) -> str:
        return f"Answered {len(self.session.answers)} of {len(self.session.questions)}."

    @property
    def review_text(self) -> str:
        """The per-question review as plain text (empty until the test is finished)."""
        if not self.done:
            return ""
        lines = [self.score_text]
        for n, (q, r) in enumerate(zip(self.session.questions, self.session.results()), 1):
            lines.append(f"{n}. {q.id} [{q.difficulty}] {self._verdict(r)}")
            if r is None or not r.correct:
                if r is not None:
                    lines.append(f"   {messages.mistake(r.mistake)}")
                lines.append(f"   {messages.reveal(q.answer, q.answer_text)}")
                lines.append(f"   {q.explanation}")
                if q.section is not None:
                    lines.append(f"   {messages.taught_in(q.section.label)}")
        return "\n".join(lines)

    @staticmethod
    def _verdict(r: CheckResult | None) -> str:
        if r is None:
            return "not answered"
        return f"your answer {r.chosen}: " + ("correct" if r.correct else "wrong")

    def _render(self) -> None:
        started = self.started
        self.start_box.layout.display = None if not started else "none"
        self.question_box.layout.display = "none" if not started or self.done else None
        self.results_box.layout.display = None if started and self.done else "none"
        if not started:
            return
        q, n = self.question, len(self.session.questions)
        self._syncing = True
        try:
            self.radio.options = _options(q)
            self.radio.value = self.session.answers.get(q.id)
        finally:
            self._syncing = False
        self.question_html.value = _question_html(q, f"Question {self.index + 1} of {n}")
        self.prev_button.disabled = self.index == 0
        self.next_button.disabled = self.index == n - 1
        unanswered = n - len(self.session.answers)
        note = f" {unanswered} unanswered will count as wrong." if unanswered else ""
        problem = f" {self.progress.problem}" if self.progress.problem else ""
        self.status.value = f"<span style='{_MUTED}'>{_esc(self.status_text + note + problem)}</span>"
        self.results_html.value = self._review_html() if self.done else ""

    def _review_html(self) -> str:
        items = [f"<div style='font-size:1.2em;margin:4px 0 8px 0'><b>{_esc(self.score_text)}</b></div>"]
        for n, (q, r) in enumerate(zip(self.session.questions, self.session.results()), 1):
            ok = r is not None and r.correct
            body = [f"<div>{_esc(q.prompt)}</div>", _figure_html(q), _code_html(q.code)]
            if not ok:
                if r is not None:
                    body.append(f"<div><b>{messages.MISTAKE}</b> {_esc(r.mistake or '')}</div>")
                body.append(f"<div><b>{_esc(messages.reveal(q.answer, q.answer_text))}</b></div>")
            body.append(f"<div style='margin-top:4px'>{_esc(q.explanation)}</div>")
            if not ok:
                body.append(_section_html(q))
            summary = f"{n}. {q.id} ({q.difficulty}): {self._verdict(r)}"
            # Missed items start open: those are the ones worth reading.
            items.append(_tone_box("right" if ok else "wrong",
                                   f"<details{'' if ok else ' open'}><summary><b>{_esc(summary)}"
                                   f"</b></summary>{''.join(body)}</details>"))
        return "".join(items)


def show(question_id: str) -> QuestionCard:
    """One question as a notebook widget: ``quizzes.show("p3")`` as a cell's last line."""
    accessibility()
    return QuestionCard(get_question(question_id))


class ProgressCard(_Card):
    """The progress cell: everything saved so far, where it is, and a two-click reset."""

    _label = "quizzes progress"

    def __init__(self, progress: Progress | None = None) -> None:
        from .report import report

        w = _ipywidgets()
        self.progress = Progress() if progress is None else progress
        self._report = report
        self.text = w.HTML()
        self.reset_button = w.Button(description="Reset my progress", icon="trash",
                                     layout=w.Layout(width="auto"))
        self.reset_button.on_click(lambda _b: self.reset())
        self._armed = False
        self.widget = w.VBox([self.text, self.reset_button], layout=w.Layout(
            border="1px solid var(--jp-border-color2, #ccc)", padding="6px 12px", margin="4px 0"))
        self.refresh()

    def static_html(self) -> str:
        # Never the executor's (or anyone's) progress: a saved notebook holds no learner's data.
        return _tone_box("info", _esc("Your progress: run this cell in Jupyter to see everything "
                                      "the course has saved for you (practice answers, the pre- "
                                      "and post-test, your graded exercises, your runs)."))

    @property
    def summary(self) -> str:
        return self._report(self.progress.load())

    def refresh(self, note: str = "") -> None:
        problem = f"\n{self.progress.problem}" if self.progress.problem else ""
        body = f"{self.summary}\n(saved in {self.progress.path}){problem}{note}"
        self.text.value = f"<pre style='white-space:pre-wrap;margin:0'>{_esc(body)}</pre>"

    def reset(self) -> None:
        """First click asks, second click resets (the old file is kept beside the new one)."""
        if not self._armed:
            self._armed = True
            self.reset_button.description = "Click again to reset"
            self.reset_button.button_style = "danger"
            return
        kept = self.progress.reset()
        self._armed = False
        self.reset_button.description, self.reset_button.button_style = "Reset my progress", ""
        self.refresh(f"\nReset. The old progress was kept as {kept}." if kept else "\nReset.")

    def __repr__(self) -> str:
        return "<quizzes progress (interactive widget: run in Jupyter)>"


def show_progress() -> ProgressCard:
    accessibility()
    return ProgressCard()


def score_line(score: dict) -> str:
    """'7/10 (easy 3/3, medium 2/4, hard 2/3)' from a saved score."""
    return f"{score['correct']}/{score['total']} ({by_difficulty_text(score['by_difficulty'])})"


class PredictionCard(_Card):
    """Predict, then see: one or more questions about a result the learner has not seen yet; the
    prediction is saved (the first one stays), then the measured answer is shown beside it.

    `questions`: (key, prompt, {value: option text}) each; `reveal(choices)` returns the measured
    answer as HTML, comparing it with `choices` (or with nothing, for a learner who skips)."""

    def __init__(self, name: str, questions: list[tuple[str, str, dict[str, str]]],
                 reveal: Callable[[dict[str, str] | None], str],
                 progress: Progress | None = None) -> None:
        w = _ipywidgets()
        self.name, self.questions, self._reveal = name, questions, reveal
        self._label = f"prediction {name}"
        self.progress = Progress() if progress is None else progress
        self.radios = {}
        rows = []
        for key, prompt, options in questions:
            radio = w.RadioButtons(options=[(text, value) for value, text in options.items()],
                                   value=None, layout=w.Layout(width="auto"))
            self.radios[key] = radio
            rows += [w.HTML(f"<b>{_esc(prompt)}</b>"), radio]
        self.save_button = w.Button(description=messages.SAVE_PREDICTION, button_style="primary",
                                    layout=w.Layout(width="auto"))
        self.skip_button = w.Button(description=messages.SKIP_PREDICTION,
                                    layout=w.Layout(width="auto"))
        self.save_button.on_click(lambda _b: self.predict())
        self.skip_button.on_click(lambda _b: self.show_answer())
        self.status = w.HTML("")
        self.answer = w.HTML("")
        self.ask_box = w.VBox(rows + [w.HBox([self.save_button, self.skip_button]), self.status])
        self.widget = w.VBox([self.ask_box, self.answer], layout=w.Layout(
            border="1px solid var(--jp-border-color2, #ccc)", padding="6px 12px", margin="4px 0"))
        saved = self.progress.prediction(name)
        if saved is not None:
            self._show(saved["choices"])

    def static_html(self) -> str:
        asked = "".join(f"<div><b>{_esc(prompt)}</b><ul>" + "".join(
            f"<li>{_esc(text)}</li>" for text in options.values()) + "</ul></div>"
            for _, prompt, options in self.questions)
        return _tone_box("info", f"<b>Predict, then see</b>{asked}<details><summary>The measured "
                                 f"answer</summary>{self._reveal(None)}</details>")

    @property
    def choices(self) -> dict[str, str]:
        return {key: radio.value for key, radio in self.radios.items() if radio.value is not None}

    def choose(self, **choices: str) -> None:
        """Pick options, as clicking them does."""
        for key, value in choices.items():
            self.radios[key].value = value

    def predict(self) -> str:
        """Save the prediction (every question answered) and show the measured answer."""
        choices = self.choices
        if len(choices) < len(self.radios):
            self.status.value = _tone_box("info", _esc(messages.PREDICT_ALL))
            return ""
        self.progress.record_prediction(self.name, self._texts(choices))
        return self._show(self._texts(choices))

    def show_answer(self) -> str:
        return self._show(None)

    def _texts(self, choices: dict[str, str]) -> dict[str, str]:
        options = {key: dict(opts) for key, _, opts in self.questions}
        return {key: options[key][value] for key, value in choices.items()}

    def _show(self, choices: dict[str, str] | None) -> str:
        self.ask_box.layout.display = "none"
        mine = ("" if choices is None else
                f"<div><b>{_esc(messages.YOU_PREDICTED)}</b> {_esc('; '.join(choices.values()))}</div>")
        self.answer.value = _tone_box("right", mine + self._reveal(choices))
        return self.answer.value


# The course's keyboard and screen-reader fixes, which ipywidgets cannot make from Python: set once
# per page by a small script (`accessibility()` displays it once per kernel).
# - Every control inside a course widget (KEYBOARD_CLASS: the quiz cards, the panel, the hints)
#   carries data-lm-suppress-shortcuts, so its keys reach it: the arrow keys move between a
#   question's options and a slider's steps, Enter presses a button, instead of JupyterLab's
#   notebook moving to the next cell or into edit mode. Lumino checks the attribute before
#   matching each element from the event's target up, and the notebook's bindings match the
#   focused element itself (`... :focus`), so each control carries it, not only the card.
#   ipywidgets gives its radio inputs no name, so each is a group of its own (Tab stops at every
#   option): a question's options get one name, and Tab goes from the chosen option to Check.
#   A choice made with the arrow keys is passed on to ipywidgets, which hears only clicks.
# - Every slider's handle gets its description as its accessible name, and its readout as
#   aria-valuetext (a slider over a list, hidden size 128, would otherwise announce "4").
# - The run log's list gets a name.
ACCESSIBILITY_SCRIPT = """
(function () {
  function mark() {
    var keyboard = '.%(keyboard)s';
    [keyboard].concat(['input', 'button', 'select', 'textarea', '[tabindex]'].map(function (tag) {
      return keyboard + ' ' + tag;
    })).forEach(function (selector) { document.querySelectorAll(selector).forEach(function (el) {
      el.setAttribute('data-lm-suppress-shortcuts', 'true');
    }); });
    document.querySelectorAll('.%(keyboard)s .widget-radio-box').forEach(function (box) {
      if (!box.dataset.rnnLessonGroup) {
        window.rnnLessonGroups = (window.rnnLessonGroups || 0) + 1;
        box.dataset.rnnLessonGroup = 'rnn-lesson-options-' + window.rnnLessonGroups;
      }
      box.setAttribute('role', 'radiogroup');
      box.querySelectorAll('input[type="radio"]').forEach(function (input) {
        input.name = box.dataset.rnnLessonGroup;
      });
    });
    document.querySelectorAll('.widget-slider, .jupyter-widget-slider').forEach(function (slider) {
      var label = slider.querySelector('.widget-label');
      var handle = slider.querySelector('[role="slider"]') || slider.querySelector('.noUi-handle');
      var readout = slider.querySelector('.widget-readout');
      if (!handle) { return; }
      if (label && label.textContent.trim()) {
        handle.setAttribute('aria-label', label.textContent.trim());
      }
      if (readout) { handle.setAttribute('aria-valuetext', readout.textContent.trim()); }
    });
    document.querySelectorAll('.rnn-lesson-run-log select').forEach(function (list) {
      list.setAttribute('aria-label', 'Your runs: select two or more to compare them');
    });
  }
  var pending = false;
  function soon() {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; mark(); });
  }
  mark();
  if (!window.rnnLessonAccessibility) {
    window.rnnLessonAccessibility = new MutationObserver(soon);
    window.rnnLessonAccessibility.observe(document.body,
                                          {subtree: true, childList: true, characterData: true});
    // A choice made with the arrow keys fires "change" but no "click", and ipywidgets' radio
    // buttons listen for clicks only: pass such a change on as a click (a mouse's change, which
    // follows its own click, is left alone).
    var clicked = null;
    function ours(el) { return el.type === 'radio' && el.closest('.%(keyboard)s'); }
    document.addEventListener('click', function (event) {
      if (!ours(event.target)) { return; }
      clicked = event.target;
      setTimeout(function () { clicked = null; }, 0);
    }, true);
    document.addEventListener('change', function (event) {
      if (ours(event.target) && clicked !== event.target) { event.target.click(); }
    }, true);
  }
})();
""" % {"keyboard": KEYBOARD_CLASS}

_ACCESSIBILITY_SHOWN = [False]


def accessibility() -> None:
    """Display the keyboard and screen-reader script (once per kernel; a no-op outside IPython)."""
    if _ACCESSIBILITY_SHOWN[0]:
        return
    try:
        from IPython import get_ipython
        from IPython.display import Javascript, display
    except ImportError:
        return
    if get_ipython() is None:
        return
    _ACCESSIBILITY_SHOWN[0] = True
    display(Javascript(ACCESSIBILITY_SCRIPT))
