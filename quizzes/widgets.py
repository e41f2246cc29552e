"""Notebook rendering with core ipywidgets: one question, or the ten-question test.

The button callbacks are ordinary methods (``select``, ``check``, ``next`` ...),
so tests drive a card without a browser and read ``feedback_text``.

ipywidgets is imported when a card is built, not when ``quizzes`` is imported, so
``quizzes.check`` works without it.

A displayed widget also carries a text/plain repr, which is what nbval compares.
ipywidgets' default repr lists the widget's state; the cards replace it with a
fixed string so saved notebook outputs stay stable.
"""

from __future__ import annotations

import html
from typing import Any

from . import messages
from .checker import CheckResult, check, normalize_letter
from .progress import Progress
from .questions import QUESTIONS, Question, get_question
from .session import QuizSession

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


def _question_html(question: Question, heading: str) -> str:
    return (
        f"<div style='margin-bottom:4px'><b>{_esc(heading)}</b> {_badge(question.difficulty)}</div>"
        f"<div style='font-size:1.05em'>{_esc(question.prompt)}</div>"
        + _code_html(question.code)
    )


def _tone_box(tone: str, body_html: str) -> str:
    return f"<div style='{_BOX}border-left:4px solid {_TONES[tone]}'>{body_html}</div>"


def _options(question: Question) -> list[tuple[str, str]]:
    return [(f"{letter}. {text}", letter) for letter, text in question.options.items()]


class _Card:
    """Shared display plumbing: a fixed text/plain repr around ``self.widget``."""

    widget: Any
    _label = "quiz"

    def __repr__(self) -> str:
        return f"<{self._label} (interactive widget: run in Jupyter)>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = self.widget._repr_mimebundle_(**kwargs)
        data["text/plain"] = repr(self)  # the widget's own repr varies with its state
        return data


class QuestionCard(_Card):
    """One question: prompt, code, radio buttons, a Check button and feedback."""

    def __init__(self, question: Question, progress: Progress | None = None) -> None:
        w = _ipywidgets()
        self.question = question
        self.progress = Progress() if progress is None else progress
        self._label = f"quizzes question {question.id}"
        self.attempts = 0
        self.result: CheckResult | None = None
        self._message: tuple[str, str] | None = None  # (tone, plain text) for non-result notes
        self._saved_note = ""

        self.radio = w.RadioButtons(
            options=_options(question), value=None, layout=w.Layout(width="auto")
        )
        self.check_button = w.Button(description="Check", button_style="primary")
        self.check_button.on_click(lambda _button: self.check())
        self.feedback = w.HTML(value="")
        self.widget = w.VBox(
            [
                w.HTML(value=_question_html(question, f"Question {question.id}")),
                self.radio,
                self.check_button,
                self.feedback,
            ],
            layout=w.Layout(
                border="1px solid var(--jp-border-color2, #ccc)",
                padding="6px 12px 10px 12px",
                margin="4px 0",
            ),
        )
        self._restore()

    def _restore(self) -> None:
        """Show the learner's last answer from the progress file, as it was graded."""
        saved = self.progress.answer(self.question.id)
        if isinstance(saved, dict) and saved.get("answer") in self.question.options:
            self.radio.value = saved["answer"]
            attempts = saved.get("attempts", 1)
            self.attempts = attempts if isinstance(attempts, int) and attempts >= 1 else 1
            self.result = check(self.question.id, saved["answer"])
            self._saved_note = messages.saved(str(saved.get("at", "")))
        if self.progress.problem:
            self._message = ("info", self.progress.problem)
        self.feedback.value = self._feedback_html()

    def select(self, letter: str) -> None:
        """Choose an option, as clicking its radio button does."""
        self.radio.value = normalize_letter(letter, self.question)

    def check(self) -> CheckResult | None:
        """The Check button: grade the selected option and update the feedback."""
        if self.radio.value is None:
            self.result = None
            self._message = ("info", "Choose an option, then press Check.")
        else:
            self.attempts += 1
            self.result = check(self.question.id, self.radio.value)
            self._saved_note = ""
            self.progress.record_answer(self.question.id, self.result.chosen, self.result.correct)
            self._message = None
        self.feedback.value = self._feedback_html()
        return self.result

    @property
    def feedback_text(self) -> str:
        """The feedback as plain text, as shown under the Check button."""
        if self._message:
            return self._message[1]
        r = self.result
        if r is None:
            return ""
        if r.correct:
            return f"{messages.correct(r.answer, r.answer_text, self.attempts)}\n{r.explanation}"
        return f"{messages.not_yet(r.chosen)} {messages.TRY_AGAIN}\n{messages.hint(r.hint)}"

    def _feedback_html(self) -> str:
        if self._message:
            return _tone_box(self._message[0], _esc(self._message[1]))
        r = self.result
        if r is None:
            return ""
        note = (f"<div style='margin-top:4px;color:var(--jp-ui-font-color2,#555)'>"
                f"{_esc(self._saved_note)}</div>") if self._saved_note else ""
        return self._result_html(r) + note

    def _result_html(self, r: CheckResult) -> str:
        if r.correct:
            return _tone_box(
                "right",
                f"<b>{_esc(messages.correct(r.answer, r.answer_text, self.attempts))}</b>"
                f"<div style='margin-top:4px'>{_esc(r.explanation)}</div>",
            )
        # Keep the answer hidden after a wrong try: the hint should do the work.
        return _tone_box(
            "wrong",
            f"<b>{_esc(messages.not_yet(r.chosen))}</b> {messages.TRY_AGAIN}"
            f"<div style='margin-top:4px'><b>{messages.HINT}</b> {_esc(r.hint or '')}</div>",
        )


class TestCard(_Card):
    """The test, one question at a time, then a score and a per-question review."""

    __test__ = False  # not a pytest class, despite the name
    _label = "quizzes test"

    def __init__(self, questions: tuple[Question, ...] = QUESTIONS,
                 progress: Progress | None = None) -> None:
        w = _ipywidgets()
        self.progress = Progress() if progress is None else progress
        self.session = QuizSession(tuple(questions))
        ids = {q.id: q for q in self.session.questions}
        for qid, letter in self.progress.test_answers().items():  # answers of an earlier visit
            if qid in ids and letter in ids[qid].options:
                self.session.answers[qid] = letter
        self.index = 0
        self.done = False
        self._syncing = False  # set while we move the radio, so it isn't read as an answer

        self.question_html = w.HTML()
        self.radio = w.RadioButtons(options=[], value=None, layout=w.Layout(width="auto"))
        self.radio.observe(self._on_radio, names="value")
        self.prev_button = w.Button(description="Previous")
        self.next_button = w.Button(description="Next")
        self.finish_button = w.Button(description="Finish and score", button_style="primary")
        self.restart_button = w.Button(description="Restart")
        self.status = w.HTML()
        self.results_html = w.HTML()
        self.prev_button.on_click(lambda _b: self.previous())
        self.next_button.on_click(lambda _b: self.next())
        self.finish_button.on_click(lambda _b: self.finish())
        self.restart_button.on_click(lambda _b: self.restart())

        self.question_box = w.VBox(
            [
                self.question_html,
                self.radio,
                w.HBox([self.prev_button, self.next_button, self.finish_button]),
                self.status,
            ]
        )
        self.results_box = w.VBox([self.results_html, self.restart_button])
        self.widget = w.VBox(
            [self.question_box, self.results_box],
            layout=w.Layout(
                border="1px solid var(--jp-border-color2, #ccc)",
                padding="6px 12px 10px 12px",
                margin="4px 0",
            ),
        )
        self._render()

    @property
    def question(self) -> Question:
        return self.session.questions[self.index]

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
        self.progress.record_test_score(self.session.score, len(self.session.questions),
                                        self.session.score_by_difficulty())
        self._render()
        return self.score_text

    def restart(self) -> None:
        for q in self.session.questions:
            if q.id in self.session.answers:
                self.progress.record_test_answer(q.id, None)
        self.session.reset()
        self.index = 0
        self.done = False
        self._render()

    def _on_radio(self, change: dict[str, Any]) -> None:
        if not self._syncing and change["new"] is not None:
            self.session.answer(self.question.id, change["new"])
            self.progress.record_test_answer(self.question.id, change["new"])
            self._render()

    # What the learner sees.
    @property
    def score_text(self) -> str:
        return f"Score: {self.session.summary()}"

    @property
    def status_text(self) -> str:
        answered = len(self.session.answers)
        return f"Answered {answered} of {len(self.session.questions)}."

    @property
    def review_text(self) -> str:
        """The per-question review as plain text (empty until the test is finished)."""
        if not self.done:
            return ""
        lines = [self.score_text]
        for n, (q, r) in enumerate(zip(self.session.questions, self.session.results()), 1):
            lines.append(f"{n}. {q.id} [{q.difficulty}] {self._verdict(r)}")
            if r is None or not r.correct:
                lines.append(f"   {messages.reveal(q.answer, q.answer_text)}")
                if r is not None:
                    lines.append(f"   {messages.hint(r.hint)}")
            lines.append(f"   {q.explanation}")
        return "\n".join(lines)

    @staticmethod
    def _verdict(r: CheckResult | None) -> str:
        if r is None:
            return "not answered"
        return f"your answer {r.chosen}: " + ("correct" if r.correct else "wrong")

    def _render(self) -> None:
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
        self.status.value = (
            f"<span style='color:var(--jp-ui-font-color2,#555)'>{_esc(self.status_text + note)}</span>"
        )
        self.question_box.layout.display = "none" if self.done else None
        self.results_box.layout.display = None if self.done else "none"
        self.results_html.value = self._review_html() if self.done else ""

    def _review_html(self) -> str:
        items = [f"<div style='font-size:1.2em;margin:4px 0 8px 0'><b>{_esc(self.score_text)}</b></div>"]
        for n, (q, r) in enumerate(zip(self.session.questions, self.session.results()), 1):
            ok = r is not None and r.correct
            body = [f"<div>{_esc(q.prompt)}</div>", _code_html(q.code)]
            if not ok:
                body.append(f"<div>{_esc(messages.reveal(q.answer, q.answer_text))}</div>")
                if r is not None:
                    body.append(f"<div>{_esc(messages.hint(r.hint))}</div>")
            body.append(f"<div style='margin-top:4px'>{_esc(q.explanation)}</div>")
            summary = f"{n}. {q.id} ({q.difficulty}): {self._verdict(r)}"
            # Wrong answers start open: those are the ones worth reading.
            items.append(
                _tone_box(
                    "right" if ok else "wrong",
                    f"<details{'' if ok else ' open'}><summary><b>{_esc(summary)}</b></summary>"
                    f"{''.join(body)}</details>",
                )
            )
        return "".join(items)


def show(question_id: str) -> QuestionCard:
    """One question as a notebook widget: ``quizzes.show("p3")`` as a cell's last line."""
    return QuestionCard(get_question(question_id))


def show_test(question_ids: list[str] | None = None) -> TestCard:
    """The ten-question test (or the given ids) as a notebook widget."""
    questions = QUESTIONS if question_ids is None else tuple(map(get_question, question_ids))
    return TestCard(questions)


class ProgressCard(_Card):
    """The progress cell: everything saved so far, where it is, and a two-click reset."""

    _label = "quizzes progress"

    def __init__(self, progress: Progress | None = None) -> None:
        from .progress import report

        w = _ipywidgets()
        self.progress = Progress() if progress is None else progress
        self._report = report
        self.text = w.HTML()
        self.reset_button = w.Button(description="Reset my progress", icon="trash")
        self.reset_button.on_click(lambda _b: self.reset())
        self._armed = False
        self.widget = w.VBox([self.text, self.reset_button], layout=w.Layout(
            border="1px solid var(--jp-border-color2, #ccc)", padding="6px 12px", margin="4px 0"))
        self.refresh()

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
        return self.summary


def show_progress() -> ProgressCard:
    return ProgressCard()
