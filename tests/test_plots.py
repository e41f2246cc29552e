import dataclasses

from rnn_lesson.experiments import REGULARIZED, run
from rnn_lesson.plots import plot_learning_curves


def test_learning_curves_show_train_val_best_epoch_and_task_lines():
    history = run(dataclasses.replace(REGULARIZED), seed=0)
    fig = plot_learning_curves(history)
    ax_loss, ax_acc = fig.axes
    labels = [line.get_label() for line in ax_acc.get_lines()]
    assert labels[:2] == ["train", "validation"]
    assert f"best val loss (epoch {history.best_epoch})" in labels
    assert "task: val >= 85%" in labels and "task: train < 92%" in labels
    assert list(ax_loss.get_lines()[1].get_ydata()) == history.val_loss
    assert fig._suptitle.get_text().startswith("Task")
