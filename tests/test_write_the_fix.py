"""Notebook 02's exercise: the learner's own PyTorch model, graded in fresh processes; the best
attempt kept, the starter never graded, a stale class never graded silently."""

import json
import linecache
from pathlib import Path

import pytest
import torch
from torch import nn

from quizzes.progress import Progress
from rnn_lesson.lessons.write_the_fix import (PROGRESS_KEY, SOLUTION_CODE, STARTER_CODE,
                                              STARTER_SETTINGS, Settings, check_my_fix, is_starter,
                                              latest_cell_problem)

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_overfitting_experiment.ipynb"


def define(source: str) -> dict:
    """Run a cell as a notebook does (its source kept in linecache under the cell's name)."""
    filename = f"<cell-{abs(hash(source))}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"nn": nn, "torch": torch, "Settings": Settings, "__name__": __name__}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def solution():
    namespace = define(SOLUTION_CODE)
    return namespace["MyRNN"], namespace["settings"]


class Overfitting(nn.Module):  # the notebook's starting cell, with a docstring (so, not the starter)
    """The baseline."""

    def __init__(self, hidden_size=128):
        super().__init__()
        self.rnn = nn.RNN(10, hidden_size, num_layers=2, batch_first=True)
        self.fc = nn.Linear(hidden_size, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])


def test_the_lessons_solution_passes_and_is_recorded_as_attempt_one():
    model, settings = solution()
    grade = check_my_fix(model, settings)
    assert grade.passed, grade.text()
    assert all(present for _, present, _ in grade.report.changes) and grade.report.traps == []
    entry = Progress().verdict(PROGRESS_KEY)
    assert entry["best"]["passed"] and entry["best"]["n"] == 1 == grade.attempt
    assert "class MyRNN" in entry["best"]["code"] and "settings = Settings(" in entry["best"]["code"]
    assert "<img" in grade._repr_html_() and "Task passed" in repr(grade)
    assert "This is attempt 1" in grade.text()


def test_a_worse_attempt_never_replaces_the_best_and_the_feedback_says_which_is_shown():
    model, settings = solution()
    check_my_fix(model, settings)
    worse = check_my_fix(Overfitting, Settings(max_epochs=20))
    assert not worse.passed and worse.attempt == 2
    assert "Your best so far: attempt 1 (passed" in worse.text()
    entry = Progress().verdict(PROGRESS_KEY)
    assert entry["best"]["n"] == 1 and len(entry["attempts"]) == 2


def test_the_unedited_starter_is_not_graded_nor_recorded():
    namespace = define(STARTER_CODE)
    grade = check_my_fix(namespace["MyRNN"], STARTER_SETTINGS)
    assert "starter code, unedited" in grade.text() and not grade.passed
    assert Progress().verdict(PROGRESS_KEY) is None
    assert is_starter(namespace["MyRNN"], dataclasses_replace_seed(STARTER_SETTINGS))
    edited = define(STARTER_CODE.replace("hidden_size=128", "hidden_size=32"))["MyRNN"]
    assert not is_starter(edited, STARTER_SETTINGS)


def dataclasses_replace_seed(settings):
    import dataclasses

    return dataclasses.replace(settings, seed=4)


def test_the_notebooks_starter_cells_are_the_ones_the_grader_knows():
    import ast

    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]
             if c["cell_type"] == "code"]
    class_cell = next(c for c in cells if "class MyRNN" in c)
    assert ast.dump(ast.parse(class_cell[class_cell.index("class MyRNN"):])) == \
        ast.dump(ast.parse(STARTER_CODE))
    settings_cell = next(c for c in cells if c.startswith("settings = Settings("))
    assert eval(settings_cell.split("=", 1)[1], {"Settings": Settings}) == STARTER_SETTINGS


def test_a_syntax_error_in_the_class_cell_is_not_hidden_by_the_previous_class():
    model, _ = solution()
    broken = SOLUTION_CODE.replace("def forward(self, x):", "def forward(self, x)")
    problem = latest_cell_problem(model, [SOLUTION_CODE, "x = 1", broken])
    assert "has a syntax error (line" in problem and "does not grade the MyRNN of an earlier run" in problem
    other = SOLUTION_CODE.replace("hidden_size=32", "hidden_size=16")
    assert "not the one in your last cell that defines it" in latest_cell_problem(model, [other])
    assert latest_cell_problem(model, [SOLUTION_CODE, "check_my_fix(MyRNN, settings)"]) == ""


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
    assert any(trap in t for t in grade.report.traps), grade.report.traps
    assert not grade.report.changes[1][1]  # no dropout after the RNN either way


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
    (IntegerLogits, "forward must return float logits of shape (2000, 2) in eval mode; it "
                    "returned a torch.int64 tensor"),
    ("MyRNN", "pass the class itself"),
])
def test_a_broken_model_gets_a_clear_message_not_a_traceback(model, message):
    grade = check_my_fix(model, Settings(max_epochs=2), record=False)
    assert message in grade.error and not grade.passed
    assert grade.text().startswith("Cannot grade your model yet")


def test_bad_settings_get_a_clear_message():
    grade = check_my_fix(Overfitting, Settings(lr=-1.0), record=False)
    assert "the settings: lr must be" in grade.error
    with pytest.raises(ValueError, match="max_epochs=100000 is more than the grader trains"):
        Settings(max_epochs=100_000)


def test_a_class_cell_with_a_magic_is_read_as_the_python_it_runs():
    model, _ = solution()
    for cell in ("%config InlineBackend.figure_format = 'png'\n" + SOLUTION_CODE,
                 "%%time\n" + SOLUTION_CODE, "!echo hi\n" + SOLUTION_CODE):
        assert latest_cell_problem(model, ["x = 1", cell]) == "", cell[:20]
    broken = "%%time\n" + SOLUTION_CODE.replace("def forward(self, x):", "def forward(self, x)")
    assert "has a syntax error" in latest_cell_problem(model, [SOLUTION_CODE, broken])
    assert latest_cell_problem(model, ["%%bash\nclass MyRNN broken"]) == ""


def test_a_class_defined_in_a_time_cell_can_be_graded():
    from rnn_lesson.grading import class_source
    from rnn_lesson.lessons.write_the_fix import keep_magic_cell_source

    body = SOLUTION_CODE.split("\n\n\nsettings")[0] + "\n"
    namespace = {"nn": nn, "torch": torch}
    exec(compile(body, "<timed exec>", "exec"), namespace)  # as %%time compiles a cell's body
    with pytest.raises(ValueError):
        class_source(namespace["MyRNN"])
    keep_magic_cell_source(namespace["MyRNN"], ["%%time\n" + body])
    assert class_source(namespace["MyRNN"]).startswith("class MyRNN(nn.Module):")


def test_a_grader_failure_is_not_saved_as_an_attempt(monkeypatch):
    from rnn_lesson.grading import Report
    from rnn_lesson.lessons import write_the_fix

    monkeypatch.setattr(write_the_fix, "grade", lambda submission, limits: Report(
        error="the grader stopped unexpectedly (exit code -9); try again", grader_fault=True))
    model, settings = solution()
    grade = check_my_fix(model, settings)
    assert "the grader stopped unexpectedly" in grade.text() and grade.attempt == 0
    assert Progress().verdict(PROGRESS_KEY) is None


def test_a_result_not_confirmed_on_new_data_is_explained_without_blame():
    from rnn_lesson.grading import Report
    from rnn_lesson.lessons.write_the_fix import Grade

    report = Report(passed=False, verdict="Task passed: ...", short="Task not passed: the result is "
                    "not confirmed on new data (80.1% and 80.9% after training again)",
                    refusals=["the result is not confirmed on new data: ..."], val_acc=0.855)
    text = Grade(report).text()
    assert text.startswith("Task not passed: the result is not confirmed") and "Why: " in text
