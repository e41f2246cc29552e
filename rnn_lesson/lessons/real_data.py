"""Notebook 04: the course's diagnosis on real sequences (Japanese Vowels, `japanese_vowels.py`).

The configurations, a runner over seeds, mean [min-max] tables, and the notebook's figures.
Every run goes through the course's one `train()`. The models here are small and their batches
short, so one torch thread is the fastest setting (and the least disturbed by other processes);
results do not depend on it.
"""

from __future__ import annotations

import math
import statistics
import dataclasses
from dataclasses import replace
from typing import Callable, Iterable

import numpy as np
import torch

from ..data import Dataset, Split
from ..japanese_vowels import (N_CLASSES, N_FEATURES, load_japanese_vowels, train_subset,
                               without_lengths)
from ..models import (ModelConfig, build_model, count_parameters,  # noqa: F401 (notebook 04
                      multiply_adds_per_step)                        # imports it from here)
from ..recipe import BASELINE, FIX
from ..results import Group, Spread, table  # noqa: F401  (the notebook imports them here)
from ..runs import DataSource, Experiment, run_many
from ..training import History, TrainConfig, evaluate
from ..ui.plots import CELL_COLORS, Line, new_figure, plot_learning_curves


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
        description=f"{cell.upper()} 2x64, dropout 0.3, lr 3e-3, early stopping (patience 5), "
        f"at most {FIX_TRAIN.max_epochs} epochs",
        model=replace(FIX_MODEL, cell=cell),
        train=FIX_TRAIN,
    )


# The synthetic lesson's fix (notebook 02's FIX), transplanted as it is.
LESSON_FIX = Experiment(
    name="lesson's fix",
    description=f"notebook 02's fix as is: RNN 2x32, dropout 0.3, lr 1e-3, at most "
    f"{FIX.train.max_epochs} epochs, early stopping (patience 3)",
    model=_real(FIX.model),
    train=FIX.train,
)


# ---------------------------------------------------------------------------------------------
# The data and the runs over seeds


def padded_vowels() -> Dataset:
    """The same tensors without the lengths (see `japanese_vowels.without_lengths`)."""
    return without_lengths(load_japanese_vowels())


def small_vowels(per_class: int, seed: int) -> Dataset:
    """`per_class` training utterances per speaker, drawn by `seed`; the same val and test."""
    return train_subset(load_japanese_vowels(), per_class=per_class, seed=seed)


VOWELS = DataSource(load_japanese_vowels)
PADDED = DataSource(padded_vowels)


def small(per_class: int) -> "Callable[[int], DataSource]":
    """The data of each seed: its own draw of `per_class` utterances per speaker."""
    return lambda seed: DataSource(small_vowels, (per_class, seed))


def measure_run(history: History, data: Dataset) -> dict:
    """The trained model's test accuracy with the lengths flipped: without them if it was
    trained with them, with them if it was trained without (notebook 04's packing question)."""
    test = load_japanese_vowels().test
    other = without_lengths(load_japanese_vowels()).test if data.test.lengths is not None else test
    device = next(history.model.parameters()).device
    lengths = None if other.lengths is None else other.lengths.to(device)
    other = Split(other.x.to(device), other.y.to(device), lengths)
    return {"test_acc_other_lengths": evaluate(history.model, other)[1]}


def run_seeds(
    experiment: Experiment,
    data: DataSource | Callable[[int], DataSource],
    seeds: Iterable[int] = range(3),
    name: str | None = None,
    workers: int = 2,
) -> Group:
    """Train `experiment` once per seed (cached, on worker processes). `data` is a DataSource,
    or a function of the seed that returns one (a different training subset for every seed)."""
    seeds = list(seeds)
    jobs = [job for s in seeds
            for job in experiment.jobs([s], data(s) if callable(data) else data, measure_run)]
    return Group(name or experiment.name, run_many(jobs, workers=workers))


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


# What a step costs, counted (not timed: a time depends on the machine and what else runs on it)

def weights(model: ModelConfig) -> int:
    """The model's trained parameters, counted by PyTorch."""
    return count_parameters(build_model(model))


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


CHANCE = Line(1 / N_CLASSES, "chance (1/9)", "gray", ":")  # dotted, like every reference line


def plot_curves(history: History, title: str, max_epochs: int | None = None, ax_pair=None):
    """Loss and accuracy per epoch with the chance line, the y axis from 0 (9 classes)."""
    return plot_learning_curves(history, title, max_epochs, (CHANCE,), (0.0, 1.02), ax_pair)


def plot_curve_pairs(pairs: list[tuple[History, str]], max_epochs: int | None = None):
    """Several runs' curves, one row each, sharing the x axis."""
    fig = new_figure(figsize=(10, 3.0 * len(pairs)))
    axes = fig.subplots(len(pairs), 2, squeeze=False)
    longest = max_epochs or max(h.epochs for h, _ in pairs)
    for (history, title), row in zip(pairs, axes):
        plot_curves(history, title, max_epochs=longest, ax_pair=tuple(row))
        row[0].legend(loc="best", fontsize=8)  # a run that barely trains has its curves up left
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
    ax.axhline(CHANCE.y, color=CHANCE.color, ls=CHANCE.style, lw=1, label=CHANCE.label)
    ax.set_xticks(range(len(names)), names, fontsize=9)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title, fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------
# Against the published table: a recipe chosen on validation only, then one look at the test set


# Test accuracy on the official split (270 train / 370 test), as published. We did not re-run
# these; the sources are named so that a reader can check them.
SOURCES = {
    "Bagnall 2018": "Bagnall et al. 2018, The UEA multivariate time series classification archive, "
                    "arXiv:1811.00075",
    "Ruiz 2021": "Ruiz et al. 2021, The great multivariate time series classification bake off, "
                 "Data Mining and Knowledge Discovery 35",
    "Dempster 2021": "Dempster, Schmidt & Webb 2021, MiniRocket, KDD 2021 (UEA results)",
    "Ismail Fawaz 2019": "Ismail Fawaz et al. 2019, Deep learning for time series classification: "
                         "a review, Data Mining and Knowledge Discovery 33",
}
PUBLISHED = (  # (method, test accuracy, key of SOURCES)
    ("dependent 1-NN DTW", 0.949, "Bagnall 2018"),
    ("independent 1-NN DTW", 0.959, "Bagnall 2018"),
    ("ROCKET", 0.965, "Ruiz 2021"),
    ("MiniRocket", 0.989, "Dempster 2021"),
    ("MLP", 0.976, "Ismail Fawaz 2019"),
    ("ResNet", 0.992, "Ismail Fawaz 2019"),
    ("FCN", 0.993, "Ismail Fawaz 2019"),
)


def vowels_with_differences(val_fraction: float, fold: int | None = None) -> Dataset:
    """The recipe's data: frames and their first differences (24 features). `fold` k: 180 train
    and 90 validation of a 3-fold split of the 270, for choosing; `val_fraction=0`: all 270, for
    the final run."""
    return load_japanese_vowels(val_fraction=val_fraction, differences=True, fold=fold)


FOLD_DATA = tuple(DataSource(vowels_with_differences, (1 / 3, k)) for k in range(3))
FINAL_DATA = DataSource(vowels_with_differences, (0.0,))  # all 270; no validation set

# The recipe, chosen on validation folds of the 270 training recordings (the test set was not
# looked at): a GRU of 2 x 64 on frames and their first differences, dropout 0.3, Adam 3e-3
# with weight decay 3e-3, no early stopping. How long to train is chosen below, from the folds' mean
# validation loss; the final run then takes as many optimizer steps on all 270.
RECIPE_MODEL = ModelConfig(cell="gru", input_size=2 * N_FEATURES, hidden_size=64, num_layers=2,
                           dropout=0.3, num_classes=N_CLASSES)
RECIPE_TRAIN = TrainConfig(lr=3e-3, batch_size=32, max_epochs=120, weight_decay=3e-3,
                           early_stopping=False)
RECIPE = Experiment("recipe", "GRU 2x64 on frames and their first differences, dropout 0.3, "
                    "Adam lr 3e-3, weight decay 3e-3, no early stopping",
                    RECIPE_MODEL, RECIPE_TRAIN)


def choose_epochs(folds: Group) -> tuple[int, list[float]]:
    """The epoch with the lowest validation loss averaged over the folds, and that mean curve."""
    curves = [run.val_loss for run in folds.runs]
    mean = [statistics.fmean(values) for values in zip(*curves)]
    return mean.index(min(mean)) + 1, mean


def final_epochs(chosen_epoch: int, train_before: int = 180, train_after: int = 270) -> int:
    """As many optimizer steps on more data (batch 32): epochs x batches per epoch."""
    steps = chosen_epoch * math.ceil(train_before / 32)
    return int(round(steps / math.ceil(train_after / 32)))


def measure_speakers(history: History, data: Dataset) -> dict:
    """Test accuracy per speaker (the test set has 24 to 88 recordings of each)."""
    history.model.eval()
    device = next(history.model.parameters()).device
    with torch.no_grad():
        predicted = history.model(data.test.x.to(device), data.test.lengths.to(device))
        predicted = predicted.argmax(dim=1).cpu()
    y = data.test.y
    return {f"speaker_{c + 1}": float((predicted[y == c] == c).float().mean())
            for c in range(N_CLASSES)}


def run_folds(workers: int = 2) -> Group:
    """The recipe on each of the three folds (seed 0): validation curves only."""
    jobs = [job for data in FOLD_DATA for job in RECIPE.jobs([0], data)]
    return Group("3 folds of the 270", run_many(jobs, workers=workers))


def run_final(epochs: int, seeds: Iterable[int] = range(5), workers: int = 2) -> Group:
    """The recipe on all 270 for `epochs` epochs, one run per seed, then the test set once."""
    final = dataclasses.replace(RECIPE, train=dataclasses.replace(RECIPE_TRAIN, max_epochs=epochs))
    return Group(f"all 270, {epochs} epochs",
                 run_many(final.jobs(list(seeds), FINAL_DATA, measure_speakers), workers=workers))


def published_table(ours: Group) -> str:
    """Our mean [min-max] test accuracy beside the published results, best first, then the
    sources in full."""
    rows = [(acc, name, key) for name, acc, key in PUBLISHED]
    spread = ours.spread("test_acc")
    rows.append((spread.mean, f"this course: GRU 2x64 + first differences ({len(ours.runs)} seeds)",
                 f"measured here, {100 * spread.low:.1f}-{100 * spread.high:.1f}% over seeds"))
    lines = [f"{100 * acc:5.1f}%  {name:50s} {source}"
             for acc, name, source in sorted(rows, reverse=True)]
    lines += ["", "Sources (as published; not re-run here):"]
    lines += [f"  {key}: {reference}" for key, reference in SOURCES.items()]
    return "\n".join(lines)


def published_standing(ours: Group) -> tuple[list[str], list[str]]:
    """The published methods below our mean test accuracy, and those at or above it."""
    mean = ours.spread("test_acc").mean
    below = [name for name, acc, _ in sorted(PUBLISHED, key=lambda row: row[1]) if acc < mean]
    above = [name for name, acc, _ in sorted(PUBLISHED, key=lambda row: row[1]) if acc >= mean]
    return below, above


def plot_fold_choice(folds: Group, chosen: int, mean_curve: list[float]):
    """The validation loss of each fold and their mean per epoch (log scale), the chosen epoch
    marked; beside it, the validation accuracy of each fold and their mean."""
    fig = new_figure(figsize=(10, 3.4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = range(1, len(mean_curve) + 1)
    mean_acc = [statistics.fmean(v) for v in zip(*(run.val_acc for run in folds.runs))]
    for k, run in enumerate(folds.runs):
        label = "one fold (180 train, 90 validation)" if k == 0 else None
        ax_loss.plot(epochs, run.val_loss, color="tab:orange", lw=0.8, alpha=0.45, label=label)
        ax_acc.plot(epochs, run.val_acc, color="tab:orange", lw=0.8, alpha=0.45, label=label)
    mean_label = f"mean of {len(folds.runs)} folds"
    ax_loss.plot(epochs, mean_curve, color="black", lw=1.6, label=mean_label)
    ax_acc.plot(epochs, mean_acc, color="black", lw=1.6, label=mean_label)
    for ax in (ax_loss, ax_acc):
        ax.axvline(chosen, color="tab:purple", ls="--", lw=1.2, label=f"chosen: epoch {chosen}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.set_xlim(0.5, len(mean_curve) + 0.5)
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("validation loss (log scale)")
    ax_loss.set_title("Choosing how long to train: the lowest mean validation loss", fontsize=10)
    ax_loss.legend(fontsize=8)
    ax_acc.set_ylim(0.6, 1.01)
    ax_acc.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.set_title("Validation accuracy per fold (the test set is not used)", fontsize=10)
    ax_acc.legend(fontsize=8, loc="lower right")
    return fig
