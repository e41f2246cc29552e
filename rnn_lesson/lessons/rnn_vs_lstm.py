"""Notebook 03, the bonus: `nn.RNN` vs `nn.LSTM` vs `nn.GRU`.

Two experiments and one explanation:

* `compare_cells`: the lesson's fix with each cell on the course data.
* `accuracy_vs_length`: a variant whose ramp sits in the first `SIGNAL_STEPS` steps only, followed
  by more and more steps of noise, so the network must carry what it saw early to the end.
* `gradient_norm_per_step`: how much of the loss's gradient reaches each input step, which is why
  the plain RNN fails first on long sequences.

Every run goes through the course's one `train()`, by `runs.run_many` (worker processes, cached):
each run's record keeps its parameter count and the gradient profile of its trained model in
`extras`, measured in the worker by `measure_run`.
"""

from __future__ import annotations

import dataclasses
import functools
import html
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..data import COURSE_SPEC, Dataset, DatasetSpec, Split, make_dataset
from ..models import ModelConfig, build_model, count_parameters, multiply_adds_per_step
from ..recipe import BEST_POSSIBLE, FIX
from ..results import Group, Spread, group_by
from ..runs import COURSE_DATA, DataSource, Experiment, Job, run_many
from ..training import History, TrainConfig
from ..ui.plots import CELL_COLORS, CELL_LABELS, new_figure

CELL_ORDER = ("rnn", "lstm", "gru")

# The long-sequence variant: the course's data generator with the ramp in the first 10 steps only
# (then noise and pulses until step T), one recurrent layer of 32 units without dropout so that
# only the cell differs, and a fixed training budget: early stopping with patience 10, at most 40
# epochs. 1000 training sequences: with 500 the LSTM's escape from the initial plateau at T=30
# often takes longer than the patience. This experiment is about memory over time, not about
# overfitting, so its generator keeps the ramp and label noise but drops what makes the course
# data easy to memorize: no per-sequence offsets, and three pulses of +-8.
LONG_BASE = dataclasses.replace(COURSE_SPEC, signal=1.3, distractor_offset=0.0, pulses=3,
                                pulse_amplitude=8.0)
SIGNAL_STEPS = 10
LONG_N_TRAIN = 1000
LONG_MODEL = ModelConfig(cell="rnn", hidden_size=32, num_layers=1, dropout=0.0)
LONG_TRAIN = TrainConfig(lr=1e-3, batch_size=32, max_epochs=40, early_stopping=True, patience=10)
GRADIENT_BATCH = 256  # validation sequences averaged in a gradient-norm profile


def long_spec(seq_len: int, n_train: int = LONG_N_TRAIN) -> DatasetSpec:
    """LONG_BASE at length `seq_len`, the ramp in the first SIGNAL_STEPS steps."""
    return dataclasses.replace(LONG_BASE, seq_len=seq_len, signal_steps=SIGNAL_STEPS, n_train=n_train)


# ---------------------------------------------------------------------------------------------
# Runs


def measure_run(history: History, data: Dataset) -> dict:
    """What notebook 03 reads of a trained model: its size and its gradient profile."""
    device = next(history.model.parameters()).device
    val = Split(data.val.x.to(device), data.val.y.to(device))
    return {"parameters": count_parameters(history.model),
            "grad_norms": gradient_norm_per_step(history.model, val).cpu().tolist()}


@functools.lru_cache(maxsize=8)
def dataset_for(spec: DatasetSpec) -> Dataset:
    """The data of a spec, generated once per process."""
    return make_dataset(spec)


def data_for(spec: DatasetSpec) -> DataSource:
    """The course data (fingerprint-checked) for the course spec, else the spec's own data."""
    return COURSE_DATA if spec == COURSE_SPEC else DataSource(dataset_for, (spec,))


def run_cells(models: list[tuple[ModelConfig, TrainConfig, DatasetSpec]], workers: int = 2,
              cache: bool = True) -> dict[tuple[str, int], Group]:
    """Train every (model, training, data spec), grouped by (cell, seq_len) in first-seen order."""
    jobs = [Job(m, t, data_for(spec), measure_run) for m, t, spec in models]
    records = run_many(jobs, workers=workers, cache=cache)
    groups = group_by(records, lambda h: (h.model_config.cell, len(h.extras["grad_norms"])))
    for (cell, seq_len), group in groups.items():
        group.name = cell
    return groups



# ---------------------------------------------------------------------------------------------
# Experiment 1: the lesson's fix with each cell, on the course data


# The lesson's fix with its cap on epochs lifted: early stopping ends every run at its own best
# epoch, so that a cell that settles more slowly is not compared at the fix's cap of 16.
OWN_BEST = dataclasses.replace(
    FIX, name="fix, cap lifted", description="the lesson's fix, at most 60 epochs",
    train=dataclasses.replace(FIX.train, max_epochs=60))


def compare_cells(
    cells: Sequence[str] = CELL_ORDER,
    seeds: Iterable[int] = range(3),
    experiment: Experiment = FIX,
    spec: DatasetSpec = COURSE_SPEC,
    workers: int = 2,
) -> list[Group]:
    """Train `experiment` with each cell on each seed: one Group per cell, in `cells` order."""
    seeds = list(seeds)
    models = [(dataclasses.replace(experiment.model, cell=cell),
               dataclasses.replace(experiment.train, seed=seed), spec)
              for cell in cells for seed in seeds]
    return list(run_cells(models, workers).values())


def format_comparison(rows: Sequence[Group]) -> str:
    """A plain-text table: accuracy and epochs mean [min-max] over seeds, parameters, and the
    multiply-adds of one time step (the cost of an epoch, on any machine)."""
    lines = [f"{'cell':6}{'val accuracy':>22}{'test accuracy':>22}{'parameters':>12}"
             f"{'epochs':>18}{'multiply-adds per step':>25}"]
    for row in rows:
        epochs = row.spread("epochs")
        cost = multiply_adds_per_step(row.runs[0].model_config)
        lines.append(
            f"{row.name:6}{row.spread('val_acc').pct():>22}{row.spread('test_acc').pct():>22}"
            f"{int(row.runs[0].extras['parameters']):>12,}{f'{epochs.mean:.1f} [{epochs.low:.0f}-{epochs.high:.0f}]':>18}"
            f"{cost:>25,}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Experiment 2: accuracy against sequence length, the ramp in the first steps only


def accuracy_vs_length(
    lengths: Sequence[int] = (10, 20, 30),
    cells: Sequence[str] = CELL_ORDER,
    seeds: Iterable[int] = range(3),
    n_train: int = LONG_N_TRAIN,
    model: ModelConfig = LONG_MODEL,
    training: TrainConfig = LONG_TRAIN,
    workers: int = 2,
) -> dict[tuple[str, int], Group]:
    """Train each cell on each length and seed: {(cell, seq_len): Group}, lengths outermost."""
    seeds = list(seeds)
    models = [(dataclasses.replace(model, cell=cell), dataclasses.replace(training, seed=seed),
               long_spec(seq_len, n_train))
              for seq_len in lengths for cell in cells for seed in seeds]
    return run_cells(models, workers)


def format_length_table(table: dict[tuple[str, int], Group], metric: str = "test_acc") -> str:
    """Rows: cells; columns: lengths; entries: mean [min-max] over seeds."""
    lengths = sorted({length for _, length in table})
    cells = [c for c in CELL_ORDER if any(cell == c for cell, _ in table)]
    lines = [f"{'cell':6}" + "".join(f"{f'T={length}':>22}" for length in lengths)]
    for cell in cells:
        lines.append(f"{cell:6}" + "".join(f"{table[cell, length].spread(metric).pct():>22}"
                                            for length in lengths))
    return "\n".join(lines)


def accuracies_by_cell(
    table: dict[tuple[str, int], Group], metric: str = "test_acc"
) -> tuple[list[int], dict[str, list[list[float]]]]:
    """(lengths, {cell: [per-seed values at each length]}): the input of plot_accuracy_vs_length."""
    lengths = sorted({length for _, length in table})
    cells = [c for c in CELL_ORDER if any(cell == c for cell, _ in table)]
    return lengths, {
        cell: [table[cell, length].values(metric) for length in lengths]
        for cell in cells
    }


# ---------------------------------------------------------------------------------------------
# The explanation: the gradient that reaches each time step


def gradient_norm_per_step(model: nn.Module, split: Split, n: int = GRADIENT_BATCH) -> torch.Tensor:
    """||d loss / d x_t|| for each step t, averaged over the first `n` sequences: shape (seq_len,).

    The loss is the mean cross-entropy of the batch, computed in eval mode (no dropout). This is
    the signal that tells the network how to use input step t; the parameters' own gradients are
    sums of such contributions over the steps. The model's mode and gradients are left untouched.
    """
    x = split.x[:n].clone().requires_grad_(True)
    was_training = model.training
    model.eval()
    try:
        loss = F.cross_entropy(model(x), split.y[:n])
        (grad,) = torch.autograd.grad(loss, x)
    finally:
        model.train(was_training)
    return grad.norm(dim=2).mean(dim=0)


def initial_gradient_norms(
    cell: str,
    seq_len: int,
    seeds: Iterable[int] = range(3),
    model: ModelConfig = LONG_MODEL,
) -> torch.Tensor:
    """gradient_norm_per_step of freshly initialized models: shape (len(seeds), seq_len).

    Seed s gives exactly the initial weights that `train()` starts from with seed s. The global
    random state is left untouched.
    """
    split = data_for(long_spec(seq_len)).load().val
    profiles = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            fresh = build_model(dataclasses.replace(model, cell=cell))
        profiles.append(gradient_norm_per_step(fresh, split))
    return torch.stack(profiles)


def trained_gradient_norms(table: dict[tuple[str, int], Group], cell: str, seq_len: int) -> torch.Tensor:
    """The gradient profiles of the trained models of a sweep: shape (seeds, seq_len)."""
    return torch.tensor([r.extras["grad_norms"] for r in table[cell, seq_len].runs])


def first_to_last_ratio(profiles: torch.Tensor) -> Spread:
    """Gradient norm at the first step divided by the norm at the last step, over seeds (rows)."""
    return Spread.of((profiles[:, 0] / profiles[:, -1]).tolist())


def per_step_factor(profiles: torch.Tensor) -> Spread:
    """The average factor by which one step back multiplies the gradient norm, over seeds (rows).

    The geometric mean of norm[t] / norm[t + 1]: (first / last) ** (1 / (seq_len - 1)).
    """
    ratios = profiles[:, 0] / profiles[:, -1]
    return Spread.of(ratios.pow(1.0 / (profiles.shape[1] - 1)).tolist())


# ---------------------------------------------------------------------------------------------
# The explorer: dropdowns over the precomputed sweep (nothing is trained when they move)


def length_explorer(table: dict[tuple[str, int], Group]) -> "LengthExplorer":
    return LengthExplorer(table)


class LengthExplorer:
    """Cell and length dropdowns showing the sweep's validation curves and trained gradients.
    Displayed, it carries its current picture as a static copy (no kernel needed to see it)."""

    def __init__(self, table: dict[tuple[str, int], Group]) -> None:
        import ipywidgets as w

        from ..ui.widgets import KEYBOARD_CLASS, show_png

        self.table, self._show = table, show_png
        lengths = sorted({length for _, length in table})
        cells = [c for c in CELL_ORDER if any(cell == c for cell, _ in table)]
        self.cell = w.Dropdown(options=cells, value="lstm" if "lstm" in cells else cells[0],
                               description="cell")
        self.length = w.Dropdown(options=lengths, value=lengths[-1], description="length T")
        self.out = w.Output()
        self.widget = w.VBox([w.HBox([self.cell, self.length]), self.out])
        self.widget.add_class(KEYBOARD_CLASS)
        self.png = b""
        self.cell.observe(self.redraw, names="value")
        self.length.observe(self.redraw, names="value")
        self.redraw()

    def redraw(self, _change: object = None) -> None:
        from ..ui.plots import figure_png

        summary = self.table[self.cell.value, self.length.value]
        self.png = figure_png(plot_sweep_run(summary.runs, signal_steps=SIGNAL_STEPS))
        self._show(self.out, self.png)

    def _repr_mimebundle_(self, **kwargs) -> dict:
        import base64

        bundle = self.widget._repr_mimebundle_(**kwargs)
        what = f"{CELL_LABELS[self.cell.value]} at T={self.length.value}"
        bundle["text/plain"] = f"the runs of {what} (dropdowns: run in Jupyter to change them)"
        bundle["text/html"] = (f"<div><small>A static copy, {html.escape(what)}: run the notebook "
                               "in Jupyter to pick another cell and length.</small></div>"
                               f'<img alt="{html.escape(what)}" src="data:image/png;base64,'
                               f'{base64.b64encode(self.png).decode()}">')
        return bundle


# ---------------------------------------------------------------------------------------------
# Figures



def plot_accuracy_vs_length(
    lengths: list[int],
    accuracy: dict[str, list[list[float]]],
    signal_steps: int | None = None,
    best_possible: float = BEST_POSSIBLE,
    chance: float = 0.50,
    ylabel: str = "test accuracy",
):
    """One line per cell: the mean over seeds at each length, with the min-max band.

    `accuracy[cell][i]` holds the per-seed accuracies (fractions) at `lengths[i]`.
    """
    fig = new_figure(figsize=(7, 3.8))
    ax = fig.subplots()
    for cell, per_length in accuracy.items():
        means = [sum(v) / len(v) for v in per_length]
        color = CELL_COLORS.get(cell)
        n_seeds = len(per_length[0])
        ax.plot(lengths, means, "o-", color=color, lw=2,
                label=f"{CELL_LABELS.get(cell, cell)}: mean of {n_seeds} seeds, band min-max")
        ax.fill_between(lengths, [min(v) for v in per_length], [max(v) for v in per_length],
                        color=color, alpha=0.2, lw=0)
    ax.axhline(best_possible, color="black", ls=":", lw=1,
               label=f"best possible ({best_possible:.0%})")
    ax.axhline(chance, color="gray", ls="--", lw=1, label=f"chance ({chance:.0%})")
    ax.set_xticks(list(lengths))
    ax.set_xlabel("sequence length T (steps)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0.25, 1.0)  # room for the legend below the chance line
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.grid(alpha=0.3)
    where = f": the ramp in the first {signal_steps} steps, then noise up to T" if signal_steps else ""
    ax.set_title(f"Accuracy against sequence length{where}", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    return fig


def _log_band(profiles: object) -> tuple[list[float], list[float], list[float]]:
    """Geometric mean, min and max over the rows of a (seeds, steps) array of positive numbers."""
    import numpy as np

    rows = np.atleast_2d(np.asarray(profiles, dtype=float))
    return np.exp(np.log(rows).mean(axis=0)).tolist(), rows.min(axis=0).tolist(), rows.max(axis=0).tolist()


def plot_gradient_norms(
    panels: dict[str, dict[str, object]],
    signal_steps: int | None = None,
):
    """The gradient norm reaching each input step, one panel per situation, log y axis.

    `panels[title][cell]` is a (seeds, seq_len) array-like of per-step norms; each line is the
    geometric mean over seeds with the min-max band.
    """
    fig = new_figure(figsize=(5 * len(panels), 3.8))
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, (title, profiles) in zip(axes, panels.items()):
        for cell, values in profiles.items():
            mean, low, high = _log_band(values)
            steps = range(1, len(mean) + 1)
            color = CELL_COLORS.get(cell)
            ax.semilogy(steps, mean, color=color, lw=2, label=CELL_LABELS.get(cell, cell))
            ax.fill_between(steps, low, high, color=color, alpha=0.2, lw=0)
        if signal_steps:
            ax.axvspan(0.5, signal_steps + 0.5, color="gold", alpha=0.15,
                       label=f"steps 1-{signal_steps}: the ramp")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("input time step t")
        ax.grid(alpha=0.3, which="major")
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel("||d loss / d x_t||  (log scale)")
    return fig


def plot_sweep_run(runs: list, signal_steps: int | None = None):
    """The seeds of one (cell, length) of a sweep: validation accuracy per epoch, and the
    gradient norm per step of each trained model (the runs' `extras`, see `measure_run`)."""
    fig = new_figure(figsize=(10, 3.4))
    ax_acc, ax_grad = fig.subplots(1, 2)
    for run, shade in zip(runs, ("-", "--", ":", "-.") * 4):
        color = CELL_COLORS.get(run.model_config.cell)
        grad_norms = run.extras["grad_norms"]
        epochs = range(1, run.epochs + 1)
        ax_acc.plot(epochs, run.val_acc, shade, color=color,
                    label=f"seed {run.seed}: kept epoch {run.best_epoch} (dot)")
        ax_acc.plot(run.best_epoch, run.val_acc[run.best_epoch - 1], "o", color=color)
        ax_grad.semilogy(range(1, len(grad_norms) + 1), grad_norms, shade, color=color,
                         label=f"seed {run.seed}")
    cell, seq_len = runs[0].model_config.cell, len(runs[0].extras["grad_norms"])
    name = CELL_LABELS.get(cell, cell)
    ax_acc.axhline(0.5, color="gray", ls="--", lw=1, label="chance (50%)")
    ax_acc.axhline(BEST_POSSIBLE, color="black", ls=":", lw=1,
                   label=f"best possible ({BEST_POSSIBLE:.0%})")
    ax_acc.set_ylim(0.4, 1.0)
    ax_acc.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.set_title(f"{name}, T={seq_len}: validation accuracy per epoch", fontsize=10)
    if signal_steps:
        ax_grad.axvspan(0.5, signal_steps + 0.5, color="gold", alpha=0.15)
    ax_grad.set_xlabel("input time step t")
    ax_grad.set_ylabel("||d loss / d x_t||")
    ax_grad.set_title(f"{name}, T={seq_len}: gradient per step after training", fontsize=10)
    for ax in (ax_acc, ax_grad):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    return fig
