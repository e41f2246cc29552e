"""The lesson's two configurations, its task check, and the multi-seed reproduction of its claims."""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from typing import Callable, Iterable

from .data import Dataset, load_course_data
from .models import ModelConfig
from .training import EpochCallback, History, TrainConfig, train

# The task, as the lesson states it.
TASK_MIN_VAL_ACC = 0.85
TASK_MAX_TRAIN_ACC = 0.92


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    model: ModelConfig
    train: TrainConfig

    def with_seed(self, seed: int) -> "Experiment":
        return dataclasses.replace(self, train=dataclasses.replace(self.train, seed=seed))


BASELINE = Experiment(
    name="baseline",
    description="the overfitting model: a big RNN, no dropout, a high learning rate, 60 epochs",
    model=ModelConfig(cell="rnn", hidden_size=128, num_layers=2, dropout=0.0),
    train=TrainConfig(lr=3e-3, batch_size=32, max_epochs=60, early_stopping=False),
)

REGULARIZED = Experiment(
    name="regularized",
    description="the lesson's fix: dropout 0.3 inside nn.RNN and after it, hidden 32, "
    "Adam lr 1e-3, early stopping on val loss (patience 3) restoring the best weights",
    model=ModelConfig(cell="rnn", hidden_size=32, num_layers=2, dropout=0.3),
    train=TrainConfig(lr=1e-3, batch_size=32, max_epochs=60, early_stopping=True, patience=3),
)

EXPERIMENTS = {e.name: e for e in (BASELINE, REGULARIZED)}


def run(
    experiment: Experiment,
    seed: int = 0,
    data: Dataset | None = None,
    on_epoch_end: EpochCallback | None = None,
) -> History:
    """Train one named configuration on one seed."""
    exp = experiment.with_seed(seed)
    return train(exp.model, exp.train, data, on_epoch_end)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    train_acc: float
    val_acc: float
    failures: tuple[str, ...]  # one line per failed condition, with the distance to the line
    hint: str

    def __str__(self) -> str:
        if self.passed:
            return (
                f"Task passed: val accuracy {self.val_acc:.1%} >= {TASK_MIN_VAL_ACC:.0%} and "
                f"train accuracy {self.train_acc:.1%} < {TASK_MAX_TRAIN_ACC:.0%}."
            )
        return "Task not passed yet: " + "; ".join(self.failures) + f". Hint: {self.hint}"

    def short(self) -> str:
        """One line for a plot title or a banner."""
        marks = (
            f"val {self.val_acc:.1%} {'>=' if self.val_acc >= TASK_MIN_VAL_ACC else '<'} 85%, "
            f"train {self.train_acc:.1%} {'<' if self.train_acc < TASK_MAX_TRAIN_ACC else '>='} 92%"
        )
        return f"{'Task passed' if self.passed else 'Task not passed'}: {marks}"


def check_task(result: History | tuple[float, float]) -> Verdict:
    """The lesson's task: val accuracy >= 85% while train accuracy stays < 92%.

    Accepts a History (its final metrics) or a (train_acc, val_acc) pair of fractions.
    """
    if isinstance(result, History):
        train_acc, val_acc = result.final["train_acc"], result.final["val_acc"]
    else:
        train_acc, val_acc = result
    low_val = val_acc < TASK_MIN_VAL_ACC
    high_train = train_acc >= TASK_MAX_TRAIN_ACC
    failures = []
    if low_val:
        failures.append(
            f"val accuracy {val_acc:.1%} is {100 * (TASK_MIN_VAL_ACC - val_acc):.1f} points "
            f"below {TASK_MIN_VAL_ACC:.0%}"
        )
    if high_train:
        over = 100 * (train_acc - TASK_MAX_TRAIN_ACC)
        failures.append(
            f"train accuracy {train_acc:.1%} is not below {TASK_MAX_TRAIN_ACC:.0%}"
            + (f" ({over:.1f} points over)" if over >= 0.05 else "")
        )
    if low_val and high_train:
        hint = (
            "the model memorizes the training set (label noise included): add dropout (~0.3), "
            "shrink the hidden size (~32), lower the learning rate and turn on early stopping."
        )
    elif high_train:
        hint = (
            "it generalizes but still memorizes noisy labels: a little more dropout or early "
            "stopping that restores the best epoch."
        )
    elif low_val:
        hint = (
            "train and val are both low, so the model underfits: less dropout, a larger hidden "
            "size, a higher learning rate or more patience."
        )
    else:
        hint = ""
    return Verdict(not failures, train_acc, val_acc, tuple(failures), hint)


def missing_fixes(model: ModelConfig, training: TrainConfig) -> list[str]:
    """Which of the lesson's four changes a setting does not have yet (for a targeted hint)."""
    checks = [
        (model.dropout >= 0.2, "dropout (0.3)"),
        (model.hidden_size <= 64, "a smaller hidden size (32)"),
        (training.lr <= 1e-3, "a lower learning rate (1e-3)"),
        (training.early_stopping, "early stopping"),
    ]
    return [fix for present, fix in checks if not present]


# The course's claims about the two configurations, required on every seed (fractions).
def claim_failures(name: str, metrics: dict[str, float]) -> list[str]:
    """Which of the course's claims a run breaks ([] when it reproduces the lesson's story)."""
    train_acc, val_acc, val_loss = metrics["train_acc"], metrics["val_acc"], metrics["val_loss"]
    if name == "regularized":
        return list(check_task((train_acc, val_acc)).failures)
    if name == "baseline":
        checks = [
            (train_acc >= 0.96, f"train accuracy {train_acc:.1%} < 96%"),
            (val_acc <= 0.82, f"val accuracy {val_acc:.1%} > 82%"),
            (train_acc - val_acc >= 0.15, f"gap {100 * (train_acc - val_acc):.1f} points < 15"),
            (val_loss >= 0.8, f"val loss {val_loss:.2f} < 0.8"),
        ]
        return [message for ok, message in checks if not ok]
    raise ValueError(f"no claims for {name!r}: choose one of {sorted(EXPERIMENTS)}")


METRICS = ("train_acc", "val_acc", "test_acc", "train_loss", "val_loss", "test_loss")


def reproduce(
    seeds: Iterable[int] = range(10),
    experiments: Iterable[Experiment] = (BASELINE, REGULARIZED),
    data: Dataset | None = None,
    progress: Callable[[str, int, History], None] | None = None,
) -> dict[str, dict[str, list[float]]]:
    """Train every experiment on every seed: {name: {metric: [one value per seed]}}.

    Metrics: train/val/test accuracy (fractions) and loss, epochs, seconds.
    """
    data = load_course_data() if data is None else data
    results: dict[str, dict[str, list[float]]] = {}
    for experiment in experiments:
        table = results.setdefault(experiment.name, {k: [] for k in (*METRICS, "epochs", "seconds")})
        for seed in seeds:
            history = run(experiment, seed, data)
            for key in METRICS:
                table[key].append(history.final[key])
            table["epochs"].append(history.epochs)
            table["seconds"].append(history.seconds)
            if progress is not None:
                progress(experiment.name, seed, history)
    return results


def summary_table(results: dict[str, dict[str, list[float]]]) -> str:
    """mean [min, max] over seeds of every metric, one column per configuration."""
    names = list(results)
    lines = [f"{'metric':12s}" + "".join(f"{n + ' mean [min, max]':>30s}" for n in names)]
    for key in results[names[0]]:
        cells = []
        for name in names:
            values = results[name][key]
            fmt = _percent if key.endswith("_acc") else _number
            cells.append(f"{fmt(statistics.mean(values))} [{fmt(min(values))}, {fmt(max(values))}]")
        lines.append(f"{key:12s}" + "".join(f"{c:>30s}" for c in cells))
    return "\n".join(lines)


# What the lesson claims (it trained on random data, so these were never measured).
LESSON_CLAIMS = {
    "baseline": {"train_acc": 0.98, "val_acc": 0.70, "train_loss": 0.05, "val_loss": 0.85},
    "regularized": {"train_acc": 0.90, "val_acc": 0.87, "train_loss": 0.25, "val_loss": 0.40},
}


def lesson_comparison(results: dict[str, dict[str, list[float]]]) -> str:
    """The lesson's claimed numbers next to our measured means (and min-max) over seeds."""
    lines = [f"{'':12s}{'lesson (claimed)':>18s}{'course (measured) mean [min, max]':>38s}"]
    for name in ("baseline", "regularized"):
        lines.append(f"{name}:")
        for key, claimed in LESSON_CLAIMS[name].items():
            values = results[name][key]
            fmt = _percent if key.endswith("_acc") else _number
            measured = f"{fmt(statistics.mean(values))} [{fmt(min(values))}, {fmt(max(values))}]"
            lines.append(f"  {key:10s}{fmt(claimed):>18s}{measured:>38s}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Spread:
    """Mean and range of one metric over seeds."""

    mean: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> "Spread":
        values = list(values)
        return cls(statistics.fmean(values), min(values), max(values), len(values))

    def pct(self) -> str:
        """'88.1% [87.0-89.2]' for fractions."""
        return f"{self.mean:.1%} [{100 * self.low:.1f}-{100 * self.high:.1f}]"

    def num(self, digits: int = 2) -> str:
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}-{self.high:.{digits}f}]"


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _number(value: float) -> str:
    return f"{value:.3g}"
