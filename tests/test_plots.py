import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from rnn_lesson.data import load_course_data
from rnn_lesson.lessons.overfitting import MapConfig, map_figure, plot_example_sequences, plot_run
from rnn_lesson.ui.plots import TASK_LINES, _grid_position, new_figure, plot_learning_curves
from test_widgets import fake_map, fake_run


def test_learning_curves_show_train_val_best_epoch_and_task_lines(fix_history):
    history = fix_history
    fig = plot_run(history)
    ax_loss, ax_acc = fig.axes
    labels = [line.get_label() for line in ax_acc.get_lines()]
    assert labels[:2] == ["train", "validation"]
    assert f"lowest val loss: epoch {history.best_epoch} (kept)" in labels
    lines = [t.get_text().strip() for t in ax_acc.texts]  # reference lines, labelled where they end
    assert "task: val >= 85%" in lines and "task: train < 92%" in lines and "best possible (90%)" in lines
    dashes = {line.get_label(): line.get_linestyle() for line in ax_acc.get_lines()}
    assert dashes["train"] == "-" and dashes["validation"] == "--"
    assert [l.get_linestyle() for l in ax_acc.get_lines()[-3:]] == [":", ":", ":"]  # never a curve
    assert list(ax_loss.get_lines()[1].get_ydata()) == history.val_loss
    assert fig._suptitle.get_text().startswith("Task")
    assert len(fig.legends) == 1 and not ax_acc.get_legend() and not ax_loss.get_legend()
    assert ax_acc.get_xlim()[1] == pytest.approx(history.epochs + 0.5)  # the epochs it ran


@pytest.mark.parametrize("height", [1.6, 2.5, 3.9])
def test_reference_line_labels_never_overlap_however_short_the_plot(fix_history, height):
    fig = new_figure(figsize=(6, height))
    axes = fig.subplots(1, 2)
    plot_learning_curves(fix_history, lines=TASK_LINES, ax_pair=tuple(axes))
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # the layout as saved
    renderer = canvas.get_renderer()
    boxes = sorted((t.get_window_extent(renderer) for t in axes[1].texts), key=lambda b: -b.y0)
    assert len(boxes) == 3
    for upper, lower in zip(boxes, boxes[1:]):
        assert upper.y0 >= lower.y1 - 1, "two reference-line labels overlap"
    for text, line in zip(sorted(axes[1].texts, key=lambda t: -t.xy[1]),
                          sorted(TASK_LINES, key=lambda line: -line.y)):
        assert text.xy[1] == line.y  # each label still points at its own line


def test_example_sequences_show_both_class_averages():
    fig = plot_example_sequences(load_course_data().train, per_class=2)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert sum("average of" in label for label in labels) == 2
    assert len(fig.axes[1].get_lines()) == 9  # the nine distractor features


def test_map_heatmaps_outline_the_task_region_and_mark_the_sliders():
    from rnn_lesson.lessons.overfitting import MapResult
    from rnn_lesson.results import Group

    config = MapConfig(dropouts=(0.0, 0.5), hidden_sizes=(8, 256), seeds=(0,))
    cells = {(d, h): Group("", [fake_run(d, h, 0, 1.0 if (h, d) == (256, 0.0) else 0.9, 0.87)])
             for d in config.dropouts for h in config.hidden_sizes}
    result = MapResult(config, cells)
    assert not result.passes(0.0, 256) and result.passes(0.5, 256)
    fig = map_figure(result, mark=(0.25, 16))
    white = [line for line in fig.axes[0].get_lines() if line.get_color() == "white"]
    black = [line for line in fig.axes[0].get_lines() if line.get_color() == "black"]
    assert len(white) == len(black) == 8  # the L-shaped region of three cells: eight border edges
    assert "red ring" in fig._suptitle.get_text()
    assert "red ring" not in map_figure(result)._suptitle.get_text()  # no ring, no word of it
    rows, columns = config.dropouts, config.hidden_sizes
    assert _grid_position(rows, columns, (0.25, 64)) == pytest.approx((0.6, 0.5))  # log2 axis
    assert _grid_position(rows, columns, (0.7, 512)) == (1.0, 1.0)  # clamped to the map


def test_epoch_ticks_label_a_short_run_every_epoch_and_a_long_one_every_ten():
    from rnn_lesson.ui.svg import epoch_ticks

    assert epoch_ticks(4) == [1, 2, 3, 4]
    assert epoch_ticks(60) == [1, 10, 20, 30, 40, 50, 60]
    assert epoch_ticks(16) == [1, 2, 4, 6, 8, 10, 12, 14, 16]
