"""The run record (History) as JSON, spreads over seeds, groups, the one table format."""

import json
import math

import pytest

from rnn_lesson.results import Group, Spread, Task, group_by, table
from rnn_lesson.training import History


def test_a_record_goes_to_json_and_back_unchanged(fix_history):
    record = json.loads(json.dumps(fix_history.to_dict()))
    again = History.from_dict(record)
    assert again == fix_history and again.model is None
    assert "model" not in record


@pytest.mark.parametrize("change, message", [
    (lambda r: [r], "JSON object"),
    (lambda r: {**r, "extra": 1}, "exactly the keys"),
    (lambda r: {**r, "final": {"val_acc": 1.0}}, "malformed"),
    (lambda r: {**r, "val_loss": [math.inf] * len(r["val_loss"])}, "finite"),
    (lambda r: {**r, "train_acc": []}, "disagree"),
])
def test_a_bad_record_is_refused_with_what_is_wrong(fix_history, change, message):
    with pytest.raises(ValueError, match=message):
        History.from_dict(change(fix_history.to_dict()))


def test_spread_and_table(fix_history, baseline_history):
    assert Spread.of([0.5, 0.7]).pct() == "60.0% [50.0-70.0]"
    with pytest.raises(ValueError, match="at least one"):
        Spread.of([])
    groups = group_by([fix_history, baseline_history], lambda h: h.model_config.hidden_size)
    assert list(groups) == [32, 128] and groups[32].runs == [fix_history]
    lines = str(table([Group("fix", [fix_history])], ("train_acc", "val_loss", "epochs"))).splitlines()
    assert lines[0].split() == ["train_acc", "val_loss", "epochs", "seeds"]
    assert lines[1].startswith("fix ") and lines[1].endswith("1") and "%" in lines[1]
    shown = table([Group("fix", [fix_history])], ("train_acc", "epochs"))._repr_html_()
    assert "<table>" in shown and "<br><small>[" in shown  # the range wraps under the mean


def test_a_task_judges_finite_numbers_only():
    task = Task(0.85, 0.92, hint_not_finite="lower the learning rate")
    assert task.check((0.9, 0.86)).passed
    for pair in ((math.nan, 0.9), (0.9, math.nan), (0.9, math.inf)):
        assert not task.check(pair).passed and task.check(pair).hint == "lower the learning rate"


def test_the_short_verdict_compares_like_the_check():
    import numpy as np

    verdict = Task(0.85, 0.90).check((float(np.float32(0.9)), 0.87))
    assert not verdict.passed and "train 90.0% >= 90%" in verdict.short()
