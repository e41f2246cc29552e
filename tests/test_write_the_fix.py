"""Notebook 02's exercise: the learner's own PyTorch model, trained by the one train() and graded."""

import time

import pytest
from torch import nn

from quizzes.progress import Progress
from rnn_lesson.lessons.write_the_fix import SOLUTION_CODE, Settings, check_my_fix


def solution():
    namespace = {"nn": nn, "Settings": Settings}
    exec(SOLUTION_CODE, namespace)
    return namespace["MyRNN"], namespace["settings"]


class Overfitting(nn.Module):  # the notebook's starting cell
    def __init__(self, hidden_size=128):
        super().__init__()
        self.rnn = nn.RNN(10, hidden_size, num_layers=2, batch_first=True)
        self.fc = nn.Linear(hidden_size, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])


def test_the_lessons_solution_passes_and_is_recorded():
    model, settings = solution()
    grade = check_my_fix(model, settings)
    assert grade.passed, grade.text()
    assert all(check.ok for check in grade.changes) and grade.traps == []
    assert Progress().load()["verdicts"]["02 write the fix"]["passed"]
    assert "<img" in grade._repr_html_() and "Task passed" in repr(grade)


def test_the_solutions_check_takes_under_two_seconds():
    model, settings = solution()
    check_my_fix(model, settings, record=False)  # warm up
    start = time.perf_counter()
    check_my_fix(model, settings, record=False)
    assert time.perf_counter() - start < 2.0 * 3  # 2 s on an idle machine; shared CI machines vary


def test_the_overfitting_start_fails_with_the_memorization_hint():
    grade = check_my_fix(Overfitting, Settings(max_epochs=20), record=False)
    assert not grade.passed and "memorizes the training set" in grade.verdict.hint
    assert [c.ok for c in grade.changes] == [False, False, False, False, False]


class OneLayerDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(10, 32, num_layers=1, batch_first=True, dropout=0.3)
        self.fc = nn.Linear(32, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])


class UnusedDropout(Overfitting):
    def __init__(self):
        super().__init__(hidden_size=32)
        self.dropout = nn.Dropout(0.3)


@pytest.mark.parametrize("model, trap", [
    (OneLayerDropout, "with num_layers=1 does nothing"),
    (UnusedDropout, "self.dropout = nn.Dropout(0.3) is defined but forward never applies it"),
])
def test_each_trap_gets_its_message(model, trap):
    grade = check_my_fix(model, Settings(lr=1e-3, early_stopping=True), record=False)
    assert any(trap in t for t in grade.traps), grade.traps
    assert not grade.changes[1].ok  # no dropout after the RNN either way


class ReturnsTuple(Overfitting):
    def forward(self, x):
        return self.rnn(x)


class EveryStep(Overfitting):
    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out)


class Raises(Overfitting):
    def forward(self, x):
        return self.fc(x)  # 10 features into Linear(128, 2)


class IntegerLogits(Overfitting):
    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :]).round().long()


class NeedsArguments(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()


class NoRecurrence(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 2)

    def forward(self, x):
        return self.fc(x.mean(dim=1))


class WrongInput(Overfitting):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(8, 128, batch_first=True)


@pytest.mark.parametrize("model, message", [
    (ReturnsTuple, "forward returned a tuple"),
    (EveryStep, "returned (4, 20, 2)"),
    (Raises, "forward raised RuntimeError"),
    (NeedsArguments, "give every __init__ argument a default"),
    (WrongInput, "input_size=10"),
    (NoRecurrence, "has no nn.RNN"),
    (IntegerLogits, "training your model raised"),
    ("MyRNN", "pass the class itself"),
])
def test_a_broken_model_gets_a_clear_message_not_a_traceback(model, message):
    grade = check_my_fix(model, Settings(max_epochs=2), record=False)
    assert message in grade.error and not grade.passed
    assert grade.text().startswith("Cannot grade your model yet")


def test_bad_settings_get_a_clear_message():
    grade = check_my_fix(Overfitting, Settings(lr=-1.0), record=False)
    assert "the settings: lr must be" in grade.error
