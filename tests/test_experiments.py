import pytest

from rnn_lesson.experiments import (
    BASELINE,
    REGULARIZED,
    check_task,
    claim_failures,
    run,
)


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


@pytest.mark.parametrize("experiment", [BASELINE, REGULARIZED], ids=lambda e: e.name)
def test_one_seed_of_each_configuration_reproduces_its_claim(experiment):
    history = run(experiment, seed=0)
    assert claim_failures(experiment.name, history.final) == []


def test_claims_name_what_broke():
    failures = claim_failures("baseline", {"train_acc": 0.9, "val_acc": 0.85, "val_loss": 0.5})
    assert len(failures) == 4
    with pytest.raises(ValueError, match="baseline"):
        claim_failures("lstm", {"train_acc": 0.9, "val_acc": 0.85, "val_loss": 0.5})
