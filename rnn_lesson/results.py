"""What many runs add up to: the spread of a metric over seeds, groups of runs, one table format.

Every multi-run experiment of the course returns `History` records (`training.py`, one per run);
this module summarizes them. A `Group` is "one configuration on several seeds"; `table()` prints
groups as rows of mean [min-max]. The task rule (`Task`) judges one run's final metrics.
"""

from __future__ import annotations

import html
import math
import statistics
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from .training import History


@dataclass(frozen=True)
class Spread:
    """Mean and range of one metric over seeds."""

    mean: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> "Spread":
        values = [float(v) for v in values]
        if not values:
            raise ValueError("a spread needs at least one value")
        return cls(statistics.fmean(values), min(values), max(values), len(values))

    def pct(self) -> str:
        """'88.1% [87.0-89.2]' for fractions."""
        return f"{self.mean:.1%} [{100 * self.low:.1f}-{100 * self.high:.1f}]"

    def num(self, digits: int = 2) -> str:
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}-{self.high:.{digits}f}]"


def metric(history: History, name: str) -> float:
    """One number of a run: a final metric ("val_acc"), "epochs", "best_epoch", "seconds",
    "min_val_loss", "gap" (train minus val accuracy), or a number in its `extras`."""
    if name in ("epochs", "best_epoch", "seconds"):
        return float(getattr(history, name))
    if name == "min_val_loss":
        return min(history.val_loss)
    if name == "gap":
        return history.final.train_acc - history.final.val_acc
    if name in history.extras:
        return float(history.extras[name])
    return getattr(history.final, name)


@dataclass
class Group:
    """The runs of one configuration on several seeds (`name` labels its row in a table)."""

    name: str
    runs: list[History] = field(default_factory=list)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(h.seed for h in self.runs)

    def values(self, name: str) -> list[float]:
        """One value per seed (see `metric`)."""
        return [metric(h, name) for h in self.runs]

    def spread(self, name: str) -> Spread:
        return Spread.of(self.values(name))

    def renamed(self, name: str) -> "Group":
        return Group(name, self.runs)


def group_by(runs: Iterable[History], key: Callable[[History], object]) -> dict[object, Group]:
    """Runs grouped by `key(run)`, in the order the keys first appear; each group named str(key)."""
    groups: dict[object, Group] = {}
    for run in runs:
        k = key(run)
        groups.setdefault(k, Group(str(k))).runs.append(run)
    return groups


DEFAULT_METRICS = ("train_acc", "val_acc", "test_acc", "val_loss", "epochs")


@dataclass(frozen=True)
class Table:
    """Groups as rows, metrics as columns, each cell the mean [min-max] over the group's seeds.

    Printed, it is text (the terminal, a saved notebook's text); in a notebook, an HTML table
    whose cells wrap between the mean and its range, never inside a word."""

    rows: tuple[Group, ...]
    metrics: tuple[str, ...]

    def cells(self) -> list[list[str]]:
        return [[format_spread(name, row.spread(name)) for name in self.metrics] for row in self.rows]

    def __str__(self) -> str:
        cells = self.cells()
        width = max(len(r.name) for r in self.rows) + 2
        widths = [max(len(m), *(len(c[i]) for c in cells)) + 2 for i, m in enumerate(self.metrics)]
        lines = [f"{'':{width}s}" + "".join(f"{m:>{w}s}" for m, w in zip(self.metrics, widths))
                 + "   seeds"]
        for row, line in zip(self.rows, cells):
            lines.append(f"{row.name:{width}s}" + "".join(f"{c:>{w}s}" for c, w in zip(line, widths))
                         + f"   {len(row.runs)}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        def cell(text: str) -> str:
            mean, _, spread = text.partition(" [")
            small = f"<br><small>[{html.escape(spread)}</small>" if spread else ""
            return f"<td style='text-align:right'>{html.escape(mean)}{small}</td>"
        head = "".join(f"<th style='text-align:right'>{html.escape(m)}</th>" for m in self.metrics)
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(row.name)}</th>"
                       + "".join(cell(c) for c in line) + f"<td>{len(row.runs)}</td></tr>"
                       for row, line in zip(self.rows, self.cells()))
        return (f"<table><thead><tr><th></th>{head}<th>seeds</th></tr></thead>"
                f"<tbody>{body}</tbody></table><small>mean [min-max] over the seeds</small>")


def table(rows: Sequence[Group], metrics: Sequence[str] = DEFAULT_METRICS) -> Table:
    """One row per group, one column per metric: mean [min-max] over its seeds, accuracies in %."""
    return Table(tuple(rows), tuple(metrics))


def lr_label(lr: float) -> str:
    """1e-3 rather than 1e-03 or 0.001, as on the slider."""
    return f"{lr:.0e}".replace("e-0", "e-")


def format_spread(name: str, spread: Spread) -> str:
    """How a metric reads in a table: accuracies in %, counts as integers, the rest 3 digits."""
    if name.endswith("_acc") or name == "gap":
        return spread.pct()
    if name in ("epochs", "best_epoch"):
        return f"{spread.mean:.1f} [{spread.low:.0f}-{spread.high:.0f}]"
    if name == "seconds":
        return spread.num(3)
    return f"{spread.mean:.3g} [{spread.low:.3g}-{spread.high:.3g}]"


@dataclass(frozen=True)
class Verdict:
    """A task's judgement of one run: passed, the two numbers, what failed, and a hint."""

    passed: bool
    train_acc: float
    val_acc: float
    failures: tuple[str, ...]  # one line per failed condition, with the distance to the line
    hint: str
    task: "Task"
    val_ok: bool = False  # val accuracy >= the task's line (as Task.check compared it)
    train_ok: bool = False  # train accuracy < the task's line

    def __str__(self) -> str:
        if self.passed:
            return (f"Task passed: val accuracy {self.val_acc:.1%} >= {self.task.min_val_acc:.0%} "
                    f"and train accuracy {self.train_acc:.1%} < {self.task.max_train_acc:.0%}.")
        return "Task not passed yet: " + "; ".join(self.failures) + f". Hint: {self.hint}"

    def short(self) -> str:
        """One line for a plot title or a banner: what failed, then what holds."""
        t = self.task
        val = f"val {self.val_acc:.1%} {'>=' if self.val_ok else '<'} {t.min_val_acc:.0%}"
        train = f"train {self.train_acc:.1%} {'<' if self.train_ok else '>='} {t.max_train_acc:.0%}"
        if self.passed:
            return f"Task passed: {val}, {train}"
        failed = [text for ok, text in ((self.val_ok, val), (self.train_ok, train)) if not ok]
        held = [text for ok, text in ((self.val_ok, val), (self.train_ok, train)) if ok]
        return ("Task not passed: " + " and ".join(failed or [val, train])
                + "".join(f" ({text} holds)" for text in held if failed))


@dataclass(frozen=True)
class Task:
    """A pass rule on one run: val accuracy >= `min_val_acc` while train accuracy < `max_train_acc`.

    The hints say what to try for each way of failing (a lesson supplies its own wording).
    A non-finite accuracy never passes.
    """

    min_val_acc: float
    max_train_acc: float
    hint_memorizes: str = ""  # val too low and train too high
    hint_train_high: str = ""  # val fine, train too high
    hint_val_low: str = ""  # both low, and the curves do not say why
    hint_stopped_early: str = ""  # both low at the kept epoch, but train kept climbing after it
    hint_undertrained: str = ""  # both low, still improving when training ended
    hint_not_finite: str = "the run produced NaN or infinite numbers: it diverged."

    def check(self, result: History | tuple[float, float]) -> Verdict:
        """Judge a run (its final metrics) or a (train_acc, val_acc) pair of fractions."""
        if isinstance(result, History):
            train_acc, val_acc = result.final.train_acc, result.final.val_acc
        else:
            train_acc, val_acc = result
        if not (math.isfinite(train_acc) and math.isfinite(val_acc)):
            failure = f"train accuracy {train_acc} and val accuracy {val_acc} are not both finite"
            return Verdict(False, train_acc, val_acc, (failure,), self.hint_not_finite, self)
        # Accuracies are counts over a split, computed in float32: compare them as the fractions
        # they are (850/1000 reads 0.8500000238, 184/200 reads 0.9200000167).
        low_val = val_acc < self.min_val_acc - 1e-6
        high_train = train_acc >= self.max_train_acc - 1e-6
        failures = []
        if low_val:
            failures.append(f"val accuracy {val_acc:.1%} is {100 * (self.min_val_acc - val_acc):.1f} "
                            f"points below {self.min_val_acc:.0%}")
        if high_train:
            over = 100 * (train_acc - self.max_train_acc)
            failures.append(f"train accuracy {train_acc:.1%} is not below {self.max_train_acc:.0%}"
                            + (f" ({over:.1f} points over)" if over >= 0.05 else ""))
        hint = (self.hint_memorizes if low_val and high_train else self.hint_train_high
                if high_train else self._why_low(result) if low_val else "")
        return Verdict(not failures, train_acc, val_acc, tuple(failures), hint, self,
                       val_ok=not low_val, train_ok=not high_train)

    def _why_low(self, result: History | tuple[float, float]) -> str:
        """Both accuracies low: the curves tell an early-stopped memorizer from a model that ran
        out of epochs (two numbers alone cannot)."""
        if isinstance(result, History) and result.epochs:
            kept = result.best_epoch or result.epochs
            climbed = max(result.train_acc) - result.train_acc[kept - 1]
            if result.restored_best and kept < result.epochs and climbed >= 0.02:
                return self.hint_stopped_early.format(epoch=kept, train=max(result.train_acc))
            if kept == result.epochs and result.epochs == result.train_config.max_epochs:
                return self.hint_undertrained or self.hint_val_low
        return self.hint_val_low
