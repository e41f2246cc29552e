"""Notebook 02's loop exercise: the corrected loop is train()'s, and a learner's loop is judged by
behaviour, each classic slip with its own message."""

from __future__ import annotations

import copy
import json
import linecache
import re
from pathlib import Path

import pytest

from quizzes.progress import Progress
from rnn_lesson.lessons.write_the_loop import (LESSON_LOOP, PROGRESS_KEY, STARTER_FIT, check_my_loop,
                                               loop_comparison, same_as_train)
from rnn_lesson.recipe import BASELINE, ES_ONLY, FIX

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT.parent / "shared" / "seed" / "lesson.txt"
RIGHT = (STARTER_FIT.replace("if ...:", "if val_loss < best_loss:")
         .replace("best_state = ...", "best_state = copy.deepcopy(model.state_dict())")
         .replace("    ...  # 3.", "    model.load_state_dict(best_state)  # 3."))


def define(source: str):
    filename = f"<cell-{abs(hash(source))}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"copy": copy, "__name__": __name__}
    exec(compile(source, filename, "exec"), namespace)
    return namespace["fit"]


@pytest.mark.parametrize("experiment", [FIX, ES_ONLY], ids=["fix", "es_only"])
def test_the_corrected_loop_is_the_loop_of_train(experiment):
    ours, trains = same_as_train(experiment, seed=1)
    assert ours == trains  # bit-identical validation losses, epoch by epoch
    with pytest.raises(ValueError, match="early_stopping=True"):
        same_as_train(BASELINE)


@pytest.mark.skipif(not LESSON.exists(), reason="the lesson's text is not beside the project")
def test_the_lessons_loop_is_shown_as_the_lesson_prints_it():
    squash = lambda text: re.sub(r"\s+", " ", text).strip()  # noqa: E731
    assert squash(LESSON_LOOP) in squash(LESSON.read_text())


def test_the_comparison_marks_the_lines_that_differ():
    shown = loop_comparison()._repr_html_()
    assert shown.count("box-shadow:inset 3px 0") >= 5  # each changed line marked (colour and bar)
    assert "copy.deepcopy(model.state_dict())" in shown and "trigger_times" in shown


def test_a_right_loop_passes_and_is_recorded():
    grade = check_my_loop(define(RIGHT))
    assert grade.passed, grade.text()
    assert all(run.kept == run.best and run.epochs == run.stop for run in grade.report.runs)
    # two runs stop early, one reaches max_epochs two epochs after its best epoch
    assert [run.stops_early for run in grade.report.runs] == [True, True, False]
    last = grade.report.runs[-1]
    assert last.epochs == last.max_epochs and last.best == last.epochs - 2
    assert Progress().verdict(PROGRESS_KEY)["best"]["passed"] and grade.attempt == 1
    assert "<img" in grade._repr_html_()


@pytest.mark.parametrize("slip, words", [
    (RIGHT.replace("    model.load_state_dict(best_state)  # 3.", "    pass  # 3."),
     "it never restores the best weights"),
    (RIGHT.replace("copy.deepcopy(model.state_dict())", "model.state_dict()"),
     "it restores a reference, not a copy"),
    (RIGHT.replace("if val_loss < best_loss:", "if -val_acc < best_loss:")
          .replace("best_loss, waited = val_loss, 0", "best_loss, waited = -val_acc, 0"),
     "its improvement test watches the validation accuracy, not the loss: it keeps the epoch of "
     "the highest validation accuracy"),
    (RIGHT.replace("if waited >= patience:", "if waited > patience:"), "it stopped too late"),
    (RIGHT.replace("if waited >= patience:", "if waited >= patience - 1:"), "it stopped too early"),
    (RIGHT.replace("if val_loss < best_loss:", "if val_loss < best_loss and epoch == 0:"),
     "it keeps epoch 1, but the lowest validation loss is at epoch"),
    (RIGHT.replace("                break\n", "                model.load_state_dict(best_state)\n"
                                          "                break\n")
          .replace("    model.load_state_dict(best_state)  # 3.", "    pass  # 3."),
     "it restores the best weights only when it stops early; a run that reaches max_epochs keeps "
     "its last weights"),
    (RIGHT.replace("            best_state = copy.deepcopy(model.state_dict())\n", "")
          .replace("                break\n", "                break\n"
                                          "        best_state = copy.deepcopy(model.state_dict())\n"),
     "best_state is replaced every epoch, not only when the validation loss improves"),
    (RIGHT.replace("if val_loss < best_loss:", "if val_loss < best_loss or True:"),
     "its improvement test is true every epoch"),
], ids=["never restores", "reference", "accuracy", "late", "early", "wrong comparison",
        "restores only before break", "saves every epoch", "always true"])
def test_each_classic_slip_gets_its_message_first(slip, words):
    grade = check_my_loop(define(slip), record=False)
    assert not grade.passed and words in grade.report.problems[0], grade.text()
    assert "restores a reference" not in grade.text() or "reference" in words


def test_an_improvement_test_that_is_never_true_is_told_what_it_means():
    grade = check_my_loop(define(RIGHT.replace("if val_loss < best_loss:", "if val_loss > best_loss:")),
                          record=False)
    assert "best_state is still None: the improvement test (line 1) was never true" in grade.report.error


def test_the_starter_is_not_graded_and_a_loop_that_never_stops_is_stopped():
    grade = check_my_loop(define(STARTER_FIT))
    assert "starter, unedited" in grade.text() and Progress().verdict(PROGRESS_KEY) is None
    from rnn_lesson.grading import Limits

    forever = RIGHT.replace("    for epoch in range(max_epochs):", "    while True:")
    forever = forever.replace("            if waited >= patience:\n                break\n", "")
    grade = check_my_loop(define(forever), record=False)  # told at its 21st epoch
    assert "called train_one_epoch more than max_epochs=20 times" in grade.report.error
    spin = "def fit(model, optimizer, train_one_epoch, measure, max_epochs=20, patience=3):\n" \
           "    while True:\n        pass\n"
    grade = check_my_loop(define(spin), record=False, limits=Limits(seconds=4))
    assert "without returning: does the loop stop?" in grade.report.error


# The review's forged runs (c_loop.py): many snapshots of the same weights for each case, written
# on the worker's pipe. The grader had measured 3 x 2000 of them, 52 s past the time limit.
FORGED_RUNS = '''def fit(model, optimizer, train_one_epoch, measure, max_epochs=20, patience=3):
    import base64, json, os, stat, struct, time
    import numpy as np
    def encoded(a):
        a = np.ascontiguousarray(a.detach().numpy(), dtype="<f4")
        return {"f32": base64.b64encode(a.tobytes()).decode(), "shape": list(a.shape)}
    snapshot = {k: encoded(v) for k, v in model.state_dict().items()}
    for seed, most in ((7, 20), (2, 20), (3, 7)):
        body = json.dumps(["run", {"seed": seed, "max_epochs": most, "snapshots": [snapshot] * N,
                                   "final": snapshot, "loads": []}]).encode()
        for fd in range(3, 64):
            try:
                if stat.S_ISFIFO(os.fstat(fd).st_mode):
                    os.write(fd, struct.pack("!i", len(body)) + body)
            except OSError:
                pass
    time.sleep(60)
'''


@pytest.mark.parametrize("snapshots, words", [
    (2000, "where at most 2097152 were due"), (40, "is not a list of at most 20 items")])
def test_forged_runs_are_refused_at_once_not_measured_past_the_limit(snapshots, words):
    import time

    from rnn_lesson.grading import Limits, LoopSubmission, grade_loop

    start = time.perf_counter()
    report = grade_loop(LoopSubmission(FORGED_RUNS.replace("* N", f"* {snapshots}"), "fit",
                                       "fit.py"), Limits(seconds=20))
    assert time.perf_counter() - start < 10 and not report.grader_fault
    assert "sent the grader a message it cannot read" in report.error and words in report.error


def test_the_notebook_shows_the_starter_the_grader_knows():
    import ast

    cells = ["".join(c["source"]) for c in json.loads(
        (ROOT / "notebooks" / "02_overfitting_experiment.ipynb").read_text())["cells"]
        if c["cell_type"] == "code"]
    fit_cell = next(c for c in cells if c.lstrip().startswith("def fit("))
    assert ast.dump(ast.parse(fit_cell)) == ast.dump(ast.parse(STARTER_FIT))


def test_a_grader_failure_is_not_saved_as_an_attempt(monkeypatch):
    from rnn_lesson.grading import LoopReport
    from rnn_lesson.lessons import write_the_loop

    monkeypatch.setattr(write_the_loop, "grade_loop", lambda submission, limits: LoopReport(
        error="the grader stopped unexpectedly (exit code -9); try again", grader_fault=True))
    grade = check_my_loop(define(RIGHT))
    assert "the grader stopped unexpectedly" in grade.text() and grade.attempt == 0
    assert Progress().verdict(PROGRESS_KEY) is None
