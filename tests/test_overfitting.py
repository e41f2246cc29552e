"""Notebook 02's lesson module: the task, the claims, the hints, the map."""

import json

import pytest

from rnn_lesson.lessons.overfitting import (BASELINE, FIX, HINTS, SOLUTION, MapConfig, check_task,
                                            claims, hint_panel, lesson_comparison, missing_fixes,
                                            run_map)
from rnn_lesson.models import build_model, count_parameters
from rnn_lesson.results import Group


def test_task_passes_only_with_val_at_least_85_and_train_below_92():
    assert check_task((0.90, 0.87)).passed
    assert check_task((0.9199, 0.85)).passed
    assert not check_task((0.92, 0.87)).passed
    assert not check_task((0.90, 0.8499)).passed


def test_an_overfitting_run_is_told_both_failures_with_distances_and_a_hint():
    verdict = check_task((1.0, 0.78))
    text = str(verdict)
    assert "val accuracy 78.0% is 7.0 points below 85%" in text
    assert "train accuracy 100.0% is not below 92% (8.0 points over)" in text
    assert "memorizes" in verdict.hint
    assert verdict.short() == "Task not passed: val 78.0% < 85% and train 100.0% >= 92%"


def test_the_short_verdict_names_only_what_failed_and_says_what_holds():
    assert check_task((0.85, 0.779)).short() == \
        "Task not passed: val 77.9% < 85% (train 85.0% < 92% holds)"
    assert check_task((0.95, 0.86)).short() == \
        "Task not passed: train 95.0% >= 92% (val 86.0% >= 85% holds)"
    assert check_task((0.90, 0.87)).short() == "Task passed: val 87.0% >= 85%, train 90.0% < 92%"


def test_an_underfitting_run_gets_the_opposite_hint():
    verdict = check_task((0.70, 0.69))
    assert not verdict.passed and "underfits" in verdict.hint
    assert len(verdict.failures) == 1


@pytest.mark.parametrize("pair", [(0.5, float("nan")), (float("nan"), 0.9), (float("inf"), 0.9)])
def test_a_nan_never_passes(pair):
    verdict = check_task(pair)
    assert not verdict.passed and "learning rate" in verdict.hint


def test_seed_0_of_the_baseline_overfits_as_claimed(baseline_history):
    assert claims({"baseline": Group("baseline", [baseline_history])}) == []
    assert baseline_history.final.train_acc == 1.0


def test_seed_0_of_the_fix_passes_the_task(fix_history):
    assert claims({"fix": Group("fix", [fix_history])}) == []
    assert check_task(fix_history).passed


def test_claims_name_what_broke_and_fail_on_nan(fix_history, baseline_history):
    broken = claims({"baseline": Group("baseline", [fix_history])})
    assert len(broken) == 4 and all(line.startswith("baseline seed 0:") for line in broken)
    with pytest.raises(ValueError, match="baseline"):
        claims({"lstm": Group("lstm", [fix_history])})


def test_the_lesson_table_shows_claimed_and_measured(fix_history, baseline_history):
    comparison = lesson_comparison({"baseline": Group("baseline", [baseline_history]),
                                    "fix": Group("fix", [fix_history])})
    assert "98.0%" in comparison and "0.85" in comparison and "val_loss" in comparison


def test_missing_fixes_names_what_the_lessons_recipe_has_and_a_setting_lacks():
    assert missing_fixes(FIX.model, FIX.train) == []
    assert missing_fixes(BASELINE.model, BASELINE.train) == [
        "dropout inside nn.RNN (0.3, with 2 or more layers)",
        "dropout after nn.RNN (0.3, on its last step's output)", "a smaller hidden size (32)",
        "a lower learning rate (1e-3)", "early stopping that restores the best epoch"]


# The hints (their numbers are checked against the code)


def test_there_are_four_hints_like_the_lesson_then_a_solution():
    assert len(HINTS) == 4 and SOLUTION.title.startswith("Solution")


def test_hint_2s_capacity_claim_matches_the_models():
    ratio = count_parameters(build_model(BASELINE.model)) / count_parameters(build_model(FIX.model))
    assert round(ratio) == 14 and "14 times" in HINTS[1].text
    assert "200 training sequences" in HINTS[1].text


def test_hint_3s_claim_the_baselines_good_epoch_is_over_almost_at_once(baseline_history):
    assert baseline_history.best_epoch <= 2  # "lowest after the first couple of epochs"
    assert baseline_history.train_acc[4] >= 0.95  # "passes 95% within 5 epochs"
    assert "3e-3" in HINTS[2].text and "95% within 5 epochs" in HINTS[2].text


def test_the_solution_names_the_fix_configuration():
    model, train = FIX.model, FIX.train
    assert (model.dropout, model.hidden_size, train.lr, train.patience) == (0.3, 32, 1e-3, 3)
    for text in ("Dropout 0.3", "hidden size 32", "lr 1e-3", "patience 3", "overfitting.FIX"):
        assert text in SOLUTION.text


def test_the_hint_panel_reveals_one_step_per_click_then_stops():
    panel = hint_panel()
    assert panel.text.value == "" and panel.button.description == "Show hint 1"
    for shown in range(1, 6):
        panel.button.click()
        assert panel.shown == shown
        assert panel.text.value.count("<div") == shown
    assert panel.button.description == "All hints shown" and panel.button.disabled
    assert "Solution" in panel.text.value


# The map

SMALL = MapConfig(dropouts=(0.0, 0.3), hidden_sizes=(32,), seeds=(0, 1))  # 4 short runs


@pytest.fixture(scope="module")
def small_map():
    return run_map(SMALL, workers=1, cache=False)


def test_every_cell_has_mean_min_max_over_its_seeds(small_map):
    cell = small_map.cells[(0.3, 32)]
    assert cell.seeds == (0, 1)
    vals = cell.values("val_acc")
    spread = cell.spread("val_acc")
    assert (spread.mean, spread.low, spread.high) == (sum(vals) / 2, min(vals), max(vals))
    gaps = [h.final.train_acc - h.final.val_acc for h in cell.runs]
    assert cell.spread("gap").low == min(gaps) and cell.spread("gap").high == max(gaps)
    assert small_map.grid("val_acc")[1][0] == spread.mean  # rows dropout, columns hidden


def test_json_output_has_one_entry_per_cell(small_map):
    data = small_map.to_json()
    assert len(data["cells"]) == 2
    assert {"val_acc_mean", "train_acc_min", "gap_max", "in_task_region"} <= set(data["cells"][0])
    json.dumps(data)


def test_each_ablation_variant_differs_from_its_reference_by_one_change():
    import dataclasses

    from rnn_lesson.lessons.overfitting import ABLATION

    def changed(a, b):
        return {f"{part}.{k}" for part in ("model", "train")
                for k, v in dataclasses.asdict(getattr(a, part)).items()
                if v != dataclasses.asdict(getattr(b, part))[k]}

    es_only = ABLATION["es_only"]
    assert changed(es_only, BASELINE) <= {"train.early_stopping", "train.patience"}
    assert changed(ABLATION["es_dropout"], es_only) == {"model.dropout"}
    assert changed(ABLATION["es_hidden"], es_only) == {"model.hidden_size"}
    assert changed(ABLATION["es_lr"], es_only) == {"train.lr"}
    assert changed(ABLATION["fix_no_dropout"], FIX) == {"model.dropout"}
    assert changed(ABLATION["fix_no_hidden"], FIX) == {"model.hidden_size"}
    assert changed(ABLATION["fix_no_lr"], FIX) == {"train.lr"}
    # without early stopping, the fix trains as long as the baseline
    assert changed(ABLATION["fix_no_es"], FIX) == {"train.early_stopping", "train.max_epochs"}
    assert ABLATION["fix_no_es"].train.max_epochs == BASELINE.train.max_epochs


def test_a_low_verdict_reads_the_curves_for_its_hint():
    import dataclasses

    from rnn_lesson.lessons.overfitting import ES_ONLY

    stopped = ES_ONLY.record(seed=0)  # early stopping kept epoch 1 of a fast memorizer
    hint = check_task(stopped).hint
    assert not check_task(stopped).passed and "memorizes faster than early stopping" in hint
    assert f"went back to epoch {stopped.best_epoch}" in hint and "underfits" not in hint
    slow = dataclasses.replace(FIX, train=dataclasses.replace(
        FIX.train, lr=1e-4, max_epochs=6, early_stopping=False)).run(seed=0)
    assert "the run ended too soon" in check_task(slow).hint
