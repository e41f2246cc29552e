import dataclasses

import matplotlib
import pytest
import torch

from rnn_lesson.data import COURSE_SPEC, ideal_predictions
from rnn_lesson.lessons import rnn_vs_lstm as bonus
from rnn_lesson.lessons.overfitting import FIX as REGULARIZED
from rnn_lesson.lessons.rnn_vs_lstm import plot_accuracy_vs_length, plot_gradient_norms, plot_sweep_run
from rnn_lesson.models import ModelConfig, build_model, count_parameters
from rnn_lesson.results import Spread

TINY_TRAIN = dataclasses.replace(bonus.LONG_TRAIN, max_epochs=2)
TINY = dataclasses.replace(REGULARIZED, train=dataclasses.replace(REGULARIZED.train, max_epochs=2))


@pytest.fixture(scope="module")
def tiny_sweep():
    return bonus.accuracy_vs_length((10, 12), ("rnn", "lstm"), seeds=(0, 1), n_train=64,
                                    training=TINY_TRAIN, workers=1)


def parameters(group):
    return group.runs[0].extras["parameters"]


def test_long_spec_puts_the_ramp_in_the_first_steps_only():
    spec = bonus.long_spec(30, n_train=64)
    assert (spec.seq_len, spec.signal_steps, spec.n_train) == (30, bonus.SIGNAL_STEPS, 64)
    assert dataclasses.replace(spec, seq_len=20, signal_steps=None, n_train=200, signal=1.5,
                               distractor_offset=2.5, pulses=5, pulse_amplitude=16.0) == COURSE_SPEC
    val = bonus.data_for(spec).load().val
    ideal = (ideal_predictions(val.x, spec) == val.y).float().mean().item()
    assert 0.85 <= ideal <= 0.90  # the ramp still decides the class, the ceiling is still 90%


def test_compare_cells_reports_parameters_and_spreads_per_cell():
    rows = bonus.compare_cells(("rnn", "lstm", "gru"), seeds=(0, 1), experiment=TINY, workers=1)
    assert [row.name for row in rows] == ["rnn", "lstm", "gru"]
    for row in rows:
        model = build_model(dataclasses.replace(REGULARIZED.model, cell=row.name))
        assert parameters(row) == count_parameters(model)
        assert row.seeds == (0, 1) and len(row.runs[0].extras["grad_norms"]) == 20
        for spread in (row.spread("val_acc"), row.spread("test_acc")):
            assert spread.n == 2 and spread.low <= spread.mean <= spread.high
        assert all(run.epochs == 2 and len(run.val_acc) == 2 for run in row.runs)
    # an LSTM has 4 sets of the RNN's recurrent weights, a GRU 3 (the linear head is shared)
    head = 32 * 2 + 2
    assert parameters(rows[1]) - head == 4 * (parameters(rows[0]) - head)
    assert parameters(rows[2]) - head == 3 * (parameters(rows[0]) - head)
    table = bonus.format_comparison(rows)
    assert len(table.splitlines()) == 4 and "14,146" in table
    # the cost column: an LSTM step does 4 times the RNN's multiply-adds, a GRU's 3 times
    costs = [int(line.split()[-1].replace(",", "")) for line in table.splitlines()[1:]]
    assert costs[1] == 4 * costs[0] and costs[2] == 3 * costs[0]


def test_accuracy_vs_length_has_every_cell_length_and_seed(tiny_sweep):
    assert list(tiny_sweep) == [("rnn", 10), ("lstm", 10), ("rnn", 12), ("lstm", 12)]
    for (cell, length), summary in tiny_sweep.items():
        assert summary.seeds == (0, 1)
        for run in summary.runs:
            assert run.model_config.cell == cell and len(run.extras["grad_norms"]) == length
            assert 0.0 <= run.final.test_acc <= 1.0
    lengths, accuracy = bonus.accuracies_by_cell(tiny_sweep)
    assert lengths == [10, 12] and list(accuracy) == ["rnn", "lstm"]
    assert accuracy["lstm"][1] == [r.final.test_acc for r in tiny_sweep["lstm", 12].runs]
    table = bonus.format_length_table(tiny_sweep)
    assert table.splitlines()[0].split() == ["cell", "T=10", "T=12"]


def test_gradient_norm_per_step_is_one_positive_finite_number_per_step():
    split = bonus.data_for(bonus.long_spec(30, n_train=64)).load().val
    torch.manual_seed(0)
    model = build_model(ModelConfig(cell="rnn", hidden_size=32, num_layers=1, dropout=0.0)).train()
    norms = bonus.gradient_norm_per_step(model, split, n=64)
    assert norms.shape == (30,)
    assert torch.isfinite(norms).all() and (norms > 0).all()
    assert model.training and all(p.grad is None for p in model.parameters())
    # the same number by hand, for one sequence
    x = split.x[:1].clone().requires_grad_(True)
    model.eval()
    torch.nn.functional.cross_entropy(model(x), split.y[:1]).backward()
    one = bonus.gradient_norm_per_step(model, split, n=1)
    torch.testing.assert_close(one, x.grad[0].norm(dim=1))


def test_initial_gradient_norms_are_reproducible_and_vanish_toward_the_start_for_the_rnn():
    state = torch.random.get_rng_state()
    a = bonus.initial_gradient_norms("rnn", 30, seeds=(0, 1))
    b = bonus.initial_gradient_norms("rnn", 30, seeds=(0, 1))
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is untouched
    assert a.shape == (2, 30) and torch.equal(a, b)
    assert (bonus.first_to_last_ratio(a).high < 1e-3)  # 29 steps of tanh recurrence at init


def test_spread_formats_mean_and_range():
    spread = Spread.of([0.5, 0.7, 0.6])
    assert spread.pct() == "60.0% [50.0-70.0]" and spread.n == 3


def test_bonus_plots(tiny_sweep):
    lengths, accuracy = bonus.accuracies_by_cell(tiny_sweep)
    fig = plot_accuracy_vs_length(lengths, accuracy, signal_steps=10)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels[:2] == ["nn.RNN: mean of 2 seeds, band min-max", "nn.LSTM: mean of 2 seeds, band min-max"]
    assert "chance (50%)" in labels and "best possible (90%)" in labels
    profiles = {cell: bonus.trained_gradient_norms(tiny_sweep, cell, 12) for cell in ("rnn", "lstm")}
    fig = plot_gradient_norms({"after training": profiles, "again": profiles}, signal_steps=10)
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"
    fig = plot_sweep_run(list(tiny_sweep["lstm", 12].runs), signal_steps=10)
    assert len(fig.axes) == 2 and isinstance(fig, matplotlib.figure.Figure)


def test_length_explorer_redraws_from_the_precomputed_sweep(tiny_sweep):
    explorer = bonus.length_explorer(tiny_sweep)
    cell, length = explorer.widget.children[0].children
    assert (cell, length) == (explorer.cell, explorer.length)
    assert list(cell.options) == ["rnn", "lstm"] and list(length.options) == [10, 12]
    first = explorer.png
    cell.value, length.value = "rnn", 10  # each change redraws; nothing is trained
    assert explorer.png.startswith(b"\x89PNG") and explorer.png != first
    bundle = explorer._repr_mimebundle_()
    assert "nn.RNN at T=10" in bundle["text/html"] and "data:image/png;base64," in bundle["text/html"]
