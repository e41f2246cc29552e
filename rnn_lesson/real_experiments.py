"""Notebook 04: the course's diagnosis on real sequences (Japanese Vowels, `real_data.py`).

The configurations, a runner over seeds, mean [min-max] tables, and the notebook's figures.
Every run goes through the course's one `train()`. The models here are small and their batches
short, so one torch thread is the fastest setting (and the least disturbed by other processes);
results do not depend on it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from typing import Callable, Iterable

import numpy as np
import torch

from .data import Dataset, Split
from .experiments import BASELINE, Experiment, Spread, run
from .models import ModelConfig
from .plots import draw_curves, new_figure
from .real_data import N_CLASSES, N_FEATURES
from .training import History, TrainConfig, evaluate

CELL_COLORS = {"rnn": "tab:red", "lstm": "tab:green", "gru": "tab:purple"}


def _real(model: ModelConfig) -> ModelConfig:
    return replace(model, input_size=N_FEATURES, num_classes=N_CLASSES)


# The course's overfitting baseline (notebook 02), unchanged but for the input and output sizes:
# a 2-layer nn.RNN of 128 units, no dropout, Adam at 3e-3 for 60 epochs, no early stopping.
OVERFIT = Experiment(
    name="overfit",
    description="the course's baseline: RNN 2x128, no dropout, lr 3e-3, 60 epochs, no early "
    "stopping",
    model=_real(BASELINE.model),
    train=BASELINE.train,
)

# The fix used on real data, for every cell and both training set sizes: 64 units, dropout 0.3
# inside the stack and after it, lr 3e-3, early stopping on val loss with patience 5, restoring
# the best epoch (at most 150 epochs: an epoch of 27 sequences is a single optimizer step).
FIX_MODEL = ModelConfig(cell="rnn", input_size=N_FEATURES, hidden_size=64, num_layers=2,
                        dropout=0.3, num_classes=N_CLASSES)
FIX_TRAIN = TrainConfig(lr=3e-3, batch_size=32, max_epochs=150, early_stopping=True, patience=5)


def fix(cell: str = "rnn") -> Experiment:
    return Experiment(
        name=f"fix {cell}",
        description=f"{cell.upper()} 2x64, dropout 0.3, lr 3e-3, early stopping (patience 5)",
        model=replace(FIX_MODEL, cell=cell),
        train=FIX_TRAIN,
    )


# The synthetic lesson's fix (notebook 02's REGULARIZED), transplanted as it is.
LESSON_FIX = Experiment(
    name="lesson's fix",
    description="notebook 02's fix as is: RNN 2x32, dropout 0.3, lr 1e-3, 60 epochs, patience 3",
    model=ModelConfig(cell="rnn", input_size=N_FEATURES, hidden_size=32, num_layers=2,
                      dropout=0.3, num_classes=N_CLASSES),
    train=TrainConfig(lr=1e-3, batch_size=32, max_epochs=60, early_stopping=True, patience=3),
)


# ---------------------------------------------------------------------------------------------
# Runs over seeds


@dataclass
class Runs:
    """Every seed of one configuration on one dataset: `histories[i]` is seed `seeds[i]`."""

    name: str
    seeds: tuple[int, ...]
    histories: list[History]

    def values(self, metric: str) -> list[float]:
        """One value per seed: a key of History.final, or "epochs", "best_epoch", "seconds",
        "min_val_loss"."""
        if metric == "epochs":
            return [float(h.epochs) for h in self.histories]
        if metric == "best_epoch":
            return [float(h.best_epoch) for h in self.histories]
        if metric == "seconds":
            return [h.seconds for h in self.histories]
        if metric == "min_val_loss":
            return [min(h.val_loss) for h in self.histories]
        return [h.final[metric] for h in self.histories]

    def spread(self, metric: str) -> "Spread":
        return Spread.of(self.values(metric))

    def renamed(self, name: str) -> "Runs":
        return Runs(name, self.seeds, self.histories)

    def evaluate_on(self, split: Split) -> list[float]:
        """The accuracy of every seed's model on another split (for instance without lengths)."""
        return [evaluate(h.model, split)[1] for h in self.histories]


def run_seeds(
    experiment: Experiment,
    data: Dataset | Callable[[int], Dataset],
    seeds: Iterable[int] = range(3),
    name: str | None = None,
) -> Runs:
    """Train `experiment` once per seed. `data` is a Dataset, or a function of the seed that
    returns one (for instance a different draw of the training subset for every seed)."""
    seeds = tuple(seeds)
    histories = [run(experiment, s, data(s) if callable(data) else data) for s in seeds]
    return Runs(name or experiment.name, seeds, histories)


DEFAULT_METRICS = ("train_acc", "val_acc", "test_acc", "val_loss", "epochs")


def table(rows: Iterable[Runs], metrics: Iterable[str] = DEFAULT_METRICS) -> str:
    """One line per configuration, one column per metric (see Runs.values): mean [min-max] over
    its seeds, accuracies in percent."""
    rows, metrics = list(rows), list(metrics)
    width = max(len(r.name) for r in rows) + 2
    lines = [f"{'':{width}s}" + "".join(f"{m:>22s}" for m in metrics) + "   seeds"]
    for r in rows:
        cells = []
        for metric in metrics:
            spread = r.spread(metric)
            if metric.endswith("_acc"):
                cells.append(spread.pct())
            elif metric in ("epochs", "best_epoch"):
                cells.append(f"{spread.mean:.0f} [{spread.low:.0f}-{spread.high:.0f}]")
            else:
                cells.append(spread.num())
        lines.append(f"{r.name:{width}s}" + "".join(f"{c:>22s}" for c in cells)
                     + f"   {len(r.seeds)}")
    return "\n".join(lines)


def length_only_accuracy(data: Dataset) -> float:
    """Test accuracy of a classifier that sees only the length: the most likely speaker for each
    length, from the training split's counts (add-one smoothing, ties to the first speaker)."""
    counts = np.ones((N_CLASSES, data.train.x.shape[1] + 1))
    for length, label in zip(data.train.lengths.tolist(), data.train.y.tolist()):
        counts[label, length] += 1
    likelihood = counts / counts.sum(axis=1, keepdims=True)
    prior = np.bincount(data.train.y.numpy(), minlength=N_CLASSES) / len(data.train)
    scores = np.log(likelihood[:, data.test.lengths.numpy()]).T + np.log(prior)
    return float((scores.argmax(axis=1) == data.test.y.numpy()).mean())


# ---------------------------------------------------------------------------------------------
# Figures


def plot_dataset(data: Dataset, example: int | None = None):
    """Lengths (histogram over all splits, and per speaker), and one utterance with its padding."""
    fig = new_figure(figsize=(12, 3.4))
    ax_hist, ax_speaker, ax_one = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.3]})
    max_len = data.train.x.shape[1]
    bins = np.arange(0.5, max_len + 1.5)
    splits = (("train", data.train), ("val", data.val), ("test", data.test))
    ax_hist.hist([s.lengths.numpy() for _, s in splits], bins=bins, stacked=True,
                 label=[f"{n} ({len(s)})" for n, s in splits],
                 color=["tab:blue", "tab:orange", "tab:gray"])
    ax_hist.set_xlabel("length (frames)")
    ax_hist.set_ylabel("utterances")
    ax_hist.set_title("Lengths 7-29: all padded to 29", fontsize=10)
    ax_hist.legend(fontsize=8)
    lengths = torch.cat([data.train.lengths, data.val.lengths])
    labels = torch.cat([data.train.y, data.val.y])
    ax_speaker.boxplot([lengths[labels == c].numpy() for c in range(N_CLASSES)],
                       tick_labels=[str(c + 1) for c in range(N_CLASSES)])
    ax_speaker.set_xlabel("speaker")
    ax_speaker.set_ylabel("length (frames)")
    ax_speaker.set_title("Lengths per speaker (train + val)", fontsize=10)
    if example is None:  # a short utterance, so that the padding shows
        example = int(torch.argmin(data.train.lengths))
    x, n = data.train.x[example], int(data.train.lengths[example])
    limit = float(x.abs().max())
    image = ax_one.imshow(x.T.numpy(), aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                          extent=(0.5, max_len + 0.5, N_FEATURES + 0.5, 0.5),
                          interpolation="nearest")
    ax_one.axvline(n + 0.5, color="black", lw=1.5)
    ax_one.text(n + 1.5, N_FEATURES / 2 + 0.5, "padding: zeros", fontsize=9, va="center")
    ax_one.set_xlabel("frame")
    ax_one.set_ylabel("coefficient")
    ax_one.set_yticks([1, 4, 8, 12])
    ax_one.set_title(f"One utterance (speaker {int(data.train.y[example]) + 1}, {n} frames), "
                     "standardized", fontsize=10)
    fig.colorbar(image, ax=ax_one, shrink=0.9)
    for ax in (ax_hist, ax_speaker):
        ax.grid(alpha=0.3)
    return fig


def plot_curves(history: History, title: str, max_epochs: int | None = None, ax_pair=None,
                acc_ylim: tuple[float, float] = (0.0, 1.02)):
    """Loss and accuracy per epoch, train vs val, the best epoch marked; no task lines (those are
    the synthetic lesson's), the y axis from 0 (9 classes: chance is 11%)."""
    if ax_pair is None:
        fig = new_figure(figsize=(10, 3.4))
        ax_loss, ax_acc = fig.subplots(1, 2)
    else:
        fig, (ax_loss, ax_acc) = None, ax_pair
    draw_curves(ax_loss, ax_acc, history, max_epochs)
    ax_acc.axhline(1 / N_CLASSES, color="gray", ls="--", lw=1, label="chance (1/9)")
    ax_acc.set_ylim(*acc_ylim)
    ax_acc.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax_loss.set_ylim(bottom=0)
    ax_loss.legend(loc="best", fontsize=8)
    ax_acc.legend(loc="best", fontsize=8)
    ax_loss.set_title(title, fontsize=10, loc="left")
    return fig


def plot_curve_pairs(pairs: list[tuple[History, str]], max_epochs: int | None = None):
    """Several runs' curves, one row each, sharing the x axis."""
    fig = new_figure(figsize=(10, 3.0 * len(pairs)))
    axes = fig.subplots(len(pairs), 2, squeeze=False)
    longest = max_epochs or max(h.epochs for h, _ in pairs)
    for (history, title), row in zip(pairs, axes):
        plot_curves(history, title, max_epochs=longest, ax_pair=tuple(row))
    return fig


def plot_seed_dots(groups: dict[str, dict[str, list[float]]], ylabel: str = "test accuracy",
                   title: str = ""):
    """Per-seed values (dots) and their mean (bar), grouped: `groups[group][cell] = [per seed]`."""
    fig = new_figure(figsize=(9, 3.4))
    ax = fig.subplots()
    names = list(groups)
    cells = list(dict.fromkeys(c for g in groups.values() for c in g))
    width = 0.8 / len(cells)
    for j, cell in enumerate(cells):
        color = CELL_COLORS.get(cell, "tab:blue")
        for i, group in enumerate(names):
            values = groups[group].get(cell)
            if not values:
                continue
            x = i + (j - (len(cells) - 1) / 2) * width
            ax.bar(x, statistics.fmean(values), width * 0.9, color=color, alpha=0.35,
                   label=f"nn.{cell.upper()}: mean" if i == 0 else None)
            ax.plot([x] * len(values), values, "o", color=color, ms=5,
                    label=f"nn.{cell.upper()}: one seed" if i == 0 else None)
    ax.axhline(1 / N_CLASSES, color="gray", ls="--", lw=1, label="chance (1/9)")
    ax.set_xticks(range(len(names)), names, fontsize=9)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    return fig
