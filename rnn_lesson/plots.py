"""The course's figures, as matplotlib figures (the notebooks display them, the CLI saves them)."""

from __future__ import annotations

import threading

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .data import COURSE_SPEC, DatasetSpec, Split, ideal_predictions
from .experiments import TASK_MAX_TRAIN_ACC, TASK_MIN_VAL_ACC, check_task
from .sweep import SweepConfig, SweepResult
from .training import History

TRAIN_COLOR, VAL_COLOR = "tab:blue", "tab:orange"


def plot_learning_curves(
    history: History,
    title: str | None = None,
    max_epochs: int | None = None,
    best_possible: float | None = 0.90,
) -> Figure:
    """Loss and accuracy per epoch, train vs val, with the best epoch and the task lines marked.

    `max_epochs` fixes the x axis (so live redraws do not rescale); `best_possible` draws the
    Bayes limit of the course data (None to hide it).
    """
    fig = new_figure(figsize=(10, 3.6))
    ax_loss, ax_acc = fig.subplots(1, 2)
    draw_curves(ax_loss, ax_acc, history, max_epochs)
    ax_acc.axhline(TASK_MIN_VAL_ACC, color=VAL_COLOR, ls="--", lw=1, label="task: val >= 85%")
    ax_acc.axhline(TASK_MAX_TRAIN_ACC, color=TRAIN_COLOR, ls="--", lw=1, label="task: train < 92%")
    if best_possible is not None:
        ax_acc.axhline(best_possible, color="black", ls=":", lw=1, label="best possible (90%)")
    ax_acc.set_ylim(0.45, 1.02)
    ax_acc.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax_loss.set_ylim(bottom=0)
    ax_loss.legend(loc="upper left", fontsize=8)
    ax_acc.legend(loc="lower right", fontsize=8)
    if title is None and history.final:
        title = check_task(history).short()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def draw_curves(ax_loss, ax_acc, history: History, max_epochs: int | None = None) -> None:
    """Train and val loss and accuracy per epoch on two axes, the best epoch marked."""
    epochs = range(1, history.epochs + 1)
    for ax, key, label in ((ax_loss, "loss", "cross-entropy loss"), (ax_acc, "acc", "accuracy")):
        ax.plot(epochs, getattr(history, f"train_{key}"), color=TRAIN_COLOR, label="train")
        ax.plot(epochs, getattr(history, f"val_{key}"), color=VAL_COLOR, label="validation")
        if history.best_epoch:
            ax.axvline(history.best_epoch, color="gray", ls=":", lw=1,
                       label=f"best val loss (epoch {history.best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_xlim(0.5, (max_epochs or max(history.epochs, 2)) + 0.5)
        ax.grid(alpha=0.3)


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A figure that the caller displays or saves exactly once.

    On the main thread it comes from pyplot (which registers Jupyter's inline display of figures)
    and is closed at once, so it is not shown twice. pyplot is not thread-safe, so the panel's
    worker thread gets a bare Figure instead.
    """
    if threading.current_thread() is threading.main_thread():
        fig = plt.figure(figsize=figsize, layout="constrained")
        plt.close(fig)
        return fig
    return Figure(figsize=figsize, layout="constrained")


def plot_example_sequences(split: Split, per_class: int = 3, spec: DatasetSpec = COURSE_SPEC) -> Figure:
    """Feature 0 (the signal) and the distractors of a few sequences of each class."""
    fig = new_figure(figsize=(10, 3.4))
    ax_signal, ax_noise = fig.subplots(1, 2)
    steps = range(1, split.x.shape[1] + 1)
    truth = ideal_predictions(split.x, spec)  # the class the ramp shows (labels may be flipped)
    for label, color in ((0, "tab:purple"), (1, "tab:green")):
        in_class = truth == label
        rows = [i for i in range(len(split)) if split.y[i] == label and in_class[i]][:per_class]
        for i in rows:
            ax_signal.plot(steps, split.x[i, :, 0], color=color, alpha=0.3, lw=1)
        ax_signal.plot(steps, split.x[in_class, :, 0].mean(dim=0), color=color, lw=3,
                       label=f"class {label} ({'ramp down' if label == 0 else 'ramp up'}): "
                             f"average of {int(in_class.sum())}")
    ax_signal.set_title(f"feature 0: {per_class} sequences per class (thin) and the class averages",
                        fontsize=10)
    example = split.x[0, :, 1:]
    for j in range(example.shape[1]):
        ax_noise.plot(steps, example[:, j], lw=1, alpha=0.7)
    ax_noise.set_title("features 1-9 of one sequence: noise and pulses", fontsize=10)
    for ax in (ax_signal, ax_noise):
        ax.set_xlabel("time step")
        ax.set_xticks(range(1, split.x.shape[1] + 1, 2))
        ax.grid(alpha=0.3)
    ax_signal.legend(fontsize=8, loc="lower left")
    return fig


# Notebook 03 (the bonus): RNN vs LSTM vs GRU. Plain data in (lists, tensors), so that these
# functions do not depend on how the experiments were run.

CELL_COLORS = {"rnn": "tab:red", "lstm": "tab:green", "gru": "tab:purple"}
CELL_LABELS = {"rnn": "nn.RNN", "lstm": "nn.LSTM", "gru": "nn.GRU"}


def plot_accuracy_vs_length(
    lengths: list[int],
    accuracy: dict[str, list[list[float]]],
    signal_steps: int | None = None,
    best_possible: float = 0.90,
    chance: float = 0.50,
    ylabel: str = "test accuracy",
) -> Figure:
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
) -> Figure:
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


def plot_sweep_run(runs: list, signal_steps: int | None = None) -> Figure:
    """The seeds of one (cell, length) of a sweep: validation accuracy per epoch, and the
    gradient norm per step of each trained model. `runs` have val_curve, grad_norms, seed,
    best_epoch, cell and seq_len (rnn_lesson.bonus.Run)."""
    fig = new_figure(figsize=(10, 3.4))
    ax_acc, ax_grad = fig.subplots(1, 2)
    for run, shade in zip(runs, ("-", "--", ":", "-.") * 4):
        color = CELL_COLORS.get(run.cell)
        epochs = range(1, len(run.val_curve) + 1)
        ax_acc.plot(epochs, run.val_curve, shade, color=color,
                    label=f"seed {run.seed}: kept epoch {run.best_epoch} (dot)")
        ax_acc.plot(run.best_epoch, run.val_curve[run.best_epoch - 1], "o", color=color)
        ax_grad.semilogy(range(1, len(run.grad_norms) + 1), run.grad_norms, shade, color=color,
                         label=f"seed {run.seed}")
    first = runs[0]
    name = CELL_LABELS.get(first.cell, first.cell)
    ax_acc.axhline(0.5, color="gray", ls="--", lw=1, label="chance (50%)")
    ax_acc.axhline(0.9, color="black", ls=":", lw=1, label="best possible (90%)")
    ax_acc.set_ylim(0.4, 1.0)
    ax_acc.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.set_title(f"{name}, T={first.seq_len}: validation accuracy per epoch", fontsize=10)
    if signal_steps:
        ax_grad.axvspan(0.5, signal_steps + 0.5, color="gold", alpha=0.15)
    ax_grad.set_xlabel("input time step t")
    ax_grad.set_ylabel("||d loss / d x_t||")
    ax_grad.set_title(f"{name}, T={first.seq_len}: gradient per step after training", fontsize=10)
    for ax in (ax_acc, ax_grad):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    return fig


def plot_sweep_heatmaps(result: SweepResult, mark: tuple[float, int] | None = None) -> Figure:
    """Val accuracy and the train-val gap over the dropout x hidden-size grid (means over seeds).

    Cells where the mean passes the task (val >= 85%, train < 92%) are outlined; `mark`
    (dropout, hidden size) puts a star where the learner's sliders are.
    """
    config = result.config
    fig = new_figure(figsize=(12, 4.6))
    axes = fig.subplots(1, 2)
    lowest_val = min(min(row) for row in result.grid("val_acc"))
    largest_gap = max(max(row) for row in result.grid("gap"))
    # Colour scales fit the data (the map spans a few points), anchored at the task's 85% line
    # and the 90% ceiling, and at a gap of 0.
    panels = (("val_acc", "validation accuracy (%), mean over seeds", "viridis",
               min(lowest_val, TASK_MIN_VAL_ACC) - 0.005, 0.90),
              ("gap", "train minus val accuracy (points), mean", "magma_r", 0.0,
               max(largest_gap * 1.15, 0.05)))
    inside = [[result.cells[(d, h)].in_task_region for h in config.hidden_sizes]
              for d in config.dropouts]
    for ax, (metric, title, cmap, low, high) in zip(axes, panels):
        means, lows, highs = (result.grid(metric, stat) for stat in (0, 1, 2))
        image = ax.imshow(means, cmap=cmap, vmin=low, vmax=high, origin="lower", aspect="auto")
        fig.colorbar(image, ax=ax, format=lambda v, _: f"{100 * v:.0f}")
        image.set_extent((-0.5, len(config.hidden_sizes) - 0.5, -0.5, len(config.dropouts) - 0.5))
        for i, row in enumerate(means):
            for j, value in enumerate(row):
                dark = (value - low) / (high - low) < 0.55 if cmap == "viridis" else \
                    (value - low) / (high - low) > 0.45
                color = "white" if dark else "black"
                ax.text(j, i + 0.12, f"{100 * value:.1f}", ha="center", va="center",
                        fontsize=8.5, color=color)
                ax.text(j, i - 0.22, f"{100 * lows[i][j]:.1f}-{100 * highs[i][j]:.1f}",
                        ha="center", va="center", fontsize=6.5, color=color)
        _outline(ax, inside)
        if mark is not None:
            ax.plot(*_grid_position(config, mark), marker="o", ms=34, mfc="none", mec="red",
                    mew=2.5, label="your sliders")  # a ring: the cell's numbers stay readable
        ax.set_xticks(range(len(config.hidden_sizes)), [str(h) for h in config.hidden_sizes])
        ax.set_yticks(range(len(config.dropouts)), [f"{d:.1f}" for d in config.dropouts])
        ax.set_xlabel("hidden size")
        ax.set_ylabel("dropout (inside and after the RNN)")
        ax.set_title(title, fontsize=10)
    fig.suptitle(f"{config.base.name} recipe, {len(config.seeds)} seeds per cell (small numbers: "
                 f"min-max); green outline: the task passes on the mean; red ring: your sliders", fontsize=10)
    return fig


def _outline(ax, inside: list[list[bool]]) -> None:
    """Draw the border of the region of True cells (rows = y, columns = x)."""
    rows, cols = len(inside), len(inside[0])

    def on(i, j):
        return 0 <= i < rows and 0 <= j < cols and inside[i][j]
    for i in range(rows):
        for j in range(cols):
            if not inside[i][j]:
                continue
            for di, dj, xs, ys in ((-1, 0, (j - .5, j + .5), (i - .5, i - .5)),
                                   (1, 0, (j - .5, j + .5), (i + .5, i + .5)),
                                   (0, -1, (j - .5, j - .5), (i - .5, i + .5)),
                                   (0, 1, (j + .5, j + .5), (i - .5, i + .5))):
                if not on(i + di, j + dj):
                    ax.plot(xs, ys, color="#00c853", lw=2.5, solid_capstyle="round")


def _grid_position(config: SweepConfig, mark: tuple[float, int]) -> tuple[float, float]:
    """Where (dropout, hidden size) falls on the heatmap's cell grid, clamped to its edges."""
    dropout, hidden = mark
    y = np.interp(dropout, config.dropouts, range(len(config.dropouts)))
    x = np.interp(np.log2(hidden), np.log2(config.hidden_sizes), range(len(config.hidden_sizes)))
    return float(x), float(y)
