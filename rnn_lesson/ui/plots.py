"""The course's figures, as matplotlib figures (the notebooks display them, the CLI saves them).

One visual language for learning curves, here and in the panel's SVG (`svg.py`): train solid
blue, validation dashed orange; horizontal reference lines (the task's thresholds, the best
possible accuracy, chance) thin and dotted, labelled where they end; a dotted gray vertical line
at the epoch of the lowest validation loss. One legend, under the plots, where it hides no curve.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..recipe import BEST_POSSIBLE, TASK
from ..results import lr_label  # noqa: F401 (the widgets import it here)
from ..training import History

TRAIN_COLOR, VAL_COLOR = "tab:blue", "tab:orange"


TRAIN_STYLE, VAL_STYLE = "-", "--"


@dataclass(frozen=True)
class Line:
    """A horizontal reference line on an accuracy axis (a task line, a ceiling, chance): thin and
    dotted, so that it is never taken for a curve."""

    y: float
    label: str
    color: str = "black"
    style: str = ":"


# The lesson's task lines, drawn on every accuracy plot of the course data.
TASK_LINES = (
    Line(TASK.min_val_acc, f"task: val >= {TASK.min_val_acc:.0%}", VAL_COLOR),
    Line(TASK.max_train_acc, f"task: train < {TASK.max_train_acc:.0%}", TRAIN_COLOR),
    Line(BEST_POSSIBLE, f"best possible ({BEST_POSSIBLE:.0%})", "gray"),
)


def plot_run(history: History, title: str | None = None, max_epochs: int | None = None) -> Figure:
    """A run's learning curves with the task lines; the title defaults to the verdict."""
    if title is None:
        title = TASK.check(history).short()
    return plot_learning_curves(history, title, max_epochs, TASK_LINES)


def plot_learning_curves(
    history: History,
    title: str = "",
    max_epochs: int | None = None,
    lines: Sequence[Line] = (),
    acc_ylim: tuple[float, float] = (0.45, 1.02),
    ax_pair=None,
) -> Figure | None:
    """Loss and accuracy per epoch, train vs val, the best epoch and the reference `lines` marked.

    The x axis spans the epochs run, or `max_epochs` when given (to show where a cap was). With
    `ax_pair` (loss, accuracy axes of an existing figure) it draws there and returns None.
    """
    if ax_pair is None:
        fig = new_figure(figsize=(10, 3.9))
        ax_loss, ax_acc = fig.subplots(1, 2)
    else:
        fig, (ax_loss, ax_acc) = None, ax_pair
    draw_curves(ax_loss, ax_acc, history, max_epochs)
    ax_acc.set_ylim(*acc_ylim)
    _draw_lines(ax_acc, lines)
    ax_acc.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax_loss.set_ylim(bottom=0)
    handles, labels = ax_acc.get_legend_handles_labels()
    if fig is not None:  # one legend, under the plots: it hides no curve
        fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8,
                   frameon=False)
    else:
        ax_acc.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.25, 1.0),
                      frameon=False)
    if title and fig is not None:
        fig.suptitle(title, fontsize=10)
    elif title:
        ax_loss.set_title(title, fontsize=10, loc="left")
    return fig


LABEL_GAP_POINTS = 8.0  # between reference-line labels (their font is 7 pt)


def _draw_lines(ax, lines: Sequence[Line]) -> None:
    """Each reference line with its label at the right edge; labels of close lines (90% and
    92%) are spread apart so that they never overlap, each at most a little off its line."""
    right = ax.get_xlim()[1]
    low, high = ax.get_ylim()
    height_points = ax.get_window_extent().height * 72 / ax.figure.dpi
    points_per_unit = height_points / (high - low)
    below = None  # the height, in points, of the label drawn just above this one
    for line in sorted(lines, key=lambda line: -line.y):
        ax.axhline(line.y, color=line.color, ls=line.style, lw=1)
        at = (line.y - low) * points_per_unit
        if below is not None and below - at < LABEL_GAP_POINTS:
            at = below - LABEL_GAP_POINTS
        below = at
        shift = at - (line.y - low) * points_per_unit
        ax.annotate(f" {line.label}", (right, line.y), xytext=(0, shift),
                    textcoords="offset points", color=line.color, fontsize=7, va="center",
                    ha="left", annotation_clip=False)


def draw_curves(ax_loss, ax_acc, history: History, max_epochs: int | None = None) -> None:
    """Train and val loss and accuracy per epoch on two axes, the best epoch marked."""
    epochs = range(1, history.epochs + 1)
    kept = "kept" if history.restored_best else "not kept"
    for ax, key, label in ((ax_loss, "loss", "cross-entropy loss"), (ax_acc, "acc", "accuracy")):
        ax.plot(epochs, getattr(history, f"train_{key}"), TRAIN_STYLE, color=TRAIN_COLOR,
                label="train")
        ax.plot(epochs, getattr(history, f"val_{key}"), VAL_STYLE, color=VAL_COLOR,
                label="validation")
        if history.best_epoch:
            ax.axvline(history.best_epoch, color="gray", ls=":", lw=1,
                       label=f"lowest val loss: epoch {history.best_epoch} ({kept})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_xlim(0.5, (max_epochs or max(history.epochs, 2)) + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
        ax.grid(alpha=0.3)


def figure_png(figure: Figure, dpi: int = 80) -> bytes:
    """A figure as PNG bytes (for an <img>, a widget's static copy)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


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


CELL_COLORS = {"rnn": "tab:red", "lstm": "tab:green", "gru": "tab:purple"}
CELL_LABELS = {"rnn": "nn.RNN", "lstm": "nn.LSTM", "gru": "nn.GRU"}


@dataclass(frozen=True)
class Heatmap:
    """One panel of a grid figure: mean, low and high over seeds per cell (rows x columns)."""

    title: str
    mean: list[list[float]]
    low: list[list[float]]
    high: list[list[float]]
    cmap: str
    vmin: float
    vmax: float


def plot_heatmaps(
    panels: Sequence[Heatmap],
    rows: Sequence[float],
    columns: Sequence[int],
    row_label: str,
    column_label: str,
    inside: list[list[bool]],
    title: str,
    mark: tuple[float, float] | None = None,
) -> Figure:
    """Side-by-side heatmaps of a grid: the mean in each cell (percent) and the min-max below it.

    Cells where `inside` is True are outlined (white on black); `mark` (row value, column value)
    puts a red ring there (interpolated, columns on a log2 scale).
    """
    fig = new_figure(figsize=(12, 4.6))
    axes = fig.subplots(1, len(panels))
    for ax, panel in zip(axes, panels):
        low, high = panel.vmin, panel.vmax
        image = ax.imshow(panel.mean, cmap=panel.cmap, vmin=low, vmax=high, origin="lower",
                          aspect="auto")
        fig.colorbar(image, ax=ax, format=lambda v, _: f"{100 * v:.0f}")
        image.set_extent((-0.5, len(columns) - 0.5, -0.5, len(rows) - 0.5))
        for i, row in enumerate(panel.mean):
            for j, value in enumerate(row):
                shade = (value - low) / (high - low)
                dark = shade < 0.55 if panel.cmap == "viridis" else shade > 0.45
                color = "white" if dark else "black"
                ax.text(j, i + 0.12, f"{100 * value:.1f}", ha="center", va="center",
                        fontsize=9.5, color=color)
                ax.text(j, i - 0.22, f"{100 * panel.low[i][j]:.1f}-{100 * panel.high[i][j]:.1f}",
                        ha="center", va="center", fontsize=8, color=color)
        _outline(ax, inside)
        if mark is not None:
            ax.plot(*_grid_position(rows, columns, mark), marker="o", ms=34, mfc="none",
                    mec="red", mew=2.5)  # a ring: the cell's numbers stay readable
        ax.set_xticks(range(len(columns)), [str(c) for c in columns])
        ax.set_yticks(range(len(rows)), [f"{r:.1f}" for r in rows])
        ax.set_xlabel(column_label)
        ax.set_ylabel(row_label)
        ax.set_title(panel.title, fontsize=10)
    fig.suptitle(title, fontsize=10)
    return fig


def _outline(ax, inside: list[list[bool]]) -> None:
    """Draw the border of the region of True cells (rows = y, columns = x): a white line on a
    black one, visible on every colour of the map."""
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
                    ax.plot(xs, ys, color="black", lw=4.5, solid_capstyle="round")
                    ax.plot(xs, ys, color="white", lw=2, solid_capstyle="round")


def _grid_position(rows: Sequence[float], columns: Sequence[int],
                   mark: tuple[float, float]) -> tuple[float, float]:
    """Where (row value, column value) falls on the grid, clamped to its edges."""
    row, column = mark
    y = np.interp(row, rows, range(len(rows)))
    x = np.interp(np.log2(column), np.log2(columns), range(len(columns)))
    return float(x), float(y)
