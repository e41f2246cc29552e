import pytest

from rnn_lesson.experiments import BASELINE, REGULARIZED
from rnn_lesson.training import train
from rnn_lesson.widgets import ExperimentPanel, banner_html, settings_from

FIX_VALUES = {"dropout": 0.3, "hidden_size": 32, "lr": 1e-3, "early_stopping": True}


def set_values(panel, values):
    for name, value in values.items():
        panel.controls[name].value = value


def test_the_panel_starts_from_the_overfitting_baseline():
    model, training = settings_from(ExperimentPanel(auto_run=False).values())
    assert model == BASELINE.model
    assert training == BASELINE.train


def test_run_trains_the_slider_setting_with_the_one_train_and_shows_the_verdict():
    panel = ExperimentPanel(auto_run=False)
    set_values(panel, FIX_VALUES)
    history = panel.run()
    expected = train(REGULARIZED.model, REGULARIZED.train)
    assert history.val_loss == expected.val_loss  # same numbers as the library's train()
    assert "Task passed" in panel.banner.value and "#c8e6c9" in panel.banner.value
    assert panel.last_png.startswith(b"\x89PNG")
    assert "restored epoch" in panel.status.value


def test_a_failing_setting_gets_an_amber_banner_with_a_hint():
    panel = ExperimentPanel(auto_run=False)
    set_values(panel, {**FIX_VALUES, "hidden_size": 8, "dropout": 0.7, "lr": 1e-4, "max_epochs": 10})
    panel.run()
    assert "Task not passed" in panel.banner.value and "Hint:" in panel.banner.value
    assert "Not in your settings yet: a lower learning rate" not in panel.banner.value  # 1e-4


def test_the_banner_names_the_lessons_changes_the_setting_lacks(baseline_history):
    panel = ExperimentPanel(initial=baseline_history, auto_run=False)
    assert ("Not in your settings yet: dropout (0.3), a smaller hidden size (32), a lower "
            "learning rate (1e-3), early stopping.") in panel.banner.value


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
    assert len(panel.output.outputs) == 1  # the new plot replaces the old ones, never stacks
    assert f"val {panel.last_history.final['val_acc']:.1%}" in panel.banner.value
    assert panel.runs_started <= len(moves)


def test_errors_in_training_reach_the_banner_not_a_traceback(monkeypatch):
    panel = ExperimentPanel(auto_run=False)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("rnn_lesson.widgets.train", broken)
    assert panel.run() is None
    assert "Training failed: RuntimeError: out of memory" in panel.banner.value


def test_banner_escapes_text():
    assert "&lt;b&gt;" in banner_html(None, "<b>")


def test_an_initial_run_is_shown_without_training_and_must_match_the_start(baseline_history):
    panel = ExperimentPanel(initial=baseline_history, auto_run=False)
    assert panel.runs_started == 0 and panel.last_history is baseline_history
    assert "Task not passed" in panel.banner.value and panel.last_png
    with pytest.raises(ValueError, match="other settings"):
        ExperimentPanel(start=REGULARIZED, initial=baseline_history, auto_run=False)


def fake_sweep():
    from rnn_lesson.sweep import SweepConfig, SweepResult

    config = SweepConfig(dropouts=(0.0, 0.3), hidden_sizes=(32, 128), seeds=(0, 1))
    runs = {(d, h, s): {"train_acc": 0.9 + h / 2000, "val_acc": 0.87 - h / 2000 + d / 100 + s / 1000}
            for d in config.dropouts for h in config.hidden_sizes for s in config.seeds}
    return SweepResult(config, runs)


def test_the_sweep_map_star_follows_the_panels_sliders():
    from rnn_lesson.widgets import SweepMap

    panel = ExperimentPanel(auto_run=False)
    sweep_map = SweepMap(fake_sweep(), panel)
    assert sweep_map.mark() == (0.0, 128) and sweep_map.last_png.startswith(b"\x89PNG")
    before = sweep_map.last_png
    panel.controls["dropout"].value = 0.3
    assert sweep_map.mark() == (0.3, 128) and sweep_map.last_png != before
    assert len(sweep_map.output.outputs) == 1


def test_the_panel_and_the_map_carry_a_png_for_viewers_without_widgets(baseline_history):
    from rnn_lesson.widgets import SweepMap

    panel = ExperimentPanel(initial=baseline_history, auto_run=False)
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "image/png" in bundle
    assert "image/png" in SweepMap(fake_sweep())._repr_mimebundle_()
