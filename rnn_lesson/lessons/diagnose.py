"""Notebook 05: diagnose learning curves the course itself produced.

Five pictures, each a real run of the course's `train()` (cached by `runs.run_many`): unstable,
overfitting, undertrained, healthy, and overfitting on the real data. Notebook 05 asks about seed 1
of each (quiz questions d1-d5; notebooks 02 and 04 show seed 0 of some); the test (`mastery`) asks
about seeds 2-9, which no notebook shows. `shows()` checks that a run's picture really shows what its answer says, so a change of data
or code that turned an "undertrained" run into a healthy one fails loudly, and a test item is made
only from a run that passes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from ..recipe import BASELINE, FIX, TASK
from ..results import Group
from ..runs import COURSE_DATA, DataSource, Experiment, Job, run_many
from ..training import History
from ..ui.plots import TASK_LINES, plot_learning_curves
from .real_data import CHANCE, OVERFIT, small


def _course_data(seed: int) -> DataSource:
    return COURSE_DATA


@dataclass(frozen=True)
class Case:
    question: str  # the notebook's quiz question about this picture (seed 1)
    diagnosis: str  # what the picture shows (the question's answer)
    difficulty: str  # of its items in the test: the notebook question's own
    experiment: Experiment
    data: Callable[[int], DataSource] = _course_data  # the data of a seed

    def job(self, seed: int) -> Job:
        experiment = self.experiment.with_seed(seed)
        return Job(experiment.model, experiment.train, self.data(seed))

    @property
    def real_data(self) -> bool:
        return self.data is not _course_data


def _variant(base: Experiment, name: str, **train: object) -> Experiment:
    return dataclasses.replace(base, name=name, description=name,
                               train=dataclasses.replace(base.train, **train))


CASES = (
    Case("d1", "unstable", "easy", _variant(BASELINE, "lr 3e-2", lr=3e-2, max_epochs=30)),
    Case("d2", "overfitting", "easy", BASELINE),
    Case("d3", "undertrained", "medium", _variant(FIX, "lr 1e-4, 10 epochs", lr=1e-4, max_epochs=10,
                                                  early_stopping=False)),
    Case("d4", "healthy", "medium", FIX),
    Case("d5", "overfitting", "hard", OVERFIT, small(3)),
)
CASE_OF = {case.question: case for case in CASES}


def run_cases(workers: int = 2, seed: int = 0) -> dict[str, History]:
    """The run behind each picture (notebook 05 shows seed 1), by question id."""
    return dict(zip(CASE_OF, run_many([c.job(seed) for c in CASES], workers=workers)))


def zigzags(values: list[float], threshold: float) -> int:
    """How many times a curve changes direction by more than `threshold` (up then down)."""
    steps = [b - a for a, b in zip(values, values[1:]) if abs(b - a) > threshold]
    return sum(1 for a, b in zip(steps, steps[1:]) if a * b < 0)


def shows(diagnosis: str, h: History) -> list[str]:
    """What a run's curves fail to show of `diagnosis` ([] when they show it all)."""
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
                    (h.best_epoch < h.epochs, "the val loss rose after its minimum"),
                    (TASK.check(h).passed, "the task passes"),
                    (f.train_acc - f.val_acc <= 0.06, "train - val <= 6 points")],
    }[diagnosis]
    return [text for ok, text in checks if not ok]


def claims(runs: dict[str, History]) -> list[str]:
    """Which of the notebook's pictures do not show what their answer says ([] when all do)."""
    return [f"{c.question} ({c.diagnosis}): {text}" for c in CASES
            for text in shows(c.diagnosis, runs[c.question])]


def plot_case(case: Case, run: History, title: str):
    """A run's learning curves for diagnosis: the task lines on the course data, chance on the
    real data, accuracy from 0 (nine classes there)."""
    lines = (CHANCE,) if case.real_data else TASK_LINES
    return plot_learning_curves(run, title, run.train_config.max_epochs, lines,
                                acc_ylim=(0.0, 1.02))


def picture(runs: dict[str, History], question: str):
    """The learning curves of one case, titled only by its number (the diagnosis is the quiz)."""
    number = list(CASE_OF).index(question) + 1
    return plot_case(CASE_OF[question], runs[question], f"Picture {number}")


def groups(runs: dict[str, History]) -> list[Group]:
    return [Group(f"picture {i} ({c.question})", [runs[c.question]]) for i, c in enumerate(CASES, 1)]
