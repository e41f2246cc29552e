"""Notebook 02's loop exercise: the early-stopping loop, shown worked out, then written by the learner.

1. The lesson's loop and the corrected loop side by side (`loop_comparison`), the lines that
   differ marked and numbered. The corrected loop is `fit_with_early_stopping` below, plain
   PyTorch, and it is the loop of the course's `train()`: the notebook runs both and shows the
   same validation curve (`same_as_train`).
2. The learner completes the three early-stopping lines of a plain loop (`STARTER_FIT`) and
   calls `check_my_loop(fit)`: the grader (`rnn_lesson.grading.loop`) runs it on the course's model
   and data in fresh processes and judges it by behaviour. Every attempt is kept in the progress
   file, the best one marked; the unedited starter is not graded.
"""

from __future__ import annotations

import base64
import copy
import difflib
import html
import io
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..data import Split, load_course_data
from ..grading import LOOP, Limits, LoopReport, LoopSubmission, grade_loop, source_of
from ..models import build_model
from ..runs import Experiment
from ..training import train
from ..ui.plots import VAL_COLOR, new_figure
from .write_the_fix import (_normalized, keep_magic_cell_source, latest_cell_problem,
                            notebook_history)

PROGRESS_KEY = "02 write the loop"

# The lesson's training loop, as the lesson prints it (tests/test_write_the_loop.py checks it
# against the lesson's text).
LESSON_LOOP = '''for epoch in range(30):
    model.train()
    optimizer.zero_grad()
    outputs = model(X_train)
    loss = criterion(outputs, y_train)
    loss.backward()
    optimizer.step()

    model.eval()
    with torch.no_grad():
        val_outputs = model(X_val)
        val_loss = criterion(val_outputs, y_val)
        _, predicted = torch.max(val_outputs, 1)
        val_acc = (predicted == y_val).float().mean().item() * 100

    train_acc = (outputs.argmax(dim=1) == y_train).float().mean().item() * 100

    if val_acc > best_val_acc:
        best_val_acc = val_acc
        trigger_times = 0
    else:
        trigger_times += 1
        if trigger_times >= patience:
            break
'''


def fit_with_early_stopping(model, optimizer, train_set: Split, val_set: Split, max_epochs: int,
                            patience: int, batch_size: int, order: torch.Generator) -> list[float]:
    """The corrected loop, in plain PyTorch (the course's train() runs the same, with records)."""
    best_loss, best_state, waited = float("inf"), None, 0
    val_losses = []
    for epoch in range(max_epochs):
        model.train()
        for batch in torch.randperm(len(train_set.y), generator=order).split(batch_size):
            loss = F.cross_entropy(model(train_set.x[batch]), train_set.y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        model.eval()
        with torch.no_grad():
            val_loss = F.cross_entropy(model(val_set.x), val_set.y).item()
        val_losses.append(val_loss)

        if val_loss < best_loss:
            best_loss, waited = val_loss, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if waited >= patience:
                break
    model.load_state_dict(best_state)
    return val_losses


# What each marked line of the corrected loop changes, in the order they appear.
CHANGES = (
    ("mini-batches, reshuffled every epoch", "the lesson takes one step per epoch, on all 100 "
     "sequences at once"),
    ("the validation loss, measured after the epoch in eval mode", "the lesson also measures train "
     "accuracy on the training step's own outputs, dropout on, before the weights changed"),
    ("an improvement is a lower validation loss", "the lesson waits on validation accuracy, which "
     "moves by single sequences and says nothing of confidence"),
    ("a copy of the best weights", "the lesson keeps no weights at all"),
    ("the best weights restored at the end", "the lesson keeps the last epoch's weights and "
     "reports its best accuracy beside them"),
)


def loop_comparison() -> "LoopComparison":
    return LoopComparison()


class LoopComparison:
    """The two loops side by side, the corrected loop's differing lines marked (HTML, readable
    without a kernel; text/plain lists the changes)."""

    def _repr_html_(self) -> str:
        corrected = source_of(fit_with_early_stopping).splitlines()
        body = corrected[corrected.index(next(l for l in corrected if "best_loss, best_state" in l)):]
        ours = [line[4:] for line in body]
        matcher = difflib.SequenceMatcher(None, LESSON_LOOP.splitlines(), ours, autojunk=False)
        same = {j for block in matcher.get_matching_blocks() for j in range(block.b, block.b + block.size)}
        # A translucent amber reads in the light and the dark theme alike (JupyterLab's
        # --jp-warn-color3 is a light peach in both), and a bar at the left marks the line for
        # readers who do not see the colour.
        marked = "".join(
            "<span style='display:inline-block;min-width:100%;background:rgba(255,193,7,0.3);"
            f"box-shadow:inset 3px 0 #e0a800'>{html.escape(line)}</span>\n"
            if j not in same and line.strip() else f"{html.escape(line)}\n"
            for j, line in enumerate(ours))
        pre = ("<pre style='margin:0;font-family:var(--jp-code-font-family, monospace);"
               "font-size:var(--jp-code-font-size, 12px);white-space:pre;overflow-x:auto'>")
        items = "".join(f"<li><b>{html.escape(ours_)}</b> ({html.escape(theirs)})</li>"
                        for ours_, theirs in CHANGES)
        return (
            "<div style='display:flex;gap:12px;flex-wrap:wrap'>"
            f"<div style='flex:1;min-width:320px'><b>The lesson's loop</b>{pre}"
            f"{html.escape(LESSON_LOOP)}</pre></div>"
            f"<div style='flex:1;min-width:320px'><b>The corrected loop</b> (changed lines marked)"
            f"{pre}{marked}</pre></div></div><ol>{items}</ol>")

    def __repr__(self) -> str:
        return "The corrected loop changes: " + "; ".join(ours for ours, _ in CHANGES)


def same_as_train(experiment: Experiment, seed: int = 0) -> tuple[list[float], list[float]]:
    """The validation-loss curve of the corrected loop and of the course's train(), for the same
    experiment (with early stopping) and seed: they are equal, since train() runs this loop."""
    if not experiment.train.early_stopping:
        raise ValueError("the corrected loop stops early: compare it with an experiment that "
                         "does (early_stopping=True)")
    data = load_course_data()
    exp = experiment.with_seed(seed)
    history = train(exp.model, exp.train, data)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(exp.model)
        optimizer = torch.optim.Adam(model.parameters(), lr=exp.train.lr)
        losses = fit_with_early_stopping(model, optimizer, data.train, data.val,
                                         exp.train.max_epochs, exp.train.patience,
                                         exp.train.batch_size,
                                         torch.Generator().manual_seed(seed))
    return losses, history.val_loss


# The exercise's cell, faded: the three early-stopping lines are left to the learner (the `...`
# run, so Run All works; tests/test_write_the_loop.py checks the notebook shows this code).
STARTER_FIT = '''def fit(model, optimizer, train_one_epoch, measure, max_epochs=20, patience=3):
    """Train with early stopping on the validation loss; return the validation losses."""
    best_loss, best_state, waited = float("inf"), None, 0
    val_losses = []
    for epoch in range(max_epochs):
        train_one_epoch(model, optimizer)
        val_loss, val_acc = measure(model)
        val_losses.append(val_loss)
        if ...:  # 1. is this epoch better than the best so far?
            best_loss, waited = val_loss, 0
            best_state = ...  # 2. keep this epoch's weights
        else:
            waited += 1
            if waited >= patience:
                break
    ...  # 3. put the best weights back into the model
    return val_losses
'''


@dataclass
class LoopGrade:
    report: LoopReport = field(default_factory=LoopReport)
    note: str = ""
    attempt: int = 0
    best: dict | None = None

    @property
    def passed(self) -> bool:
        return not self.note and not self.report.error and self.report.passed

    def text(self) -> str:
        r = self.report
        if self.note:
            lines = [self.note]
        elif r.error:
            lines = [f"Cannot check your loop yet: {r.error}"]
        elif r.passed:
            lines = [f"Your loop is right: on {len(r.runs)} runs it stops {LOOP.train.patience} "
                     "epochs after its best epoch (or at max_epochs) and leaves that epoch's "
                     "weights in the model."]
            lines += [f"seed {run.seed}, max_epochs {run.max_epochs}: stopped after epoch "
                      f"{run.epochs}, kept epoch {run.kept}, validation loss "
                      f"{run.val_loss[run.kept - 1]:.3f} = the minimum of its curve"
                      for run in r.runs]
        else:
            lines = ["Not yet:"] + [f"- {problem}" for problem in r.problems]
            lines += [f"seed {run.seed}, max_epochs {run.max_epochs}: ran {run.epochs} epochs "
                      f"(right: {run.stop}), kept "
                      f"{'no epoch' if run.kept is None else f'epoch {run.kept}'} (right: epoch "
                      f"{run.best})" for run in r.runs]
        if self.attempt:
            lines.append(f"This is attempt {self.attempt}, saved in your progress file.")
        if self.best and self.best.get("n") != self.attempt:
            lines.append(f"Your best so far: attempt {self.best['n']} "
                         f"({'right' if self.best.get('passed') else 'not right yet'}).")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        tone = "var(--jp-success-color1, #388e3c)" if self.passed else "var(--jp-warn-color1, #f57c00)"
        body = html.escape(self.text()).replace("\n", "<br>")
        picture = self._picture() if self.report.runs else ""
        return (f'<div style="border-left:6px solid {tone};padding:6px 10px;background:'
                f'var(--jp-layout-color2, #f5f5f5);color:var(--jp-ui-font-color1, #212121)">'
                f"{body}</div>{picture}")

    def _picture(self) -> str:
        runs = self.report.runs
        fig = new_figure(figsize=(4.2 * len(runs), 2.8))
        for ax, run in zip(fig.subplots(1, len(runs), squeeze=False)[0], runs):
            epochs = range(1, run.epochs + 1)
            ax.plot(epochs, run.val_loss, "-o", ms=3, color=VAL_COLOR, label="validation loss")
            ax.axvline(run.best, color="gray", ls=":", label=f"lowest (epoch {run.best})")
            ax.axvline(run.stop + 0.08, color="gray", ls="--", lw=1, label=f"stop (epoch {run.stop})")
            if run.kept is not None:
                ax.plot(run.kept, run.val_loss[run.kept - 1], "s", ms=9, mfc="none", color="black",
                        label=f"your kept epoch ({run.kept})")
            ax.set_title(f"seed {run.seed}", fontsize=9)
            ax.set_xlabel("epoch")
            ax.legend(fontsize=7)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        return (f'<img alt="{html.escape(self.text())}" '
                f'src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">')


def is_starter(fit) -> bool:
    try:
        return _normalized(source_of(fit)) == _normalized(STARTER_FIT)
    except (ValueError, SyntaxError):
        return False


def check_my_loop(fit, record: bool = True, limits: Limits = Limits()) -> LoopGrade:
    """Run `fit` on the course's model and data (in fresh processes) and judge it by behaviour."""
    from quizzes.progress import Progress

    progress = Progress() if record else None
    best = None if progress is None else (progress.verdict(PROGRESS_KEY) or {}).get("best")
    if not callable(fit):
        return LoopGrade(LoopReport(error=f"pass your function itself (check_my_loop(fit)); got "
                                          f"{fit!r}"), best=best)
    cells = notebook_history()
    stale = latest_cell_problem(fit, cells)
    if stale:
        return LoopGrade(LoopReport(error=stale), best=best)
    keep_magic_cell_source(fit, cells)
    try:
        submission = LoopSubmission.of_function(fit)
    except ValueError as problem:
        return LoopGrade(LoopReport(error=str(problem)), best=best)
    if is_starter(fit):
        return LoopGrade(note="This is the starter, unedited: write the three lines marked 1, 2 "
                              "and 3 (they hold ... now), then run this cell.", best=best)
    report = grade_loop(submission, limits)
    if progress is None or report.grader_fault:  # the grader's failure is not an attempt
        return LoopGrade(report, best=best)
    entry = progress.record_attempt(PROGRESS_KEY, {
        "passed": report.passed, "error": report.error, "problems": report.problems,
        "rank": -1.0 if report.error else -len(report.problems), "code": source_of(fit)})
    return LoopGrade(report, attempt=entry["attempts"][-1]["n"], best=entry["best"])
