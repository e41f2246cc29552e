"""Notebook 05: diagnose learning curves the course itself produced, then the test.

Five pictures, each a real run of the course's `train()` (cached by `runs.run_many`): unstable,
overfitting, undertrained, healthy, and overfitting on the real data. Each is asked about with
quiz question d1-d5, and `claims()` checks that each picture really shows what its answer says,
so a change of data or code that turned an "undertrained" run into a healthy one fails loudly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..recipe import BASELINE, FIX, TASK
from ..results import Group
from ..runs import COURSE_DATA, DataSource, Experiment, Job, run_many
from ..training import History
from .real_data import CHANCE, OVERFIT, small
from ..ui.plots import TASK_LINES, plot_learning_curves


@dataclass(frozen=True)
class Case:
    question: str  # the quiz question about this picture
    diagnosis: str  # what the picture shows (the question's answer)
    experiment: Experiment
    data: DataSource = COURSE_DATA


def _variant(base: Experiment, name: str, **train: object) -> Experiment:
    return dataclasses.replace(base, name=name, description=name,
                               train=dataclasses.replace(base.train, **train))


CASES = (
    Case("d1", "unstable", _variant(BASELINE, "lr 3e-2", lr=3e-2, max_epochs=30)),
    Case("d2", "overfitting", BASELINE),
    Case("d3", "undertrained", _variant(FIX, "lr 1e-4, 10 epochs", lr=1e-4, max_epochs=10,
                                        early_stopping=False)),
    Case("d4", "healthy", FIX),
    Case("d5", "overfitting", OVERFIT, small(3)(0)),
)


def run_cases(workers: int = 2) -> dict[str, History]:
    """The run behind each picture (seed 0), by question id."""
    jobs = [Job(c.experiment.model, c.experiment.train, c.data) for c in CASES]
    return {c.question: run for c, run in zip(CASES, run_many(jobs, workers=workers))}


def zigzags(values: list[float], threshold: float) -> int:
    """How many times a curve changes direction by more than `threshold` (up then down)."""
    steps = [b - a for a, b in zip(values, values[1:]) if abs(b - a) > threshold]
    return sum(1 for a, b in zip(steps, steps[1:]) if a * b < 0)


def claims(runs: dict[str, History]) -> list[str]:
    """Which pictures do not show what their answer says ([] when all do)."""
    broken = []
    for case in CASES:
        h = runs[case.question]
        f = h.final
        rising_val_loss = h.val_loss[-1] >= 1.25 * min(h.val_loss)
        checks = {
            "unstable": [(zigzags(h.val_acc, 0.05) >= 4, "val accuracy zigzags >= 4 times by > 5 points"),
                         (f.val_acc < TASK.min_val_acc, "it never reaches the task")],
            "overfitting": [(f.train_acc >= 0.96, "train accuracy >= 96%"),
                            (f.train_acc - f.val_acc >= 0.15, "train - val >= 15 points"),
                            (rising_val_loss, "the val loss ends >= 1.25x its minimum"),
                            (h.best_epoch <= h.epochs // 2, "its best epoch is in the first half")],
            "undertrained": [(h.best_epoch == h.epochs, "the last epoch is the best so far"),
                             (h.train_acc[-1] > h.train_acc[0] + 0.05, "train accuracy still rising"),
                             (zigzags(h.val_acc, 0.02) == 0, "smooth curves"),
                             (f.val_acc < TASK.min_val_acc, "below the task")],
            "healthy": [(h.restored_best, "early stopping restored the best epoch"),
                        (TASK.check(h).passed, "the task passes"),
                        (f.train_acc - f.val_acc <= 0.06, "train - val <= 6 points")],
        }[case.diagnosis]
        broken += [f"{case.question} ({case.diagnosis}): {text}" for ok, text in checks if not ok]
    return broken


def picture(runs: dict[str, History], question: str):
    """The learning curves of one case, titled only by its number (the diagnosis is the quiz)."""
    number = [c.question for c in CASES].index(question) + 1
    case = CASES[number - 1]
    lines = TASK_LINES if case.data is COURSE_DATA else (CHANCE,)
    run = runs[question]
    return plot_learning_curves(run, f"Picture {number}", run.train_config.max_epochs, lines,
                                acc_ylim=(0.0, 1.02))


def groups(runs: dict[str, History]) -> list[Group]:
    return [Group(f"picture {i} ({c.question})", [runs[c.question]]) for i, c in enumerate(CASES, 1)]
