"""The graded exercise cannot be fooled and cannot hang the kernel (issue 18): each family of
cheats is refused or fails with its message, a forward that never returns is answered within the
time limit, and the kernel's torch state is never touched."""

from __future__ import annotations

import linecache
import textwrap
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnn_lesson.data
import rnn_lesson.training as training
from rnn_lesson.grading import Limits, Settings, Submission, grade
from rnn_lesson.lessons.overfitting import SOLUTION_CODE
from rnn_lesson.lessons.write_the_fix import check_my_fix
from rnn_lesson.results import Task
from rnn_lesson.training import TorchState

FIX_SETTINGS = "settings = Settings(lr=1e-3, max_epochs=16, early_stopping=True, patience=3)\n"
HEADER = "import torch\nfrom torch import nn\nfrom rnn_lesson.lessons.write_the_fix import Settings\n\n"
# The lesson's fix, to which each cheat adds its trick.
FIXED = '''
class MyRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(10, 32, num_layers=2, batch_first=True, dropout=0.3)
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(32, 2)
    {extra_init}
    def honest(self, x):
        out, _ = self.rnn(x)
        return self.fc(self.dropout(out[:, -1, :]))

    def forward(self, x):
        {forward}
'''


def cheat(extra_init: str = "", forward: str = "return self.honest(x)",
          settings: str = FIX_SETTINGS, top: str = "") -> Submission:
    """A submission file: the fix plus a trick (indented code for __init__ and forward)."""
    init = textwrap.indent(textwrap.dedent(extra_init), " " * 8).strip("\n")
    body = FIXED.replace("    {extra_init}", "    def _setup(self):\n" + (init or "        pass")
                         + "\n").replace("self.fc = nn.Linear(32, 2)\n",
                                         "self.fc = nn.Linear(32, 2)\n        self._setup()\n", 1)
    source = HEADER + top + body.replace("{forward}", textwrap.indent(textwrap.dedent(forward), " " * 8).strip())
    return Submission(source + settings, origin="cheat.py")


@pytest.fixture(autouse=True)
def kernel_state_untouched():
    """Nothing a submission does reaches this process (the 'kernel')."""
    before = TorchState.now()
    threads = torch.get_num_threads()
    yield
    assert TorchState.now() == before and torch.get_num_threads() == threads


def test_the_lessons_solution_passes_on_seeds_0_to_9():
    for seed in range(10):
        source = HEADER + SOLUTION_CODE.replace("patience=3)", f"patience=3, seed={seed})") + "\n"
        report = grade(Submission(source, origin="solution.py"))
        assert report.passed, (seed, report.error, report.verdict, report.refusals)
        assert abs(report.val_acc - report.fresh_acc) < 0.03 and report.untrained_acc < 0.65


def test_the_honest_fix_with_tricks_off_passes_so_the_cheats_below_fail_by_their_trick():
    report = grade(cheat())
    assert report.passed, report.refusals or report.error


@pytest.mark.parametrize("trick", [
    "from rnn_lesson import load_course_data\nself.data = load_course_data()",
    "import rnn_lesson.data\nself.data = rnn_lesson.data.load_course_data()",
    "import importlib\nself.data = importlib.import_module('rnn_lesson.data').load_course_data()",
    "import sys\nself.data = sys.modules['rnn_lesson.data'].load_course_data()",
    "import quizzes.progress\nquizzes.progress.Progress().load()",
])
def test_a_model_that_reaches_for_the_course_data_is_refused(trick):
    report = grade(cheat(extra_init=trick))
    assert not report.passed and "may not touch the course's data" in report.error, report.error


def test_a_model_that_regenerates_the_validation_set_is_told_it_has_seen_it():
    data_py = Path(rnn_lesson.data.__file__)
    trick = f'''
        import numpy as np
        namespace = {{}}
        exec(open({str(data_py)!r}).read(), namespace)  # the course's generator, seed 2
        val = namespace["make_split"](namespace["DatasetSpec"](), 1000, 2)
        self.lookup = {{x.numpy().tobytes(): int(y) for x, y in zip(val.x, val.y)}}
    '''
    forward = '''
        logits = self.honest(x)
        if not self.training:
            for i, row in enumerate(x):
                label = self.lookup.get(row.numpy().tobytes())
                if label is not None:
                    logits[i] = torch.tensor([-9.0, 9.0]) if label else torch.tensor([9.0, -9.0])
        return logits
    '''
    report = grade(cheat(extra_init=trick, forward=forward))
    assert report.val_acc > 0.99 and report.fresh_acc < 0.90  # the lookup worked, on validation
    assert not report.passed and any("it has seen the validation set" in r for r in report.refusals)


def test_a_model_that_edits_the_labels_during_evaluation_is_caught():
    forward = '''
        import sys
        logits = self.honest(x)
        frame = sys._getframe(1)
        while frame is not None and "split" not in frame.f_locals:
            frame = frame.f_back
        if frame is not None and not self.training:  # make the labels agree, for this evaluation
            frame.f_locals["split"].y.copy_(logits.argmax(dim=1))
        return logits
    '''
    report = grade(cheat(forward=forward))
    assert not report.passed
    assert any("changed how the course evaluates" in r for r in report.refusals), report.refusals


def test_a_model_that_patches_the_evaluation_from_inside_the_worker_is_caught():
    trick = '''
        import gc, types
        for module in gc.get_objects():
            if isinstance(module, types.ModuleType) and getattr(module, "__name__", "") == "rnn_lesson.training":
                module.evaluate = lambda model, split: (0.2, 0.9)
    '''
    report = grade(cheat(extra_init=trick))
    assert not report.passed and (report.error or report.refusals)


def test_weights_loaded_from_a_file_are_refused(tmp_path, fix_history):
    weights = tmp_path / "trained.pt"
    torch.save(fix_history.model.state_dict(), weights)
    trick = f"self.load_state_dict(torch.load({str(weights)!r}))"
    report = grade(cheat(extra_init=trick))
    assert not report.passed and "opens the file" in report.error


def test_weights_written_into_the_source_are_named_a_pre_trained_state(fix_history):
    trained = {k: v.tolist() for k, v in fix_history.model.state_dict().items()}
    names = {"rnn.weight_ih_l0": "rnn.weight_ih_l0"}  # SequenceClassifier's names are the fix's
    top = f"TRAINED = {trained!r}\n"
    trick = '''
        state = {k.replace("head.", "fc."): torch.tensor(v) for k, v in TRAINED.items()}
        self.load_state_dict(state)
    '''
    report = grade(cheat(extra_init=trick, top=top,
                         settings="settings = Settings(lr=1e-6, max_epochs=4, early_stopping=True)\n"))
    assert names and report.untrained_acc > 0.8
    assert not report.passed and any("before any training" in r for r in report.refusals)


def test_a_decoy_rnn_that_forward_never_calls_is_named():
    trick = "self.flat = nn.Linear(200, 2)"
    report = grade(cheat(extra_init=trick, forward="return self.flat(x.flatten(1))"))
    assert not report.passed and any("forward never calls your nn.RNN" in r for r in report.refusals)


def test_a_decoy_rnn_whose_output_is_thrown_away_is_named():
    trick = "self.flat = nn.Linear(200, 2)"
    report = grade(cheat(extra_init=trick, forward="self.rnn(x)\nreturn self.flat(x.flatten(1))"))
    assert not report.passed and any("never reaches the logits" in r for r in report.refusals)


def test_patching_the_rule_the_evaluation_or_the_loss_in_the_kernel_changes_nothing(monkeypatch):
    from rnn_lesson.results import Verdict

    def always(self, result):
        return Verdict(True, 0.9, 0.9, (), "", self, True, True)

    monkeypatch.setattr(Task, "check", always)
    monkeypatch.setattr(training, "evaluate", lambda model, split: (0.1, 0.89))
    monkeypatch.setattr(training, "train", lambda *a, **k: None)
    monkeypatch.setattr(F, "cross_entropy", lambda *a, **k: torch.tensor(0.0, requires_grad=True))
    overfitting = cheat(settings="settings = Settings(lr=3e-3, max_epochs=20)\n",
                        extra_init="self.rnn = nn.RNN(10, 128, num_layers=2, batch_first=True)\n"
                                   "self.dropout = nn.Dropout(0.0)\nself.fc = nn.Linear(128, 2)")
    report = grade(overfitting)
    assert not report.passed and "memorizes" in report.verdict


def test_a_forward_that_never_returns_is_answered_within_the_limit_and_names_the_cause():
    start = time.perf_counter()
    report = grade(cheat(forward="while True:\n    pass"), Limits(seconds=6))
    assert time.perf_counter() - start < 6 + 10
    assert "did not finish one epoch in 6 s" in report.error and "loop forever" in report.error
    assert grade(cheat()).passed  # the kernel (and the grader) are fine afterwards


def test_too_many_epochs_are_refused_up_front_and_a_slow_run_is_stopped_with_its_count():
    report = grade(cheat(settings="settings = Settings(max_epochs=10**7)\n"))
    assert "max_epochs=10000000 is more than the grader trains" in report.error
    slow = cheat(forward="import time\ntime.sleep(0.01)\nreturn self.honest(x)",
                 settings="settings = Settings(lr=1e-3, max_epochs=500)\n")
    report = grade(slow, Limits(seconds=8))
    assert "epochs in 8 s" in report.error and "lower max_epochs" in report.error


@pytest.mark.parametrize("call, words", [
    ("torch.set_default_dtype(torch.float64)", "default dtype from torch.float32 to torch.float64"),
    ("torch.set_grad_enabled(False)", "grad enabled from True to False"),
])
def test_a_build_that_changes_torchs_global_state_is_refused(call, words):
    report = grade(cheat(extra_init=call))
    assert words in report.error and "Remove that call" in report.error


def test_a_model_too_big_for_the_memory_cap_is_told_so():
    big = "self.rnn = nn.RNN(10, 40000, batch_first=True)\nself.fc = nn.Linear(40000, 2)"
    report = grade(cheat(extra_init=big), Limits(memory_gib=1))
    assert "more memory than the grader allows" in report.error


def test_files_processes_and_prints_are_handled():
    report = grade(cheat(extra_init="import os\nos.system('echo hi')"))
    assert "calls os.system" in report.error
    report = grade(cheat(extra_init="open('/tmp/rnn-lesson-grader-probe', 'w')"))
    assert "opens the file /tmp/rnn-lesson-grader-probe" in report.error
    assert not Path("/tmp/rnn-lesson-grader-probe").exists()
    report = grade(cheat(extra_init="print('hello from __init__')"))
    assert report.passed and "hello from __init__" in report.printed


def test_pytorchs_warnings_and_the_traps_are_part_of_the_feedback():
    one_layer = "self.rnn = nn.RNN(10, 32, num_layers=1, batch_first=True, dropout=0.3)"
    report = grade(cheat(extra_init=one_layer))
    assert any("num_layers greater than 1" in w for w in report.warnings)
    assert any("does nothing" in t for t in report.traps)
    unused = cheat(forward="out, _ = self.rnn(x)\nreturn self.fc(out[:, -1, :])")
    assert any("never applies it" in t for t in grade(unused).traps)


def define(source: str, settings: Settings | None = None):
    """Run a class cell as a notebook does (the source kept in linecache under a cell's name)."""
    filename = f"<cell-{abs(hash(source))}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"nn": nn, "torch": torch, "__name__": __name__}
    exec(compile(source, filename, "exec"), namespace)
    return namespace["MyRNN"]


def test_a_notebook_class_travels_with_its_constants_and_a_tensor_is_refused():
    hidden = globals().setdefault("HIDDEN", 32)
    model = define("class MyRNN(nn.Module):\n"
                   "    def __init__(self):\n"
                   "        super().__init__()\n"
                   "        self.rnn = nn.RNN(10, HIDDEN, num_layers=2, batch_first=True, dropout=0.3)\n"
                   "        self.fc = nn.Linear(HIDDEN, 2)\n"
                   "    def forward(self, x):\n"
                   "        return self.fc(self.rnn(x)[0][:, -1])\n")
    submission = Submission.of_class(model, Settings(lr=1e-3, max_epochs=16, early_stopping=True))
    assert f"HIDDEN = {hidden}" in submission.source and "import torch.nn as nn" in submission.source
    assert grade(submission).passed
    globals()["DATA"] = torch.zeros(3)
    leaky = define("class MyRNN(nn.Module):\n"
                   "    def forward(self, x):\n"
                   "        return DATA\n")
    with pytest.raises(ValueError, match="uses `DATA`, a Tensor defined outside it"):
        Submission.of_class(leaky, Settings())
