import dataclasses
import json

import pytest

from rnn_lesson.lessons.overfitting import BASELINE, FIX, MapConfig, MapResult, map_widget
from rnn_lesson.lessons.overfitting import panel as lesson_panel
from rnn_lesson.results import Group
from rnn_lesson.training import History, Metrics, train
from rnn_lesson.ui.widgets import banner_html, settings_from


def ExperimentPanel(start=BASELINE, **options):  # the notebook's panel: the lesson's task
    return lesson_panel(start, **options)

FIX_VALUES = {"dropout": 0.3, "hidden_size": 32, "lr": 1e-3, "early_stopping": True}


def set_values(panel, values):
    for name, value in values.items():
        panel.controls[name].value = value


def test_the_panel_starts_from_the_overfitting_baseline():
    model, training = settings_from(ExperimentPanel(auto_run=False).values(), BASELINE)
    assert model == BASELINE.model
    assert training == BASELINE.train


def test_run_trains_the_slider_setting_with_the_one_train_and_shows_the_verdict():
    panel = ExperimentPanel(auto_run=False)
    set_values(panel, FIX_VALUES)
    history = panel.run()
    expected = train(FIX.model, FIX.train)
    assert history.val_loss == expected.val_loss  # same numbers as the library's train()
    assert "Task passed" in panel.banner.value and "rnn-lesson-passed" in panel.banner.value
    assert panel.last_png.startswith(b"\x89PNG") and "<svg" in panel.curves.value
    assert "restored epoch" in panel.status.value


def test_the_banner_uses_the_themes_colours_in_every_state():
    for html in (banner_html(None, "Training..."), ExperimentPanel(auto_run=False).banner.value):
        assert "var(--jp-layout-color2" in html and "var(--jp-ui-font-color1" in html
        assert "#ffe0b2" not in html and "#c8e6c9" not in html  # no fixed light backgrounds


def test_sliders_keep_the_start_settings_they_do_not_set():
    start = dataclasses.replace(FIX, train=dataclasses.replace(FIX.train, patience=7, batch_size=16))
    _, training = settings_from(ExperimentPanel(start, auto_run=False).values(), start)
    assert (training.patience, training.batch_size) == (7, 16)


def test_a_failing_setting_gets_an_amber_banner_with_a_hint():
    panel = ExperimentPanel(auto_run=False)
    set_values(panel, {**FIX_VALUES, "hidden_size": 8, "dropout": 0.7, "lr": 1e-4, "max_epochs": 10})
    panel.run()
    assert "Task not passed" in panel.banner.value and "Hint:" in panel.banner.value
    assert "Not in your settings yet: a lower learning rate" not in panel.banner.value  # 1e-4


def test_the_banner_names_the_lessons_changes_the_setting_lacks(baseline_history):
    panel = ExperimentPanel(initial=baseline_history, auto_run=False)
    assert ("Not in your settings yet: dropout inside nn.RNN (0.3, with 2 or more layers), "
            "dropout after nn.RNN (0.3, on its last step&#x27;s output), a smaller hidden size (32), "
            "a lower learning rate (1e-3), early stopping that restores the best epoch."
            ) in panel.banner.value


def test_rapid_slider_moves_end_with_the_last_value_and_skip_stale_runs():
    panel = ExperimentPanel(auto_run=False)
    set_values(panel, FIX_VALUES)
    for control in panel.controls.values():  # now listen, like the notebook does
        control.observe(lambda _: panel.request_run(), names="value")
    moves = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.35, 0.4, 0.45, 0.5]
    for value in moves:
        panel.controls["dropout"].value = value
    panel.wait()
    assert panel.last_history.model_config.dropout == 0.5
    assert "dropout 0.50" in panel.caption.value and "Curves for" in panel.caption.value
    assert panel.curves.value.count("<svg") == 1  # the new plot replaces the old ones, never stacks
    assert f"val {panel.last_history.final.val_acc:.1%}" in panel.banner.value
    assert panel.runs_started <= len(moves)


def test_errors_in_training_reach_the_banner_not_a_traceback(monkeypatch):
    panel = ExperimentPanel(auto_run=False)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("rnn_lesson.ui.widgets.train", broken)
    assert panel.run() is None
    assert "Training failed: RuntimeError: out of memory" in panel.banner.value


def test_banner_escapes_text():
    assert "&lt;b&gt;" in banner_html(None, "<b>")


def test_an_initial_run_is_shown_without_training_and_must_match_the_start(baseline_history):
    panel = ExperimentPanel(initial=baseline_history, auto_run=False)
    assert panel.runs_started == 0 and panel.last_history is baseline_history
    assert "Task not passed" in panel.banner.value and panel.last_png
    with pytest.raises(ValueError, match="other settings"):
        ExperimentPanel(start=FIX, initial=baseline_history, auto_run=False)


def fake_run(dropout, hidden, seed, train_acc, val_acc):
    model = dataclasses.replace(FIX.model, dropout=dropout, hidden_size=hidden)
    return History(model, dataclasses.replace(FIX.train, seed=seed), [0.5], [train_acc], [0.5],
                   [val_acc], best_epoch=1, final=Metrics(0.5, train_acc, 0.5, val_acc, 0.5, val_acc))


def fake_map():
    config = MapConfig(dropouts=(0.0, 0.3), hidden_sizes=(32, 128), seeds=(0, 1), base=FIX)
    cells = {(d, h): Group(f"{d} {h}", [fake_run(d, h, s, 0.9 + h / 2000,
                                                 0.87 - h / 2000 + d / 100 + s / 1000)
                                        for s in config.seeds])
             for d in config.dropouts for h in config.hidden_sizes}
    return MapResult(config, cells)


def test_the_map_ring_follows_the_panels_sliders():
    panel = ExperimentPanel(auto_run=False)
    sweep_map = map_widget(fake_map(), panel)
    assert sweep_map.mark() == (0.0, 128) and sweep_map.last_png.startswith(b"\x89PNG")
    before = sweep_map.last_png
    panel.controls["dropout"].value = 0.3
    assert sweep_map.mark() == (0.3, 128) and sweep_map.last_png != before
    assert len(sweep_map.output.outputs) == 1


def test_the_panel_and_the_map_carry_a_png_for_viewers_without_widgets(baseline_history):
    panel = ExperimentPanel(initial=baseline_history, auto_run=False)
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "image/png" in bundle
    assert "image/png" in map_widget(fake_map())._repr_mimebundle_()


# The lab bench: live SVG curves, the run log, comparing runs, one truth on screen


def test_every_run_joins_the_log_and_the_log_survives_a_restart():
    panel = ExperimentPanel(FIX, auto_run=False)
    first = panel.run()
    panel.controls["hidden_size"].value = 128
    second = panel.run()
    rows = panel.log.rows
    assert [r["run"] for r in rows] == [1, 2]
    assert rows[0]["val_acc"] == first.final.val_acc and rows[1]["epochs"] == second.epochs
    assert rows[0]["verdict"] in ("passed", "not passed") and "rnn 128x2" in rows[1]["settings"]
    again = ExperimentPanel(FIX, auto_run=False)  # a new kernel: the log comes back from the file
    assert again.log.rows == rows
    assert again.log.records[2].val_loss == second.val_loss


def test_selected_runs_are_overlaid_with_a_legend_of_what_differs():
    panel = ExperimentPanel(FIX, auto_run=False)
    panel.run()
    panel.controls["lr"].value = 3e-3
    panel.run()
    panel.log.table.value = (1, 2)  # as selecting two rows does
    svg = panel.log.comparison.value
    assert svg.count("<polyline") == 4  # val loss and val accuracy of each run
    assert "#1: lr 1e-3" in svg and "#2: lr 3e-3" in svg
    assert "32x2" not in svg.split("<desc>")[0]  # what is the same is not repeated


def test_the_overlay_stays_when_a_new_run_joins_and_a_long_legend_wraps():
    panel = ExperimentPanel(FIX, auto_run=False)
    for lr in (1e-3, 3e-3, 1e-2):
        panel.controls["lr"].value = lr
        panel.run()
    panel.log.table.value = (1, 2, 3)
    panel.controls["dropout"].value = 0.5
    panel.run()  # a fourth run joins the log
    assert panel.log.table.value == (1, 2, 3) and panel.log.comparison.value  # still overlaid
    import re

    svg = panel.log.comparison.value
    width = int(re.search(r'width="(\d+)"', svg).group(1))
    texts = [(float(x), label) for x, label in re.findall(r'<text x="([\d.]+)" y="[\d.]+" '
                                                          r'font-size="10"[^>]*>([^<]+)<', svg)]
    assert all(x + 6 * len(label) <= width + 6 for x, label in texts)  # no legend item cut off


def test_the_log_can_be_cleared_and_saved_as_csv(tmp_path):
    import csv

    panel = ExperimentPanel(FIX, auto_run=False)
    panel.run()
    path = panel.log.save_csv(tmp_path)  # a folder: runs.csv inside it
    rows = list(csv.DictReader(path.open()))
    assert path.name == "runs.csv" and rows[0]["run"] == "1" and "verdict" in rows[0]
    panel.log.clear()
    assert panel.log.rows == [] and ExperimentPanel(FIX, auto_run=False).log.rows == []


def test_the_curves_have_a_text_summary_for_screen_readers(baseline_history):
    panel = ExperimentPanel(initial=baseline_history, auto_run=False)
    text = panel._repr_mimebundle_()["text/plain"]
    assert text.startswith("Task not passed") and "validation accuracy" in text
    assert ". The curves: " in text and ". the" not in text  # a sentence starts with a capital
    assert "<desc>" in panel.curves.value and "lowest validation loss" in panel.curves.value


def test_the_map_says_which_settings_it_assumes():
    panel = ExperimentPanel(FIX, auto_run=False)  # lr 1e-3; the map: lr 3e-3 (fake_map: FIX's)
    the_map = map_widget(fake_map(), panel)
    assert the_map.note_text().startswith("The ring marks your panel's setting")
    panel.controls["lr"].value = 3e-3
    panel.controls["early_stopping"].value = False
    assert "learning rate 3e-3 in your panel, learning rate 1e-3 in the map" in the_map.note_text()
    assert "early stopping off in your panel, early stopping on in the map" in the_map.note.value


def test_one_bad_saved_row_does_not_hide_the_others(tmp_path):
    from quizzes.progress import Progress

    progress = Progress(tmp_path / "p.json")
    panel = ExperimentPanel(FIX, auto_run=False, progress=progress)
    panel.run()
    good = progress.runs()[0][0]
    with open(progress.runs_path, "a") as log:  # a row with a bad number, then an unreadable line
        log.write(json.dumps({**good, "train_acc": "x", "id": "bad", "run": 7}) + "\n{oops\n")
    again = ExperimentPanel(FIX, auto_run=False, progress=Progress(tmp_path / "p.json"))
    assert [r["run"] for r in again.log.rows] == [1] and "2 saved runs could not be read" in \
        again.log.note.value
    again.run()
    assert [r["run"] for r in again.log.rows] == [1, 2]


def test_the_panel_refuses_a_start_its_sliders_cannot_show():
    start = dataclasses.replace(FIX, train=dataclasses.replace(FIX.train, max_epochs=150))
    with pytest.raises(ValueError, match="max epochs 150: a multiple of 4"):
        ExperimentPanel(start, auto_run=False)


def test_the_map_notices_a_changed_max_epochs():
    panel = ExperimentPanel(FIX, auto_run=False)
    the_map = map_widget(fake_map(), panel)
    panel.controls["max_epochs"].value = 40
    assert "max epochs 40 in your panel, max epochs 16 in the map" in the_map.note_text()


def test_a_long_run_log_opens_with_one_table_update_and_shows_its_newest_rows(tmp_path, fix_history,
                                                                             monkeypatch):
    """Linear, not quadratic: the table's options are set once, whatever the number of rows,
    and only the newest rows are read."""
    from quizzes.progress import RUN_LOG_LIMIT, Progress
    from rnn_lesson.ui.widgets import RunLog

    row = {"settings": "s", "train_acc": 0.9, "val_acc": 0.87, "val_loss": 0.4, "epochs": 14,
           "seconds": 0.3, "verdict": "passed", "record": fix_history.to_dict()}
    progress = Progress(tmp_path / "p.json")
    for _ in range(1000):
        progress._pending_rows.append({**row, "id": f"{_}"})
    progress.update(lambda r: None)  # one save of the thousand rows
    import ipywidgets as w

    updates = []
    original = w.SelectMultiple.__init__

    def watched(self, *args, **kwargs):  # count every change of the table's options
        original(self, *args, **kwargs)
        self.observe(lambda change: updates.append(len(change["new"])), names="options")

    monkeypatch.setattr(w.SelectMultiple, "__init__", watched)
    log = RunLog(Progress(tmp_path / "p.json"))
    assert updates == [RUN_LOG_LIMIT]  # one update of the table
    assert [r["run"] for r in log.rows] == list(range(1001 - RUN_LOG_LIMIT, 1001))
    assert "800 older ones are not shown but kept with your progress" in log.note.value


def test_every_course_widget_gives_its_controls_their_keys(baseline_history, tmp_path):
    """The page script marks the controls inside KEYBOARD_CLASS (see quizzes.widgets): every card,
    the panel and the hints carry it, and the two layers name the same class."""
    import quizzes
    from quizzes import widgets as quiz_widgets
    from quizzes.progress import Progress
    from rnn_lesson.lessons.overfitting import hint_panel
    from rnn_lesson.ui import widgets as ui_widgets

    assert ui_widgets.KEYBOARD_CLASS == quiz_widgets.KEYBOARD_CLASS
    assert f".{quiz_widgets.KEYBOARD_CLASS}" in quiz_widgets.ACCESSIBILITY_SCRIPT
    cards = [quizzes.show("p1"), quiz_widgets.ProgressCard(Progress(tmp_path / "p.json"))]
    for card in cards:
        card._repr_mimebundle_()
        assert quiz_widgets.KEYBOARD_CLASS in card.widget._dom_classes, type(card).__name__
    panel = lesson_panel(initial=None, auto_run=False)
    assert ui_widgets.KEYBOARD_CLASS in panel.widget._dom_classes
    assert ui_widgets.KEYBOARD_CLASS in hint_panel().widget._dom_classes


@pytest.mark.parametrize("height", [120, 250])
def test_the_svg_curves_reference_labels_never_overlap(height):
    import re

    from rnn_lesson.ui.plots import TASK_LINES
    from rnn_lesson.ui.svg import LABEL_GAP, curves_svg

    svg = curves_svg([(fake_run(0.3, 32, 0, 0.9, 0.87), "fix")], 20, TASK_LINES, height=height)
    labels = {line.label for line in TASK_LINES}
    ys = sorted(float(y) for y, text in re.findall(r'<text x="[^"]+" y="([^"]+)" font-size="8"'
                                                   r'[^>]*>([^<]+)<', svg) if text in
                {label.replace(">", "&gt;").replace("<", "&lt;") for label in labels})
    assert len(ys) == 3
    assert all(b - a >= LABEL_GAP for a, b in zip(ys, ys[1:])), ys


# The x axis fits what it shows; colours that read in both themes; a banner that never clips


def _polyline_xs(svg: str) -> list[float]:
    """The x of every point of the loss panel's curves (the left one)."""
    import re

    right = _plot_box(svg)[1]
    return [x for points in re.findall(r'<polyline points="([^"]+)"', svg)
            for x in map(float, re.findall(r"([\d.]+),[\d.]+", points)) if x <= right]


def _plot_box(svg: str) -> tuple[float, float]:
    import re

    x, width = re.search(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg).groups()
    return float(x), float(x) + float(width)


def test_a_finished_run_fills_the_axis_and_a_run_in_progress_spans_its_cap():
    from rnn_lesson.ui.svg import curves_svg

    stopped = fake_run(0.0, 128, 0, 0.85, 0.78)
    stopped = dataclasses.replace(stopped, train_loss=[0.5] * 4, val_loss=[0.5] * 4,
                                  train_acc=[0.85] * 4, val_acc=[0.78] * 4)
    stopped = dataclasses.replace(stopped, train_config=dataclasses.replace(
        stopped.train_config, max_epochs=60))
    left, right = _plot_box(curves_svg([(stopped, "run")], None))
    xs = _polyline_xs(curves_svg([(stopped, "run")], None))
    assert max(xs) - left >= 0.8 * (right - left)  # 4 epochs of 4: the whole axis
    assert right - max(xs) <= 0.15 * (right - left)  # with a little room
    live = _polyline_xs(curves_svg([(stopped, "run")], 60))
    assert max(live) - left <= 0.1 * (right - left)  # while training: the axis runs to the cap


def test_the_panel_fits_its_axis_to_the_epochs_run_once_a_run_ends(baseline_history):
    from rnn_lesson.lessons.overfitting import ES_ONLY

    stopped = ES_ONLY.record(seed=0)  # early stopping ended it at epoch 4 of 60
    panel = ExperimentPanel(ES_ONLY, initial=stopped, auto_run=False)
    assert stopped.epochs < stopped.train_config.max_epochs
    left, right = _plot_box(panel.curves.value)
    assert max(_polyline_xs(panel.curves.value)) - left >= 0.8 * (right - left)
    assert f">{stopped.epochs}</text>" in panel.curves.value  # its last epoch is labelled


def test_an_overlay_of_finished_runs_fits_the_longest_run_not_the_longest_cap():
    panel = ExperimentPanel(FIX, auto_run=False)
    first = panel.run()
    panel.controls["max_epochs"].value = 60
    panel.run()
    panel.log.table.value = (1, 2)
    svg = panel.log.comparison.value
    longest = max(h.epochs for h in panel.log.records.values())
    assert longest < 60 and f">{longest}</text>" in svg and ">60</text>" not in svg
    assert first.epochs <= longest


def test_overlay_colours_read_on_a_dark_theme_too():
    from rnn_lesson.ui.svg import RUN_COLORS, TEXT

    assert "#000000" not in RUN_COLORS and len(set(RUN_COLORS)) == len(RUN_COLORS) == 7
    assert RUN_COLORS[-1] == TEXT  # the theme's text colour: black on light, white on dark


def test_the_banner_holds_the_longest_verdict_it_can_show_at_the_curves_width():
    from rnn_lesson.lessons.overfitting import ES_ONLY, TASK, missing_fixes
    from rnn_lesson.results import Verdict
    from rnn_lesson.ui.widgets import banner_lines, banner_parts

    panel = ExperimentPanel(ES_ONLY, auto_run=False)
    reserved = float(panel.banner_height.split("(")[1].split("em")[0]) / 1.4
    worst = missing_fixes(BASELINE.model, BASELINE.train)
    for hint in (TASK.hint_memorizes, TASK.hint_train_high, TASK.hint_val_low,
                 TASK.hint_stopped_early.format(epoch=60, train=1.0), TASK.hint_undertrained):
        verdict = Verdict(False, 1.0, 0.779, ("x",), hint, TASK)
        assert banner_lines(banner_parts(verdict, worst)) <= round(reserved), hint[:40]
    assert f"height:{panel.banner_height}" in panel.banner.value
    assert "overflow-y:auto" in panel.banner.value  # narrower pages scroll, with a shadow cue


def test_the_text_estimate_wraps_like_a_browser_on_the_safe_side():
    from rnn_lesson.ui.widgets import text_lines

    assert text_lines("word " * 10) == 1
    # 93 characters fit a line of the banner at 14 px (a browser fits about 100 of DejaVu Sans)
    assert text_lines("x" * 90 + " " + "y" * 10) == 2


def test_saving_the_log_replaces_a_link_at_its_place_never_writes_through_it(tmp_path):
    import os

    panel = ExperimentPanel(FIX, auto_run=False)
    panel.run()
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    link = tmp_path / "runs.csv"
    os.symlink(target, link)
    path = panel.log.save_csv(link)
    assert path == link and not link.is_symlink() and "verdict" in link.read_text()
    assert target.read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
