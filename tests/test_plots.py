from rnn_lesson.data import load_course_data
from rnn_lesson.plots import plot_example_sequences, plot_learning_curves


def test_learning_curves_show_train_val_best_epoch_and_task_lines(regularized_history):
    history = regularized_history
    fig = plot_learning_curves(history)
    ax_loss, ax_acc = fig.axes
    labels = [line.get_label() for line in ax_acc.get_lines()]
    assert labels[:2] == ["train", "validation"]
    assert f"best val loss (epoch {history.best_epoch})" in labels
    assert "task: val >= 85%" in labels and "task: train < 92%" in labels
    assert list(ax_loss.get_lines()[1].get_ydata()) == history.val_loss
    assert fig._suptitle.get_text().startswith("Task")


def test_example_sequences_show_both_class_averages():
    fig = plot_example_sequences(load_course_data().train, per_class=2)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert sum("average of" in label for label in labels) == 2
    assert len(fig.axes[1].get_lines()) == 9  # the nine distractor features
