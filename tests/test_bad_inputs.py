"""What a hostile learner tries: every bad input gets a clear error (or a correct result), before
any long work starts. Each case asserts the exact kind of outcome and a phrase of its message."""

import dataclasses
import io
import math
import subprocess
import sys
import warnings

import pytest
import torch

from rnn_lesson.data import Dataset, Split, load_course_data
from rnn_lesson.lessons.overfitting import FIX, check_task, claims
from rnn_lesson.models import ModelConfig, build_model
from rnn_lesson.training import TrainConfig, TrainingDiverged, train

QUICK = dataclasses.replace(FIX.train, max_epochs=2)


@pytest.mark.parametrize("changes, message", [
    ({"lr": math.inf}, "lr must be a number > 0 and <= 10"),
    ({"lr": math.nan}, "lr must be a number > 0 and <= 10"),
    ({"lr": -1e-3}, "lr must be a number > 0 and <= 10"),
    ({"lr": 3e38}, "lr must be a number > 0 and <= 10"),
    ({"lr": "1e-3"}, "lr must be a number"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"batch_size": 32.5}, "batch_size must be a whole number"),
    ({"max_epochs": True}, "max_epochs must be a whole number"),
    ({"patience": 0}, "patience must be >= 1"),
    ({"seed": "0"}, "seed must be a whole number"),
    ({"weight_decay": -0.1}, "weight_decay must be a finite number >= 0"),
    ({"grad_clip": 0.0}, "grad_clip must be a finite number > 0"),
    ({"early_stopping": "yes"}, "early_stopping must be True or False"),
])
def test_bad_training_settings(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(FIX.train, **changes)


@pytest.mark.parametrize("changes, message", [
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ({"dropout": -0.1}, r"dropout must be in \[0, 1\)"),
    ({"dropout": math.nan}, r"dropout must be in \[0, 1\)"),
    ({"input_dropout": 1.0}, r"input_dropout must be in \[0, 1\)"),
    ({"hidden_size": 32.0}, "hidden_size must be an integer"),
    ({"hidden_size": 0}, "hidden_size must be an integer >= 1"),
    ({"num_layers": True}, "num_layers must be an integer"),
    ({"num_classes": 1}, "num_classes must be an integer >= 2"),
    ({"cell": "transformer"}, "unknown cell"),
    ({"hidden_size": 10**6}, "more than this machine has"),  # fails at once, allocates nothing
])
def test_bad_model_settings(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(FIX.model, **changes)


def course_with(**train_changes) -> Dataset:
    data = load_course_data()
    return dataclasses.replace(data, train=dataclasses.replace(data.train, **train_changes))


@pytest.mark.parametrize("make, message", [
    (lambda d: course_with(y=d.train.y.float()), "dtype torch.float32"),
    (lambda d: course_with(y=torch.where(d.train.y == 1, 2, 0)), "labels from 0 to 2"),
    (lambda d: course_with(y=torch.full_like(d.train.y, -100)), "labels from -100"),
    (lambda d: course_with(y=d.train.y[:-1]), "one label per sequence"),
    (lambda d: course_with(x=d.train.x[:, :, :5]), r"\(batch, seq_len, 10\)"),
    (lambda d: course_with(x=d.train.x[0]), r"\(batch, seq_len, 10\)"),
    (lambda d: course_with(x=torch.where(torch.arange(20)[None, :, None] == 3, math.nan, d.train.x)),
     "NaN or infinite values in x"),
    (lambda d: course_with(lengths=torch.full((len(d.train),), 21)), "each must be in 1..20"),
    (lambda d: course_with(lengths=torch.full((len(d.train),), 20.0)), "one torch.int64 per sequence"),
    (lambda d: course_with(lengths=torch.ones(len(d.train), dtype=torch.bool)),
     "one torch.int64 per sequence"),
])
def test_bad_data_is_refused_before_training(make, message):
    data = make(load_course_data())
    with pytest.raises(ValueError, match=message):
        train(FIX.model, QUICK, data)


def test_a_diverging_run_stops_with_an_error_that_names_the_learning_rate(monkeypatch):
    import rnn_lesson.training as training

    real = training.evaluate
    calls = []

    def diverging(model, split):  # the loss of the 3rd evaluation is NaN
        calls.append(1)
        loss, acc = real(model, split)
        return (math.nan if len(calls) == 3 else loss), acc

    monkeypatch.setattr(training, "evaluate", diverging)
    with pytest.raises(TrainingDiverged, match=r"epoch 2: the train loss is nan with lr=0.001\. "
                                               "Lower the learning rate"):
        train(FIX.model, dataclasses.replace(QUICK, max_epochs=5))


def test_nan_never_passes_the_task_or_a_claim(fix_history):
    assert not check_task((0.5, math.nan)).passed
    broken = dataclasses.replace(fix_history, final=dataclasses.replace(
        fix_history.final, val_acc=math.nan, train_acc=math.nan))
    assert claims({"fix": [broken]}) != []
    assert claims({"baseline": [broken]}) != []


def test_an_unverified_load_never_stands_in_for_the_verified_data():
    checked = load_course_data()
    unchecked = load_course_data(verify=False)
    assert unchecked is not checked
    unchecked.train.x[0, 0, 0] += 1.0  # the learner's copy, changed
    assert load_course_data() is checked  # the checked one is untouched


def test_an_in_place_edit_of_the_course_data_is_caught_and_undone():
    data = load_course_data()
    original = data.fingerprint()
    data.train.x[0, 0, 0] += 1.0
    with pytest.warns(UserWarning, match="changed in place"):
        again = load_course_data()
    assert again is not data and again.fingerprint() == original


def test_a_model_gets_a_wrong_input_shape_error_that_names_the_fix():
    model = build_model(ModelConfig(input_size=8))
    with pytest.raises(ValueError, match=r"x.unsqueeze\(0\)"):
        model(torch.zeros(5, 8))


# The terminal quiz


def quiz(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "quizzes", *args], input=stdin,
                          capture_output=True, timeout=60)


def test_quiz_ids_empty_or_repeated_are_refused():
    empty, twice = quiz("--ids", ""), quiz("--ids", "p1,p1")
    assert empty.returncode == 2 and b"at least one question id" in empty.stderr
    assert twice.returncode == 2 and b"more than once" in twice.stderr


def test_quiz_input_that_is_not_text_gets_a_reprompt_and_keeps_the_score():
    done = quiz("--ids", "p1,p2", stdin=b"A\n\xff\xfe\nC\n")
    assert done.returncode == 0, done.stderr
    assert b"Please answer with one of" in done.stdout and b"Score: 2/2 correct" in done.stdout


def test_quiz_unknown_answer_letter_is_named():
    import quizzes

    with pytest.raises(ValueError, match="not an option"):
        quizzes.check("p1", "E")


# The panel


def test_the_panel_shows_an_impossible_setting_in_its_banner_not_a_traceback():
    from rnn_lesson.lessons.overfitting import panel

    bench = panel(FIX, auto_run=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bench.controls["lr"].options = (("1e+30", 1e30),) + tuple(bench.controls["lr"].options)
        bench.controls["lr"].value = 1e30
        assert bench.run() is None
    assert "Cannot train: lr must be a number &gt; 0 and &lt;= 10" in bench.banner.value
