"""The graded exercise cannot be fooled and cannot hang the kernel (issue 18): each family of
cheats is refused or fails with its message, a run that never ends is answered within the time
limit, no process is left behind, and the kernel's torch state is never touched."""

from __future__ import annotations

import base64
import io
import json
import linecache
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnn_lesson.data
import rnn_lesson.training as training
from grading_helpers import alive, assert_no_leftovers, descendants
from rnn_lesson.grading import sandbox
from rnn_lesson.grading import Limits, Settings, Submission, grade
from rnn_lesson.grading import fix as fix_module
from rnn_lesson.grading import walls, wire
from rnn_lesson.lessons.overfitting import SOLUTION_CODE
from rnn_lesson.results import Task
from rnn_lesson.training import TorchState

FIX_SETTINGS = "settings = Settings(lr=1e-3, max_epochs=16, early_stopping=True, patience=3)\n"
HEADER = "import torch\nfrom torch import nn\nfrom rnn_lesson.lessons.write_the_fix import Settings\n\n"
SHORT = Limits(seconds=6)  # for the checks that must end at the time limit
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
    source = HEADER + textwrap.dedent(top) + body.replace(
        "{forward}", textwrap.indent(textwrap.dedent(forward), " " * 8).strip())
    return Submission(source + settings, origin="cheat.py")


def checked(submission: Submission, limits: Limits = Limits(), within: float | None = None):
    """grade(), answered within the limit + 10 s, with no process left behind."""
    start = time.perf_counter()
    report = grade(submission, limits)
    assert time.perf_counter() - start < (within or limits.seconds + 10)
    assert_no_leftovers()
    return report


@pytest.fixture(autouse=True)
def kernel_state_untouched():
    """Nothing a submission does reaches this process (the 'kernel')."""
    before = TorchState.now()
    threads = torch.get_num_threads()
    yield
    assert TorchState.now() == before and torch.get_num_threads() == threads


@pytest.fixture(scope="module")
def honest():
    """The honest fix with every trick off, graded once for the tests that compare with it."""
    return grade(cheat())


def refused(report, words: str) -> bool:
    return not report.passed and (words in report.error or any(words in r for r in report.refusals))


# ---------------------------------------------------------------------------------------------
# Honest work passes, with room


def test_the_lessons_solution_passes_on_seeds_0_to_9_with_room_to_every_floor():
    for seed in range(10):
        source = HEADER + SOLUTION_CODE.replace("patience=3)", f"patience=3, seed={seed})") + "\n"
        report = grade(Submission(source, origin="solution.py"))
        assert report.passed, (seed, report.error, report.verdict, report.refusals)
        assert abs(report.val_acc - report.fresh_acc) < 0.03 and report.untrained_acc < 0.65
        # room: each model's mean over fresh draws is 86.6% or more, a draw varies by 0.76 points
        assert report.fresh_acc >= fix_module.FRESH_FLOOR + 0.005, (seed, report.fresh_acc)
        assert report.confirm_acc >= fix_module.CONFIRM_FLOOR and len(report.confirm_accs) == 3
        assert len(sandbox.STARTED[-1]) == 3  # grader, worker, and the helper of runs 2 and 3
    assert_no_leftovers()


def test_a_helper_that_ends_abruptly_is_reported_from_its_own_exit_code():
    """The confirmation's helper runs the learner's code too. This forward ends its process when
    its first call is a training batch (32 sequences): only in the helper, where no 4-sequence
    probe comes first."""
    report = checked(cheat(top="CALLS = []\n", forward="""
        CALLS.append(len(x))
        if CALLS[0] == 32:
            import os
            os._exit(3)
        return self.honest(x)"""))
    assert not report.passed and "exit code 3" in report.error, report


def test_the_honest_fix_and_a_gru_pass_so_the_cheats_below_fail_by_their_trick(honest):
    assert honest.passed, honest.refusals or honest.error
    assert honest.confirm_acc >= fix_module.CONFIRM_FLOOR
    gru = cheat(extra_init="self.rnn = nn.GRU(10, 32, num_layers=2, batch_first=True, dropout=0.3)",
                settings="settings = Settings(lr=1e-3, max_epochs=30, early_stopping=True)\n")
    report = checked(gru)
    assert report.passed, report.refusals or report.error


# ---------------------------------------------------------------------------------------------
# P0: the worker cannot reach the kernel or the grader, and the grader unpickles nothing of it

# The worker's pipes, found without gc or frames (the guard refuses those): by their descriptors.
PIPES = '''
    import os, stat, struct
    pipes = [fd for fd in range(3, 256) if _is_pipe(fd)]
    def send(data):  # a frame as multiprocessing writes it, to every pipe (the read end refuses)
        for fd in pipes:
            try:
                os.write(fd, struct.pack("!i", len(data)) + data)
            except OSError:
                pass
'''
IS_PIPE = '''import os, stat
def _is_pipe(fd):
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False
'''


def test_a_report_forged_on_the_pipe_is_not_a_pass_and_gc_and_frames_are_refused():
    trick = PIPES + '''
    import pickle
    send(pickle.dumps({"passed": True, "short": "Task passed (forged)"}))
    '''
    report = checked(cheat(extra_init=trick, top=IS_PIPE))
    assert refused(report, "sent the grader a message it cannot read"), report.error
    # the worker holds its own two pipe ends, nothing of the kernel's or the grader's
    count = "print('pipes', sum(_is_pipe(fd) for fd in range(256)))"
    assert "pipes 2" in checked(cheat(extra_init=count, top=IS_PIPE)).printed
    for look, words in (("import gc\ngc.get_objects()", "search the process's objects"),
                        ("import sys\nsys._getframe(1).f_back", "inspect the call stack"),
                        ("import inspect\ninspect.stack()", "inspect the call stack")):
        assert refused(checked(cheat(extra_init=look)), words)


def test_a_pickle_payload_never_runs_in_the_grader_or_the_kernel(tmp_path):
    marker = tmp_path / "ran"
    trick = PIPES + f'''
    import pickle
    class Evil:
        def __reduce__(self):
            return (os.system, ("touch {marker}",))
    send(pickle.dumps(("epoch", Evil())))
    send(b"\\x80\\x04" + b"junk")
    '''
    report = checked(cheat(extra_init=trick, top=IS_PIPE))
    assert refused(report, "sent the grader a message it cannot read"), report.error
    assert not marker.exists()


def test_a_message_out_of_order_oversized_or_half_sent_is_refused_or_ends_at_the_limit():
    forged = PIPES + '''
    import json
    send(json.dumps(["trained", {"val_logits": [1, 2]}]).encode())
    '''
    assert refused(checked(cheat(extra_init=forged, top=IS_PIPE)), "where 'built' was due")
    # the review's 64 MB of empty objects: refused by its size before a byte of JSON is decoded
    huge = PIPES + '''
    send(b'["built",[' + b'{},' * (21 * 2**20) + b'{}]]')
    '''
    report = checked(cheat(extra_init=huge, top=IS_PIPE), within=20)
    assert refused(report, "where at most 524288 were due"), report.error
    # a "fault" is the worker's own only before the learner's code runs: after, it is a refusal
    fault = PIPES + '''
    import json
    send(json.dumps(["fault", "the disk is full"]).encode())
    '''
    report = checked(cheat(extra_init=fault, top=IS_PIPE))
    assert refused(report, "a message 'fault' where 'built' was due") and not report.grader_fault
    half = PIPES + '''
    import time
    for fd in pipes:
        try:
            os.write(fd, struct.pack("!i", 1000) + b"[")  # and never the rest
        except OSError:
            pass
    time.sleep(60)
    '''
    report = checked(cheat(extra_init=half, top=IS_PIPE), SHORT)
    assert "within 6 s" in report.error and "wait for something" in report.error


# ---------------------------------------------------------------------------------------------
# P1-3: knowing the task before training


def test_weights_loaded_from_a_file_are_refused(tmp_path, fix_history):
    weights = tmp_path / "trained.pt"
    torch.save(fix_history.model.state_dict(), weights)
    report = checked(cheat(extra_init=f"self.load_state_dict(torch.load({str(weights)!r}))"))
    assert refused(report, "opens the file"), report.error


def test_weights_written_into_the_source_are_named_a_pre_trained_state(fix_history):
    trained = {k: v.tolist() for k, v in fix_history.model.state_dict().items()}
    trick = '''
        state = {k.replace("head.", "fc."): torch.tensor(v) for k, v in TRAINED.items()}
        self.load_state_dict(state)
    '''
    report = checked(cheat(extra_init=trick, top=f"TRAINED = {trained!r}\n",
                           settings="settings = Settings(lr=1e-6, max_epochs=4, early_stopping=True)\n"))
    assert report.untrained_acc > 0.8 and refused(report, "before any training")


def test_pre_trained_weights_loaded_at_the_first_training_step_do_not_transfer(fix_history):
    buffer = io.BytesIO()
    torch.save({k.replace("head.", "fc."): v for k, v in fix_history.model.state_dict().items()},
               buffer)
    top = f"import base64, io\nW = {base64.b64encode(buffer.getvalue()).decode()!r}\n"
    forward = '''
        if self.training and not getattr(self, "loaded", False):
            self.loaded = True
            state = torch.load(io.BytesIO(base64.b64decode(W)))
            with torch.no_grad():
                for name, p in self.named_parameters():
                    p.copy_(state[name])
        return self.honest(x)
    '''
    report = checked(cheat(forward=forward, top=top,
                           settings="settings = Settings(lr=1e-6, max_epochs=2)\n"))
    assert report.untrained_acc < 0.7 and report.val_acc > 0.85  # the course data is fooled
    assert refused(report, "did not learn the task from data it had not seen before")
    assert report.confirm_acc < 0.7 and "It knew the task before training" in report.refusals[-1]


MATCHED_FILTER = '''
    logits = self.honest(x)
    if self.training or not getattr(self, "trained", False):
        self.trained = self.training
        return logits
    s = x[:, :, 0] @ torch.linspace(-1, 1, 20)
    return torch.stack([-s, s], dim=1) * 5 + 1e-3 * logits
'''


def test_a_hand_written_matched_filter_is_named_a_decoy_even_when_it_looks_for_hooks():
    report = checked(cheat(forward=MATCHED_FILTER))
    assert refused(report, "barely reaches the logits") and report.val_acc > 0.88
    # the review's hiding: answer honestly while a hook is on the RNN. The check hooks nothing
    hidden = MATCHED_FILTER.replace("    logits = self.honest(x)\n", "    logits = self.honest(x)\n"
                                    "    if self.rnn._forward_hooks or torch.nn.modules.module."
                                    "_global_forward_hooks:\n        return logits\n")
    report = checked(cheat(forward=hidden))
    assert refused(report, "barely reaches the logits"), report.refusals


# The review's adaptive filter (c_amf.py): the baseline RNN plus a rule that finds the signal's
# feature by itself (the largest projection on the ramp) and learns the class swap. Here it also
# hides from the decoy check by looking for what the check changes (a bar, not a wall: a
# `forward` in the RNN's own __dict__), so only the disguised runs can refuse it: with the signal
# spread over all ten features no one feature carries more than a tenth of its power.
ADAPTIVE_FILTER = '''
class MyRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(10, 128, num_layers=2, batch_first=True)
        self.fc = nn.Linear(128, 2)
        self.a = nn.Parameter(torch.zeros(1))
        self.register_buffer("steps", torch.zeros(()))
    def honest(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])
    def rule(self, x):
        m = torch.einsum("btf,t->bf", x, torch.linspace(-1, 1, x.shape[1]))
        j = m.abs().median(0).values.argmax()
        s = m[:, j] / 8.0
        return torch.stack([-s, s], 1) * self.a
    def forward(self, x):
        logits = self.honest(x)
        if self.training:
            self.steps += 1
            return logits + self.rule(x)
        if "forward" in vars(self.rnn) or self.steps < 3:  # the decoy check, or untrained
            return logits
        return self.rule(x) * 5 + 1e-3 * logits
settings = Settings(lr=3e-3, max_epochs=60, early_stopping=True, patience=3, seed=0)
'''


def test_an_adaptive_one_feature_filter_hidden_from_every_check_in_the_worker_does_not_transfer():
    report = checked(Submission(HEADER + ADAPTIVE_FILTER, origin="adaptive.py"))
    assert report.val_acc > 0.88 and report.fresh_acc > 0.88  # the course run is fooled
    assert not report.passed and report.confirm_acc < 0.75, report.confirm_accs
    assert refused(report, "did not learn the task") or refused(report, "not confirmed")


def test_an_epsilon_decoy_is_named_by_its_effect():
    trick = "self.lin = nn.Linear(20, 2)"
    forward = "return self.lin(x[:, :, 0]) + 1e-4 * self.honest(x)"
    report = checked(cheat(extra_init=trick, forward=forward,
                           settings="settings = Settings(lr=1e-2, max_epochs=40, early_stopping=True, "
                                    "patience=5)\n"))
    assert refused(report, "barely reaches the logits"), report.refusals


def test_a_decoy_rnn_that_forward_never_calls_or_throws_away_is_named():
    trick = "self.flat = nn.Linear(200, 2)"
    report = checked(cheat(extra_init=trick, forward="return self.flat(x.flatten(1))"))
    assert refused(report, "forward never calls your nn.RNN")
    report = checked(cheat(extra_init=trick, forward="self.rnn(x)\nreturn self.flat(x.flatten(1))"))
    assert refused(report, "barely reaches the logits")


# ---------------------------------------------------------------------------------------------
# P1-4: knowing the validation set


PARTIAL_LOOKUP = f'''
    namespace = {{}}
    exec(open({str(Path(rnn_lesson.data.__file__))!r}).read(), namespace)  # the course's generator
    val = namespace["make_split"](namespace["DatasetSpec"](), 1000, 2)
    self.val = (val.x, val.y)
'''
NUDGE = '''
    logits = self.honest(x)
    if self.training or len(x) != len(self.val[0]) or not torch.equal(x, self.val[0]):
        return logits
    logits, y = logits.clone(), self.val[1]
    right = int((logits.argmax(1) == y).sum())
    wrong = (logits.argmax(1) != y).nonzero().flatten()[:max(0, LIFT)]
    for i in wrong.tolist():
        logits[i] = torch.tensor([-4.0, 4.0]) if int(y[i]) else torch.tensor([4.0, -4.0])
    return logits
'''


def test_a_partial_lookup_of_the_validation_labels_is_named():
    """The review's case: a failing model (early stopping alone, about 81% on new data) nudged
    to 85.6% on validation by a lookup of the validation labels."""
    settings = "settings = Settings(lr=3e-3, max_epochs=60, early_stopping=True, seed=2)\n"
    baseline = ("self.rnn = nn.RNN(10, 128, num_layers=2, batch_first=True)\n"
                "self.dropout = nn.Dropout(0.0)\nself.fc = nn.Linear(128, 2)\n")
    report = checked(cheat(extra_init=baseline + textwrap.dedent(PARTIAL_LOOKUP), settings=settings,
                           forward=NUDGE.replace("LIFT", "856 - right")))
    assert report.val_acc > 0.85 and report.fresh_acc < 0.83
    assert refused(report, "it recognizes the validation sequences"), report.refusals


# The review's nearest-neighbour lookup (c_nn.py): noisy copies of the validation sequences are
# recognized too (they are 0.7 away, other sequences 20 and more), so the noise check sees the
# same lift on both; the fresh draw's floor (the task less 1.5 points) is what refuses it.
NEAREST = '''
    logits = self.honest(x)
    if self.training or len(x) != 1000:
        return logits
    vx, vy = self.val
    dist, idx = torch.cdist(x.flatten(1), vx.flatten(1)).min(1)
    known = dist < 3.0
    if known.sum() < 900:
        return logits
    y, pred = vy[idx], logits.argmax(1)
    right = (pred == y) & known
    need = int(round(0.855 * len(x))) - int(right.sum())
    wrong = ((pred != y) & known).nonzero().flatten()
    pick = wrong[idx[wrong].argsort()][:max(need, 0)]
    logits = logits.clone()
    logits[pick] = torch.where(y[pick, None] == 1, torch.tensor([-4.0, 4.0]), torch.tensor([4.0, -4.0]))
    return logits
'''


def test_a_nearest_neighbour_lookup_that_fools_the_noise_check_is_refused_by_the_fresh_floor():
    settings = "settings = Settings(lr=3e-3, max_epochs=60, early_stopping=True, seed=2)\n"
    baseline = ("self.rnn = nn.RNN(10, 128, num_layers=2, batch_first=True)\n"
                "self.dropout = nn.Dropout(0.0)\nself.fc = nn.Linear(128, 2)\n")
    report = checked(cheat(extra_init=baseline + textwrap.dedent(PARTIAL_LOOKUP), settings=settings,
                           forward=NEAREST))
    assert report.val_acc >= 0.855 and report.fresh_acc < fix_module.FRESH_FLOOR - 0.01
    assert not refused(report, "with a little noise added")  # the noise check is fooled
    # the floor refuses it, or the 5-point gap when the fresh draw falls below 80.5% (1 in 4)
    assert refused(report, "below 83.5%") or refused(report, "it has seen the validation set")


def test_a_lookup_of_validation_data_regenerated_from_its_seed_is_named():
    data_py = Path(rnn_lesson.data.__file__)
    trick = f'''
        namespace = {{}}
        exec(open({str(data_py)!r}).read(), namespace)  # the course's generator, seed 2
        val = namespace["make_split"](namespace["DatasetSpec"](), 1000, 2)
        self.val = (val.x, val.y)
    '''
    report = checked(cheat(extra_init=trick, forward=NUDGE.replace("LIFT", "45")))
    assert report.val_acc > 0.9  # the lookup worked, on validation, within the 5-point gap
    assert refused(report, "it recognizes the validation sequences"), report.refusals


def test_answers_changed_on_the_training_sequences_are_named():
    forward = '''
        logits = self.honest(x)
        keys = [hash(row.numpy().tobytes()) for row in x]
        if self.training:
            self.seen = getattr(self, "seen", set()) | set(keys)
        elif len(x) == 200 and all(k in self.seen for k in keys):
            logits = logits.clone()
            logits[::12] = logits[::12].flip(1)  # look less memorized
        return logits
    '''
    assert refused(checked(cheat(forward=forward)), "it trained on")


# The course's modules, reached without gc or frames: through an exported class's methods (the
# guard is a bar, not a wall: what the grader computes itself is what holds).
COURSE_GLOBALS = "Settings.train_config.__globals__"


def test_a_model_that_edits_the_labels_during_evaluation_is_caught():
    forward = f'''
        logits = self.honest(x)
        data = {COURSE_GLOBALS}["load_course_data"].__globals__["_verified"]
        if not self.training and len(x) == len(data.val.y):  # the labels agree, for this evaluation
            data.val.y.copy_(logits.argmax(dim=1))
        return logits
    '''
    assert refused(checked(cheat(forward=forward)), "changed how the course evaluates")


def test_a_model_that_patches_the_evaluation_from_inside_the_worker_is_caught():
    trick = f'''
        {COURSE_GLOBALS}["train"].__globals__["evaluate"] = lambda model, split: (0.2, 0.9)
    '''
    report = checked(cheat(extra_init=trick))
    assert not report.passed and (report.error or report.refusals)


# The review's forged record (c_bigrecord.py): train()'s record padded to N epochs, its
# max_epochs with it; 7.5 million had taken the kernel 17.5 s and 1.57 GB to draw.
PADDED_RECORD = f'''
    History = {COURSE_GLOBALS}["History"]
    original = History.to_dict
    def to_dict(self, original=original):
        record = original(self)
        more = N - len(record["train_loss"])
        for name, value in (("train_loss", 9), ("val_loss", 9), ("train_acc", 0), ("val_acc", 0)):
            record[name] = record[name] + [value] * more
        record["train_config"] = dict(record["train_config"], max_epochs=N)
        record["stop_reason"] = "reached max_epochs=" + str(N)
        return record
    History.to_dict = to_dict
'''


def test_a_record_longer_than_the_settings_allow_is_refused_before_it_reaches_the_kernel():
    report = checked(cheat(extra_init=PADDED_RECORD.replace("N - len", "400 - len")
                           .replace("=N)", "=400)").replace("str(N)", "'400'")))
    assert "its training settings are not yours" in report.error and report.record is None
    report = checked(cheat(extra_init=PADDED_RECORD.replace("N - len", "100_000 - len")
                           .replace("=N)", "=100_000)").replace("str(N)", "'100000'")))
    assert refused(report, "sent the grader a message it cannot read"), report.error
    assert report.record is None


def test_the_worker_sees_a_scrubbed_environment_not_the_kernels():
    trick = "import os\nprint('environment', sorted(os.environ), os.environ.get('HOME'))"
    printed = checked(cheat(extra_init=trick)).printed.splitlines()[0]
    names, home = printed.split("environment ", 1)[1].rsplit(" ", 1)
    names = eval(names)
    assert "RNN_LESSON_CACHE" in os.environ and "RNN_LESSON_CACHE" not in names
    assert set(names) <= {"PATH", "LANG", "LANGUAGE", "TZ", "HOME", "OMP_NUM_THREADS",
                          "MKL_NUM_THREADS"} | {n for n in names if n.startswith("LC_")}
    assert home == "/nonexistent"


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


# ---------------------------------------------------------------------------------------------
# P1-5: the walls (friendly refusals first; the seccomp filter is tested on its own below)


@pytest.mark.parametrize("trick, words", [
    ("import os\nos.system('echo hi')", "start a program (os.system)"),
    ("import os\nos.fork()", "start a process (os.fork)"),
    ("import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', 9))",
     "open a socket"),
    ("open('/tmp/rnn-lesson-grader-probe', 'w')", "write the file /tmp/rnn-lesson-grader-probe"),
    ("torch.from_file('/tmp/rnn-lesson-grader-probe', shared=True, size=4)",
     "open a file (torch.from_file)"),
    ("import ctypes\nctypes.pythonapi.open(b'/tmp/rnn-lesson-grader-probe', 0o101, 0o644)",
     "call a C function (ctypes)"),
    ("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))", "change a resource limit"),
    ("torch.set_num_threads(64)", "the grader trains with one thread"),
    ("import threading\nthreading.Thread(target=lambda: None).start()", "thread"),
    ("import gc\ngc.get_referrers(self)", "search the process's objects (gc.get_referrers)"),
    ("import sys\nsys.settrace(lambda *a: None)", "trace the code that runs (sys.settrace)"),
    ("import sys\nsys.addaudithook(lambda *a: None)", "add an audit hook"),
    ("try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    e.__traceback__.tb_frame",
     "inspect the call stack (the attribute tb_frame)"),
    ("g = (i for i in [1])\ng.gi_frame", "inspect the call stack (the attribute gi_frame)"),
    ("import logging\nlogging.getLogger('x').warning('hi')", "inspect the call stack"),
], ids=["system", "fork", "udp", "open-write", "from_file", "ctypes", "setrlimit", "threads",
        "thread", "gc referrers", "settrace", "audit hook", "tb_frame", "gi_frame", "logging"])
def test_files_processes_sockets_ctypes_and_threads_are_refused_by_name(trick, words):
    probe = Path("/tmp/rnn-lesson-grader-probe")
    report = checked(cheat(extra_init=trick))
    assert refused(report, words), report.error
    assert not probe.exists()


def test_the_standard_librarys_own_look_at_the_caller_still_works():
    """namedtuple, typing and enum read their caller's module name with sys._getframe: allowed
    for them (and only them); an error in the learner's code is still told with its line."""
    trick = ("import collections, enum, typing\n"
             "Point = collections.namedtuple('Point', 'x y')\nT = typing.TypeVar('T')\n"
             "Colour = enum.Enum('Colour', 'RED GREEN')\nprint(Point(1, 2), Colour.RED)")
    report = checked(cheat(extra_init=trick))
    assert not report.error and "Point(x=1, y=2) Colour.RED" in report.printed
    report = checked(cheat(forward="return self.honest(x) + undefined_name"))
    assert "NameError: name 'undefined_name' is not defined (line" in report.error
    assert "of cheat.py: return self.honest(x) + undefined_name)" in report.error


def test_a_refusal_the_code_catches_still_fails_the_check():
    trick = "try:\n    open('/tmp/rnn-lesson-grader-probe', 'w')\nexcept Exception:\n    pass"
    assert refused(checked(cheat(extra_init=trick)), "write the file")


def test_a_signal_to_another_process_or_the_grader_is_refused_and_everyone_survives():
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        for target in (str(sleeper.pid), "os.getppid()", "-1"):
            report = checked(cheat(extra_init=f"import os, signal\nos.kill({target}, signal.SIGKILL)"))
            assert refused(report, "send a signal to another process"), report.error
        assert sleeper.poll() is None  # alive
    finally:
        sleeper.kill()
        sleeper.wait()
    after = checked(cheat())  # the grader (and the forkserver) are fine afterwards
    assert not after.error and after.val_acc > 0.85


def test_prints_are_kept_and_a_huge_print_is_cut():
    report = checked(cheat(extra_init="print('hello from __init__')\nprint('x' * 10**6)"))
    assert not report.error and report.printed.startswith("hello from __init__")
    assert len(report.printed) <= fix_module.PRINT_LIMIT


@pytest.mark.skipif(walls.seccomp_arch() is None, reason="no seccomp filter on this platform")
def test_the_seccomp_filter_stops_what_ctypes_would_do_past_the_guard(tmp_path):
    """The wall behind the guard, alone: a process with the filter calls libc directly."""
    sleeper = subprocess.Popen(["sleep", "60"])
    script = f'''
import ctypes, json, os, socket, threading
from rnn_lesson.grading import walls
assert walls.install_seccomp()
libc = ctypes.CDLL(None, use_errno=True)
def errno_of(result):
    return ctypes.get_errno() if result == -1 else 0
out = {{
    "kill other": errno_of(libc.kill({sleeper.pid}, 9)),
    "kill all": errno_of(libc.kill(-1, 0)),
    "kill self 0": errno_of(libc.kill(os.getpid(), 0)),
    "fork": errno_of(libc.fork()),
    "open write": errno_of(libc.open(b"{tmp_path}/written", 0o101, 0o644)),
    "open read": 0 if libc.open(b"/etc/hostname", 0) >= 0 else ctypes.get_errno(),
    "socket": errno_of(libc.socket(2, 2, 0)),
    "unlink": errno_of(libc.unlink(b"{tmp_path}/keep")),
    "ptrace": errno_of(libc.ptrace(16, {sleeper.pid}, 0, 0)),
    "execve": errno_of(libc.execve(b"/bin/true", None, None)),
}}
# the review's attack on the kernel's scheduling (p_nonroot.py): every call on another process,
# a process group or a user is refused; the same calls on itself still work
mask = ctypes.c_ulong(1)
class Param(ctypes.Structure):
    _fields_ = [("priority", ctypes.c_int)]
limits = (ctypes.c_ulong * 2)()
nr = walls._ARCHES[walls.seccomp_arch()][1]
def errno_of_call(call):
    ctypes.set_errno(0)
    result = call()
    return ctypes.get_errno() if result == -1 else 0
for name, call in {{
    "setpriority user": lambda: libc.setpriority(2, 0, 19),
    "setpriority group": lambda: libc.setpriority(1, 0, 19),
    "setpriority other": lambda: libc.setpriority(0, {sleeper.pid}, 19),
    "getpriority other": lambda: libc.getpriority(0, {sleeper.pid}),
    "setpriority self": lambda: libc.setpriority(0, 0, 0),
    "getpriority self": lambda: libc.getpriority(0, os.getpid()),
    "setaffinity other": lambda: libc.sched_setaffinity({sleeper.pid}, 8, ctypes.byref(mask)),
    "getaffinity other": lambda: libc.sched_getaffinity({sleeper.pid}, 8, ctypes.byref(mask)),
    "getaffinity self": lambda: libc.sched_getaffinity(0, 8, ctypes.byref(mask)),
    "setscheduler other idle": lambda: libc.sched_setscheduler({sleeper.pid}, 5, ctypes.byref(Param(0))),
    "getscheduler other": lambda: libc.sched_getscheduler({sleeper.pid}),
    "setparam other": lambda: libc.sched_setparam({sleeper.pid}, ctypes.byref(Param(0))),
    "getscheduler self": lambda: libc.sched_getscheduler(0),
    "ioprio_set user idle": lambda: libc.syscall(nr["ioprio_set"], 3, os.getuid(), 3 << 13),
    "ioprio_set other": lambda: libc.syscall(nr["ioprio_set"], 1, {sleeper.pid}, 3 << 13),
    "ioprio_get other": lambda: libc.syscall(nr["ioprio_get"], 1, {sleeper.pid}),
    "ioprio_get self": lambda: libc.syscall(nr["ioprio_get"], 1, 0),
    "prlimit read other": lambda: libc.prlimit({sleeper.pid}, 7, None, ctypes.byref(limits)),
    "prlimit read self": lambda: libc.prlimit(0, 7, None, ctypes.byref(limits)),
}}.items():
    out[name] = errno_of_call(call)
thread = threading.Thread(target=lambda: None)
thread.start(); thread.join()
out["thread"] = 0
print(json.dumps(out))
'''
    (tmp_path / "keep").write_text("kept")
    try:
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout.strip().splitlines()[-1])
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()
    assert {k: v for k, v in out.items() if v} == {
        "kill other": 1, "kill all": 1, "fork": 1, "open write": 1, "socket": 1, "unlink": 1,
        "ptrace": 1, "execve": 1, "setpriority user": 1, "setpriority group": 1,
        "setpriority other": 1, "getpriority other": 1, "setaffinity other": 1,
        "getaffinity other": 1, "setscheduler other idle": 1, "getscheduler other": 1,
        "setparam other": 1, "ioprio_set user idle": 1, "ioprio_set other": 1,
        "ioprio_get other": 1, "prlimit read other": 1}
    assert not (tmp_path / "written").exists() and (tmp_path / "keep").exists()


# ---------------------------------------------------------------------------------------------
# P1-6 and time: nothing hangs, nothing is left behind


def test_a_forward_that_never_returns_and_ignores_signals_is_answered_within_the_limit():
    forward = '''
        import signal
        for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGXCPU"):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        while True:
            pass
    '''
    report = checked(cheat(forward=forward), SHORT)
    assert "within 6 s, the grader's time limit" in report.error, report.error
    assert "does __init__ or forward loop forever" in report.error and not report.grader_fault
    later = "self.calls += 1\nif self.calls > 1:\n    while True:\n        pass\nreturn self.honest(x)"
    report = checked(cheat(extra_init="self.calls = 0", forward=later), SHORT)
    assert "did not finish one epoch in 6 s" in report.error and "loop forever" in report.error


def test_too_many_epochs_are_refused_up_front_and_a_slow_run_is_stopped_with_its_count():
    report = checked(cheat(settings="settings = Settings(max_epochs=10**7)\n"))
    assert "max_epochs=10000000 is more than the grader trains" in report.error
    slow = cheat(forward="import time\ntime.sleep(0.01)\nreturn self.honest(x)",
                 settings="settings = Settings(lr=1e-3, max_epochs=500)\n")
    report = checked(slow, SHORT)
    assert "epochs in 6 s" in report.error and "lower max_epochs" in report.error


def test_limits_are_bounded():
    for seconds in (0, -5, float("inf"), float("nan"), 1e308):
        with pytest.raises(ValueError, match="seconds must be a number from 1 to 600"):
            Limits(seconds=seconds)


# ---------------------------------------------------------------------------------------------
# P2: clear messages, each naming where it happened


@pytest.mark.parametrize("where, call, words", [
    ("init", "torch.set_default_dtype(torch.float64)",
     "default dtype from torch.float32 to torch.float64"),
    ("init", "torch.set_grad_enabled(False)", "grad enabled from True to False"),
    ("forward", "torch.set_default_dtype(torch.float64)", "forward changed default dtype"),
    ("eval forward", "torch.set_default_device('meta')", "forward changed default device"),
    ("mid-training", "torch.set_grad_enabled(False)", "while it trained, and training failed"),
], ids=["dtype in __init__", "grad in __init__", "dtype in forward", "device in forward",
        "grad mid-training"])
def test_a_change_to_torchs_global_state_is_named_with_where_to_remove_it(where, call, words):
    if where == "init":
        submission = cheat(extra_init=call)
        remove = "Remove that call from __init__"
    elif where == "forward":
        submission = cheat(forward=f"{call}\nreturn self.honest(x)")
        remove = "Remove that call from forward"
    elif where == "eval forward":
        submission = cheat(forward=f"if not self.training:\n    {call}\nreturn self.honest(x)")
        remove = "Remove that call from forward"
    else:
        submission = cheat(extra_init="self.n = 0", forward=(
            f"self.n += 1\nif self.n == 30:\n    {call}\nreturn self.honest(x)"))
        remove = "Remove that call from forward"
    report = checked(submission)
    assert words in report.error and remove in report.error, report.error
    assert ".." not in report.error and "in-place" not in report.error


def test_a_model_too_big_for_the_memory_cap_is_told_so():
    big = "self.rnn = nn.RNN(10, 40000, batch_first=True)\nself.fc = nn.Linear(40000, 2)"
    report = checked(cheat(extra_init=big), Limits(memory_gib=1))
    assert "more memory than the grader allows" in report.error


def test_pytorchs_warnings_once_each_and_the_traps_are_part_of_the_feedback():
    one_layer = "self.rnn = nn.RNN(10, 32, num_layers=1, batch_first=True, dropout=0.3)"
    report = checked(cheat(extra_init=one_layer))
    assert sum("num_layers greater than 1" in w for w in report.warnings) == 1
    assert len(report.warnings) == len(set(report.warnings))
    assert any("does nothing" in t for t in report.traps)
    unused = cheat(forward="out, _ = self.rnn(x)\nreturn self.fc(out[:, -1, :])")
    assert any("never applies it" in t for t in checked(unused).traps)


def test_a_file_that_fails_to_run_is_told_so_not_that_training_failed():
    report = checked(Submission("import torchvision_nope\n" + HEADER + FIXED, origin="broken.py"))
    assert report.error.startswith("broken.py could not run: ModuleNotFoundError: No module named "
                                   "'torchvision_nope' (line 1 of broken.py")
    assert "training your model" not in report.error


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
    report = checked(submission)
    assert not report.error and report.val_acc > 0.85
    globals()["DATA"] = torch.zeros(3)
    leaky = define("class MyRNN(nn.Module):\n"
                   "    def forward(self, x):\n"
                   "        return DATA\n")
    with pytest.raises(ValueError, match="uses `DATA`, a Tensor defined outside it"):
        Submission.of_class(leaky, Settings())


def test_the_worker_sends_plain_data_the_grader_checks_field_by_field():
    message = wire.pack("trained", {"logits": torch.ones(3, 2), "n": 1})
    kind, payload = wire.unpack(message)
    array = wire.check(wire.Fields({"logits": wire.Array((3, 2)),
                                    "n": wire.Whole(0, 5)}), payload, kind)["logits"]
    assert kind == "trained" and array.shape == (3, 2) and array.dtype.name == "float32"
    bad = [wire.pack("trained", {"logits": torch.full((3, 2), float("nan")), "n": 1}),
           wire.pack("trained", {"logits": torch.ones(2, 2), "n": 1}),
           wire.pack("trained", {"logits": torch.ones(3, 2), "n": True}),
           wire.pack("trained", {"logits": torch.ones(3, 2)}),
           b"\x80\x04junk", b'"just a string"']
    for data in bad:
        with pytest.raises(wire.Unreadable):
            kind, payload = wire.unpack(data)
            wire.check(wire.Fields({"logits": wire.Array((3, 2)),
                                    "n": wire.Whole(0, 5)}), payload, kind)
    assert wire.check(wire.Text(10), "a\x1b[31mred\x07", "t") == "a[31mred"


def test_the_grader_draws_secret_seeds_and_keeps_the_held_out_labels():
    seeds = {fix_module._secret_seed() for _ in range(20)}
    assert len(seeds) == 20 and all(s > 10 for s in seeds)
    payload, heldout_y = fix_module._disguised_draw()
    assert payload["train_x"].shape == (200, 20, 10) and len(heldout_y) == 2000
    assert "heldout_y" not in payload


def test_the_disguise_spreads_the_signal_so_no_one_feature_carries_it():
    """A rule written for the course's generator reads one feature: after the secret rotation
    every feature holds a tenth of the signal's power, and the best one-feature matched filter
    (its sign chosen on the training labels, the review's adaptive filter) stays near 65%."""
    import numpy as np

    for _ in range(20):
        rotation = fix_module._rotation(np.random.default_rng())
        assert np.allclose(rotation @ rotation.T, np.eye(10), atol=1e-9)
        assert np.allclose(np.abs(rotation[0]), 10 ** -0.5)
    ramp = torch.linspace(-1, 1, 20)
    for _ in range(5):
        payload, heldout_y = fix_module._disguised_draw()
        train_y = torch.from_numpy(payload["train_y"])
        for feature in range(10):
            score = torch.from_numpy(payload["train_x"])[:, :, feature] @ ramp
            sign = 1.0 if ((score > 0).long() == train_y).float().mean() >= 0.5 else -1.0
            heldout = sign * (torch.from_numpy(payload["heldout_x"])[:, :, feature] @ ramp)
            assert ((heldout > 0).long() == heldout_y).float().mean() < 0.72


class _Confirmations:
    """A grader's channel whose worker answers each disguised draw with logits of chosen
    accuracies (held-out, training, held-out with the recurrent outputs shuffled)."""

    def __init__(self, runs):
        self.runs, self.sent, self.phase = list(runs), [], ""
        self.draws: list = []

    def send(self, kind, payload):
        self.sent.append(kind)
        self.payload = payload

    def receive(self, expected, schema, size=0):
        heldout, seen, shuffled = self.runs.pop(0)
        return {"heldout_logits": _logits_of(self.heldout_y, heldout),
                "train_logits": _logits_of(torch.from_numpy(self.payload["train_y"]), seen),
                "scrambled_logits": None if shuffled is None
                else _logits_of(self.heldout_y, shuffled),
                "epochs": 16, "warnings": []}

    def check_time(self):
        pass


def _logits_of(y, accuracy):
    right = torch.zeros(len(y), dtype=torch.bool)
    right[:round(accuracy * len(y))] = True
    predicted = torch.where(right, y, 1 - y)
    return torch.nn.functional.one_hot(predicted, 2).float().numpy()


@pytest.mark.parametrize("runs, words", [
    ([(0.86, 0.89, 0.50)] * 3, None),
    ([(0.87, 0.89, 0.5), (0.855, 0.9, 0.5), (0.83, 0.88, 0.5)], None),
    ([(0.83, 0.88, 0.5)] * 3, "below"),
    ([(0.86, 0.95, 0.5)] * 3, "memorizes its training set"),
    ([(0.88, 0.89, 0.85)] * 3, "shuffled between sequences your model still scores 85.0% on the "
                               "disguised data"),
    ([(0.88, 0.89, None)] * 3, "forward never calls your nn.RNN"),
    ([(0.55, 0.60, 0.5)] * 3, "did not learn the task from data it had not seen before"),
], ids=["honest", "one low run", "below the floor", "memorizes", "decoy", "no rnn", "knew it"])
def test_the_confirmation_decides_with_the_task_on_the_mean_of_its_runs(runs, words):
    draws = [fix_module._disguised_draw() for _ in range(fix_module.CONFIRM_RUNS)]
    channel = _Confirmations(runs)
    original_send = channel.send

    def send(kind, payload):  # the labels of the draw being sent
        original_send(kind, payload)
        channel.heldout_y = next(y for p, y in draws if p is payload)

    channel.send = send
    report = fix_module.Report(passed=True, settings_text="RNN hidden 32 x 2")
    fix_module._confirm(channel, report, draws, {"settings_text": "RNN hidden 32 x 2"})
    assert report.passed == (words is None), report.refusals
    assert words is None or words in report.refusals[-1], report.refusals
    assert channel.sent == ["confirm"] * (1 if words and "did not learn" in words else len(draws))
    assert report.confirm_acc == pytest.approx(sum(r[0] for r in runs[:len(channel.sent)])
                                               / len(channel.sent), abs=1e-3)


def test_ctrl_c_in_a_kernel_stops_the_check_and_leaves_nothing(monkeypatch):
    """A notebook's interrupt (KeyboardInterrupt while it waits) kills both processes."""
    def interrupt(*args):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            grade(cheat(forward="while True:\n    pass"), SHORT)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert_no_leftovers()
    assert os.getpid()  # and the process goes on


def test_when_the_kernel_dies_mid_check_its_grader_and_worker_follow_at_once(tmp_path):
    spin = tmp_path / "spin.py"
    spin.write_text(cheat(forward="while True:\n    pass").source)
    kernel = subprocess.Popen([sys.executable, "-m", "rnn_lesson", "grade", str(spin)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(descendants(kernel.pid)) < 4 and time.monotonic() < deadline:  # grader, worker...
        time.sleep(0.2)
    time.sleep(1)
    processes = descendants(kernel.pid)
    kernel.kill()
    kernel.wait()
    deadline = time.monotonic() + 10
    while [p for p in processes if alive(p)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(processes) >= 4 and [p for p in processes if alive(p)] == []


@pytest.mark.skipif(walls.seccomp_arch() is None, reason="Linux only")
def test_landlock_leaves_only_pythons_and_the_courses_files_readable(tmp_path):
    secret = tmp_path / "weights.bin"
    secret.write_bytes(b"pre-trained")
    script = f'''
import ctypes, json, sys
from rnn_lesson.grading import walls
walls.not_dumpable()
dumpable = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
if not walls.install_landlock(walls.readable_folders()):
    print(json.dumps({{"landlock": False, "dumpable": dumpable}})); sys.exit()
out = {{"landlock": True, "dumpable": dumpable}}
for name, path in (("secret", {str(secret)!r}), ("course", walls.__file__), ("python", sys.prefix)):
    try:
        open(path).close() if name != "python" else __import__("os").listdir(path)
        out[name] = "read"
    except OSError as error:
        out[name] = type(error).__name__
print(json.dumps(out))
'''
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["dumpable"] == 0
    if not out["landlock"]:
        pytest.skip("this kernel has no Landlock")
    assert out == {"landlock": True, "dumpable": 0, "secret": "PermissionError",
                   "course": "read", "python": "read"}
