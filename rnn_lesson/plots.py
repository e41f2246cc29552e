"""Learning curves as matplotlib figures (the notebooks display them, the CLI saves them)."""

from __future__ import annotations

import threading

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .data import COURSE_SPEC, DatasetSpec, Split, ideal_predictions
from .experiments import TASK_MAX_TRAIN_ACC, TASK_MIN_VAL_ACC, check_task
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
