import pytest

from rnn_lesson.experiments import check_task, claim_failures, lesson_comparison, summary_table


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
    assert "dropout" in verdict.hint and "early stopping" in verdict.hint
    assert verdict.short() == "Task not passed: val 78.0% < 85%, train 100.0% >= 92%"


def test_an_underfitting_run_gets_the_opposite_hint():
    verdict = check_task((0.70, 0.69))
    assert not verdict.passed and "underfits" in verdict.hint
    assert len(verdict.failures) == 1


def test_seed_0_of_the_baseline_overfits_as_claimed(baseline_history):
    assert claim_failures("baseline", baseline_history.final) == []
    assert baseline_history.final["val_acc"] <= 0.75  # the stretch band, on every seed in the CLI


def test_seed_0_of_the_fix_passes_the_task(regularized_history):
    assert claim_failures("regularized", regularized_history.final) == []
    assert check_task(regularized_history).passed


def test_summary_and_lesson_tables_show_every_metric():
    results = {name: {k: [0.5, 0.7] for k in ("train_acc", "val_acc", "train_loss", "val_loss")}
               for name in ("baseline", "regularized")}
    table = summary_table(results)
    assert "val_acc" in table and "60.0% [50.0%, 70.0%]" in table
    comparison = lesson_comparison(results)
    assert "98.0%" in comparison and "0.85" in comparison and "0.6 [0.5, 0.7]" in comparison


def test_claims_name_what_broke():
    failures = claim_failures("baseline", {"train_acc": 0.9, "val_acc": 0.85, "val_loss": 0.5})
    assert len(failures) == 4
    with pytest.raises(ValueError, match="baseline"):
        claim_failures("lstm", {"train_acc": 0.9, "val_acc": 0.85, "val_loss": 0.5})


def test_missing_fixes_names_what_the_lessons_recipe_has_and_a_setting_lacks():
    from rnn_lesson.experiments import BASELINE, REGULARIZED, missing_fixes

    assert missing_fixes(REGULARIZED.model, REGULARIZED.train) == []
    assert len(missing_fixes(BASELINE.model, BASELINE.train)) == 4
