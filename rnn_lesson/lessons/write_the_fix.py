"""Notebook 02's exercise: the learner writes the fix as plain PyTorch and gets it graded.

The learner edits a model class (the lesson's `SimpleRNN` shape: `__init__` and `forward`) and a
`Settings` cell, then calls `check_my_fix(MyRNN, settings)`. The class travels as source to the
grader (`rnn_lesson.grading`): fresh processes, out of the kernel's reach, with a time limit,
which train it with the course's one `train()`, judge it on data its code cannot know and answer
with the verdict, which of the lesson's four changes the code has, the traps it fell into, what
PyTorch warned, and the learning curves. Anything broken comes back as one clear message.

The learner's record in the progress file keeps every attempt (with its code) and the best one,
which a worse attempt never replaces; the unedited starter is not graded. The record is the
learner's own, not a certificate: a teacher re-grades submitted files with
`python -m rnn_lesson grade`.
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import html
import io
import linecache
import re
from dataclasses import dataclass, field
from typing import Callable

from ..grading import Limits, Report, Settings, Submission, class_source, grade, source_of
from ..results import lr_label
from ..ui.plots import plot_run
from .overfitting import SOLUTION_CODE  # noqa: F401 (the notebook imports it here)

PROGRESS_KEY = "02 write the fix"

# The notebook's starting cell (tests/test_write_the_fix.py checks that the notebook shows it).
STARTER_CODE = '''class MyRNN(nn.Module):
    def __init__(self, input_size=10, hidden_size=128, output_size=2):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, num_layers=2, batch_first=True)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x):  # x: (batch, 20 steps, 10 features)
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])  # logits: (batch, 2)
'''
STARTER_SETTINGS = Settings(lr=3e-3, max_epochs=60, early_stopping=False, patience=3)


@dataclass
class Grade:
    """What `check_my_fix` found: a note (nothing graded), an error, or the grader's report;
    with the attempt's number and the learner's best attempt so far."""

    report: Report = field(default_factory=Report)
    note: str = ""  # nothing was graded, and why
    attempt: int = 0  # this attempt's number in the progress file (0: not recorded)
    best: dict | None = None  # the best attempt so far, as recorded

    @property
    def error(self) -> str:
        return self.report.error

    @property
    def passed(self) -> bool:
        return not self.note and not self.error and self.report.passed

    def text(self) -> str:
        r = self.report
        if self.note:
            lines = [self.note]
        elif r.error:
            lines = [f"Cannot grade your model yet: {r.error}"]
        elif r.refusals:
            lines = [r.short] + [f"Why: {why}" for why in r.refusals]
        else:
            lines = [r.verdict]
        if not self.note and not r.error:
            lines += [f"[{'x' if present else ' '}] {text}" for _, present, text in r.changes]
            lines += [f"Trap: {t}" for t in r.traps]
            lines += [f"PyTorch warned: {w}" for w in r.warnings]
            history = r.history
            if history is not None:
                runs = ", ".join(f"{a:.1%}" for a in r.confirm_accs)
                again = (f"; trained again from scratch on new data in disguise, {runs}"
                         + (f" (mean {r.confirm_acc:.1%})" if len(r.confirm_accs) > 1 else "")
                         if r.confirm_accs else "")
                lines.append(f"Trained {history.epochs} epochs; {history.kept}. On a fresh draw of "
                             f"new sequences it scores {r.fresh_acc:.1%} (validation "
                             f"{r.val_acc:.1%}){again}. Graded in {r.seconds:.1f} s.")
        if r.printed:
            lines.append(f"Your code printed: {r.printed.strip()[:300]}")
        lines += self._attempts()
        return "\n".join(lines)

    def _attempts(self) -> list[str]:
        lines = []
        if self.attempt:
            lines.append(f"This is attempt {self.attempt}, saved in your progress file.")
        b = self.best
        if b is not None and b.get("n") != self.attempt:
            numbers = (f", val {b['val_acc']:.1%}, train {b['train_acc']:.1%}"
                       if isinstance(b.get("val_acc"), float) else "")
            verdict = "passed" if b.get("passed") else "not passed"
            lines.append(f"Your best so far: attempt {b['n']} ({verdict}{numbers}; "
                         f"{b.get('settings', '')}).")
        return lines

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        tone = "var(--jp-success-color1, #388e3c)" if self.passed else "var(--jp-warn-color1, #f57c00)"
        body = html.escape(self.text()).replace("\n", "<br>")
        picture = ""
        history = self.report.history if not self.note else None
        if history is not None:
            buffer = io.BytesIO()
            plot_run(history).savefig(buffer, format="png", dpi=80)
            picture = (f'<img alt="{html.escape(history.summary())}" '
                       f'src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">')
        return (f'<div class="rnn-lesson-grade" style="border-left:6px solid {tone};padding:6px '
                f'10px;background:var(--jp-layout-color2, #f5f5f5);color:var(--jp-ui-font-color1, '
                f'#212121)">{body}</div>{picture}')


def check_my_fix(model_class: type, settings: Settings = Settings(), record: bool = True,
                 limits: Limits = Limits()) -> Grade:
    """Grade `model_class` trained with `settings` against the task (in fresh processes)."""
    from quizzes.progress import Progress

    progress = Progress() if record else None
    best = None if progress is None else (progress.verdict(PROGRESS_KEY) or {}).get("best")
    if not isinstance(model_class, type):
        return Grade(Report(error=f"pass the class itself (check_my_fix(MyRNN, settings)), an "
                                  f"nn.Module subclass; got {model_class!r}."), best=best)
    if not isinstance(settings, Settings):
        return Grade(Report(error="settings must be Settings(...), from "
                                  "rnn_lesson.lessons.write_the_fix"), best=best)
    cells = notebook_history()
    stale = latest_cell_problem(model_class, cells)
    if stale:
        return Grade(Report(error=stale), best=best)
    keep_magic_cell_source(model_class, cells)
    try:
        submission = Submission.of_class(model_class, settings)
    except ValueError as problem:
        return Grade(Report(error=str(problem)), best=best)
    if is_starter(model_class, settings):
        return Grade(note="This is the starter code, unedited (the overfitting baseline): it is "
                          "not graded. Edit the class and the settings, then run this cell.",
                     best=best)
    report = grade(submission, limits)
    if progress is None or report.grader_fault:  # the grader's failure is not an attempt
        return Grade(report, best=best)
    entry = progress.record_attempt(PROGRESS_KEY, {
        "passed": report.passed, "train_acc": report.train_acc, "val_acc": report.val_acc,
        "fresh_acc": report.fresh_acc, "error": report.error, "rank": _rank(report),
        "settings": report.settings_text or _settings_text(settings),
        "code": class_source(model_class) + f"\nsettings = {settings!r}\n"})
    return Grade(report, attempt=entry["attempts"][-1]["n"], best=entry["best"])


def _rank(report: Report) -> float:
    """How good an attempt is, beyond passing: its validation accuracy (errors rank last)."""
    return -1.0 if report.error or report.val_acc != report.val_acc else report.val_acc


def _settings_text(settings: Settings) -> str:
    return (f"lr {lr_label(settings.lr)}, max epochs {settings.max_epochs}, early stopping "
            f"{'on' if settings.early_stopping else 'off'}")


def _normalized(source: str) -> str:
    return ast.dump(ast.parse(source))


def is_starter(model_class: type, settings: Settings) -> bool:
    """The notebook's starter, unedited (comments and spacing aside)?"""
    try:
        return (_normalized(class_source(model_class)) == _normalized(STARTER_CODE)
                and dataclasses.replace(settings, seed=0) == STARTER_SETTINGS)
    except (ValueError, SyntaxError):
        return False


def notebook_history() -> list[str]:
    """The cells the notebook's kernel ran, in order ([] outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return []
    shell = get_ipython()
    return list(getattr(getattr(shell, "history_manager", None), "input_hist_raw", []) or [])


# Cell magics whose body is the cell's Python, run as it is.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "memit", "snakeviz"}


def python_of(cell: str) -> str:
    """A cell as the Python it runs: IPython's line magics and shell escapes transformed
    (`%config ...` becomes a call), a `%%time` cell's body taken; "" for a cell of another
    language (`%%bash`)."""
    lines = cell.splitlines(True)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].split()[0][2:]
        return python_of("".join(lines[first + 1:])) if magic in _PYTHON_CELL_MAGICS else ""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return "".join("\n" if line.lstrip().startswith(("%", "!")) else line for line in lines)
    try:
        return TransformerManager().transform_cell(cell)
    except Exception:  # IPython's own parse error: leave the cell as it is
        return cell


def keep_magic_cell_source(defined: type | Callable, cells: list[str]) -> None:
    """A class or function defined in a `%%time` cell has code that names no cell ("<timed
    exec>", kept nowhere): keep the body of the latest cell that defines it under that name, so
    that its source can be found (and graded)."""
    members = vars(defined).values() if isinstance(defined, type) else [defined]
    names = {getattr(getattr(m, "__func__", m), "__code__", None) for m in members} - {None}
    filenames = {code.co_filename for code in names}
    keyword = "class" if isinstance(defined, type) else "def"
    pattern = re.compile(rf"^\s*{keyword}\s+{re.escape(defined.__name__)}\b", re.M)
    for filename in filenames:
        if not filename.startswith("<") or linecache.getlines(filename):
            continue
        body = next((python_of(c) for c in reversed(cells) if c.lstrip().startswith("%%")
                     and pattern.search(python_of(c))), None)
        if body:
            linecache.cache[filename] = (len(body), None, body.splitlines(True), filename)


def latest_cell_problem(defined: type | Callable, cells: list[str]) -> str:
    """Why `defined` (a class or a function) is not the one of the latest cell that defines it
    ("" if it is): after a syntax error, or an error before the definition, the kernel still holds
    the version of an earlier run, which must not be graded silently."""
    name = defined.__name__
    keyword = "class" if isinstance(defined, type) else "def"
    pattern = re.compile(rf"^\s*{keyword}\s+{re.escape(name)}\b", re.M)
    cells = [python_of(cell) for cell in cells]
    latest = next((cell for cell in reversed(cells) if pattern.search(cell)), None)
    if latest is None:
        return ""
    try:
        tree = ast.parse(latest)
    except SyntaxError as error:
        return (f"the last cell that defines {name} has a syntax error (line {error.lineno}: "
                f"{error.msg}), so it did not run: fix it and run it again. The grader does not "
                f"grade the {name} of an earlier run.")
    kinds = (ast.ClassDef,) if keyword == "class" else (ast.FunctionDef, ast.AsyncFunctionDef)
    nodes = [node for node in ast.walk(tree) if isinstance(node, kinds) and node.name == name]
    try:
        current = _normalized(source_of(defined))
    except ValueError:
        return ""
    if nodes and all(ast.dump(ast.Module([node], [])) != current for node in nodes):
        return (f"the {name} you pass is not the one in your last cell that defines it (did that "
                f"cell stop with an error before it?): run that cell again, then this one.")
    return ""
