import json

import pytest

from rnn_lesson.cli import main
from rnn_lesson.sweep import SweepConfig, run_sweep

SMALL = SweepConfig(dropouts=(0.0, 0.3), hidden_sizes=(32,), seeds=(0, 1))  # 4 short runs


def without_seconds(result):
    return {key: {k: v for k, v in run.items() if k != "seconds"} for key, run in result.runs.items()}


@pytest.fixture(scope="module")
def small_sweep():
    return run_sweep(SMALL, workers=1, cache_dir=False)


def test_every_cell_has_mean_min_max_over_its_seeds(small_sweep):
    assert len(small_sweep.runs) == 4 and small_sweep.cached == 0
    runs = [small_sweep.runs[(0.3, 32, seed)] for seed in (0, 1)]
    cell = small_sweep.cells[(0.3, 32)]
    vals = [r["val_acc"] for r in runs]
    assert cell.val_acc == (sum(vals) / 2, min(vals), max(vals))
    gaps = [r["train_acc"] - r["val_acc"] for r in runs]
    assert cell.gap[1] == min(gaps) and cell.gap[2] == max(gaps)
    assert small_sweep.grid("val_acc")[1][0] == cell.val_acc[0]  # rows dropout, columns hidden


def test_parallel_workers_give_the_same_numbers_as_one_process(small_sweep):
    parallel = run_sweep(SMALL, workers=2, cache_dir=False)
    assert without_seconds(parallel) == without_seconds(small_sweep)


def test_the_cache_returns_stored_runs_and_never_a_stale_one(tmp_path, small_sweep):
    first = run_sweep(SMALL, workers=1, cache_dir=tmp_path)
    assert first.cached == 0 and len(list(tmp_path.glob("*.json"))) == 4
    again = run_sweep(SMALL, workers=1, cache_dir=tmp_path)
    assert again.cached == 4 and again.runs == first.runs
    # one more seed: only the new runs are trained
    more = run_sweep(SweepConfig(dropouts=(0.0, 0.3), hidden_sizes=(32,), seeds=(0, 1, 2)),
                     workers=1, cache_dir=tmp_path)
    assert more.cached == 4 and len(more.runs) == 6


def test_json_output_has_one_entry_per_cell(small_sweep):
    data = small_sweep.to_json()
    assert len(data["cells"]) == 2
    assert {"val_acc_mean", "train_acc_min", "gap_max", "in_task_region"} <= set(data["cells"][0])
    json.dumps(data)


def test_cli_sweep_is_registered(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    assert "--workers" in capsys.readouterr().out
