"""Grade a learner's model in fresh processes it cannot reach, with a time and a memory limit.

    notebook kernel ──(source, settings)──▶ grader: a fresh process (clean modules) that judges
                                              └─▶ worker: forked from the grader before the fresh
                                                  data exists; runs the learner's code and train()

- The learner's code runs only in the worker. There the course's packages are out of its reach (an
  import of rnn_lesson or quizzes is refused with a message, so are files, processes and sockets),
  and the worker loads the course data itself. Whatever the code changes dies with the worker.
- The worker sends back logits. The grader, which never runs learner code, holds the labels and a
  fresh draw from the course's generator with a secret seed, computes every accuracy itself and
  judges with the recipe's task (`recipe.TASK`). So nothing patched in the kernel reaches the
  verdict, and the verdict is earned on data the learner's code cannot know:
    * a model that does far better on the validation set than on the fresh draw has seen it;
    * a model that is right before any training was trained elsewhere;
    * a recurrent layer whose output never reaches the logits is a decoy;
    * final metrics that differ from the grader's own are a changed evaluation.
- A time limit (`Limits.seconds`) ends a run that takes too long and names the likely cause; the
  kernel stays usable. The worker's memory is capped too.

`grade(Submission)` returns a `Report` (plain data). `Submission.of_class` packs a class defined in
a notebook (its source, the constants and helpers it uses, the imports it needs); a file submitted
to `python -m rnn_lesson grade` is its own source.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import dataclasses
import dis
import importlib.abc
import inspect
import io
import linecache
import math
import multiprocessing
import os
import secrets
import signal
import sys
import time
import traceback
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data import COURSE_SPEC, load_course_data, make_split
from .models import ModelConfig, build_model, count_parameters
from .recipe import FIX, MIN_DROPOUT, TASK, changes
from .runs import worker_context  # the forkserver of the course's workers: fresh modules
from .training import History, TorchState, TrainConfig, TrainingDiverged, check_untouched, train

# ---------------------------------------------------------------------------------------------
# What a learner submits


@dataclass(frozen=True)
class Settings:
    """The learner's training settings (the rest is the course's: batch size 32, Adam)."""

    lr: float = 3e-3
    max_epochs: int = 60
    early_stopping: bool = False
    patience: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.max_epochs, int) and not isinstance(self.max_epochs, bool) \
                and self.max_epochs > MAX_EPOCHS:
            raise ValueError(f"max_epochs={self.max_epochs} is more than the grader trains "
                             f"({MAX_EPOCHS}): the fix needs 16, the baseline 60")

    def train_config(self) -> TrainConfig:
        return TrainConfig(lr=self.lr, max_epochs=self.max_epochs, patience=self.patience,
                           early_stopping=self.early_stopping, seed=self.seed,
                           batch_size=FIX.train.batch_size)


MAX_EPOCHS = 500
INPUT_SIZE, NUM_CLASSES = 10, 2


@dataclass(frozen=True)
class Limits:
    seconds: float = 60.0  # the whole check: building, training, evaluating
    memory_gib: float = 2.0  # beyond what torch itself takes


@dataclass(frozen=True)
class Submission:
    """The learner's code as source text: it defines `class_name`, and `settings` unless they
    are given (a dict of `Settings` fields)."""

    source: str
    class_name: str = "MyRNN"
    settings: dict | None = None
    origin: str = "your class"  # how messages name it ("your class", "submission.py")

    @classmethod
    def of_class(cls, model_class: type, settings: Settings) -> "Submission":
        """A class defined in a notebook, with what it needs from the notebook (constants,
        helper functions and classes, imported modules) as source; ValueError if it uses an
        object that cannot travel as source (a tensor, say)."""
        prelude = _prelude(model_class)
        return cls(prelude + class_source(model_class), model_class.__name__,
                   dataclasses.asdict(settings), "your class")


# ---------------------------------------------------------------------------------------------
# What the grader answers


@dataclass
class Report:
    """A grade as plain data (it crosses processes): an error, or the verdict and its reasons."""

    error: str = ""
    passed: bool = False
    verdict: str = ""  # the task's verdict in words (with its hint when it fails)
    short: str = ""  # the verdict in one line
    train_acc: float = math.nan  # computed by the grader from the worker's logits
    val_acc: float = math.nan
    fresh_acc: float = math.nan  # on a fresh draw from the course's generator
    untrained_acc: float = math.nan  # the model before training, on the fresh draw
    refusals: list[str] = field(default_factory=list)  # why the verdict is not earned
    changes: list[tuple[str, bool, str]] = field(default_factory=list)  # the lesson's four
    traps: list[str] = field(default_factory=list)  # mistakes that silently do nothing
    warnings: list[str] = field(default_factory=list)  # what PyTorch warned about the model
    printed: str = ""  # what the learner's code printed
    record: dict | None = None  # the run (History.to_dict) for the curves
    settings_text: str = ""
    seconds: float = 0.0

    @property
    def history(self) -> History | None:
        return None if self.record is None else History.from_dict(self.record)


# ---------------------------------------------------------------------------------------------
# The thresholds of the checks (measured: see the note under each)

# Untrained, the course's architectures (RNN, LSTM, GRU; 1-2 layers; 8-256 units; 25 seeds each,
# 600 models) score 38.9-62.6% on a fresh draw of 2000 sequences (chance 50%): above 70% a model
# knew the task before it trained.
UNTRAINED_MAX = 0.70
# A model that has not seen the validation set does as well on a fresh draw: the difference of two
# accuracies near 87% on 1000 and 2000 sequences has a standard deviation of 1.3 points, and early
# stopping's choice of epoch on validation adds about half a point. 5 points is 3.5 deviations.
FRESH_GAP = 0.05
FRESH_SIZE = 2000
PRINT_LIMIT = 2000  # characters of the learner's printing kept


def grade(submission: Submission, limits: Limits = Limits()) -> Report:
    """Grade in a fresh grader process (see the module's docstring); never raises for anything
    the submission does."""
    start = time.perf_counter()
    context = worker_context()
    parent, child = context.Pipe(duplex=False)
    # Not a daemon: it forks the worker (daemonic processes may not have children). It ends by
    # itself within the time limit, and is killed if it does not answer in time.
    grader = context.Process(target=_grader_main, args=(child, submission, limits))
    grader.start()
    child.close()
    try:
        if parent.poll(limits.seconds + 30):  # the grader enforces the limit itself; this is its
            report = parent.recv()             # own backstop
        else:
            report = Report(error="the grader did not answer in time; try again (the kernel is "
                                  "fine)")
    except (EOFError, OSError):
        report = Report(error=f"the grader stopped unexpectedly (exit code {grader.exitcode}); "
                              "try again")
    finally:
        if grader.is_alive():
            grader.kill()
        grader.join(5)
        parent.close()
    report.seconds = time.perf_counter() - start
    return report


# ---------------------------------------------------------------------------------------------
# The grader process: it never runs learner code


def _grader_main(kernel, submission: Submission, limits: Limits) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller stops us (a terminal's Ctrl-C)
    try:
        report = _judge(submission, limits)
    except Exception as error:  # a bug of ours: say so rather than hang the kernel
        report = Report(error=f"the grader failed ({type(error).__name__}: {error})")
    kernel.send(report)
    kernel.close()


def _judge(submission: Submission, limits: Limits) -> Report:
    deadline = time.monotonic() + limits.seconds
    # The worker is forked before the fresh draw exists, so its memory never holds those labels.
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods()
                                          else "spawn")
    inbox, outbox = context.Pipe(duplex=True)
    worker = context.Process(target=_worker_main, args=(outbox, submission, limits.memory_gib),
                             daemon=True)
    worker.start()
    outbox.close()
    try:
        return _talk_to(worker, inbox, submission, limits, deadline)
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join(5)


def _talk_to(worker, inbox, submission: Submission, limits: Limits, deadline: float) -> Report:
    epochs_done = [0]

    def receive(expected: str):
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not inbox.poll(remaining):
                raise _TimeUp()
            try:
                kind, payload = inbox.recv()
            except (EOFError, OSError):
                raise _Died(worker) from None
            if kind == "epoch":
                epochs_done[0] = payload
                continue
            if kind == "error":
                raise _Refused(payload)
            if kind != expected:
                raise _Refused("the grader's worker answered out of order")
            return payload

    try:
        built = receive("built")
        data = load_course_data()
        fresh = make_split(COURSE_SPEC, FRESH_SIZE, secrets.randbelow(2**63) + 10)  # secret seed
        inbox.send(fresh.x.numpy())
        untrained = receive("untrained")
        trained = receive("trained")
    except _TimeUp:
        return Report(error=_time_up(limits.seconds, epochs_done[0], submission))
    except _Died as died:
        return Report(error=died.message(limits))
    except _Refused as refused:
        return Report(error=str(refused))
    return _verdict(built, untrained, trained, data, fresh)


class _TimeUp(Exception):
    pass


class _Refused(Exception):
    pass


class _Died(Exception):
    def __init__(self, worker) -> None:
        worker.join(5)
        self.code = worker.exitcode

    def message(self, limits: Limits) -> str:
        return (f"the process that ran your model ended abruptly (exit code {self.code}): it may "
                f"have needed more than the grader's {limits.memory_gib:g} GiB of memory, or "
                "called os._exit. Make the model smaller.")


def _time_up(seconds: float, epochs: int, submission: Submission) -> str:
    settings = submission.settings or {}
    if epochs == 0:
        return (f"your model did not finish one epoch in {seconds:g} s, the grader's time limit: "
                "does forward loop forever (a while loop, a recursion), or is the model very "
                "large? The lesson's fix trains an epoch in a few hundredths of a second.")
    return (f"your model trained {epochs} epochs in {seconds:g} s, the grader's time limit, and was "
            f"not done (max_epochs={settings.get('max_epochs', '?')}): lower max_epochs (the fix "
            "uses 16) or make the model smaller.")


def _accuracy(logits, y) -> float:
    return (torch.as_tensor(logits).argmax(dim=1) == y).float().mean().item()


def _verdict(built: dict, untrained, trained: dict, data, fresh) -> Report:
    report = Report(changes=built["changes"], traps=built["traps"],
                    warnings=built["warnings"] + trained["warnings"],
                    printed=(built["printed"] + trained["printed"])[:PRINT_LIMIT],
                    settings_text=built["settings_text"])
    try:
        history = History.from_dict(trained["record"])
    except ValueError as error:
        return dataclasses.replace(report, error=f"the run's record is not one train() makes "
                                                 f"({error}): did your code change the training "
                                                 "loop?")
    report.record = trained["record"]
    report.train_acc = _accuracy(trained["train_logits"], data.train.y)
    report.val_acc = _accuracy(trained["val_logits"], data.val.y)
    report.fresh_acc = _accuracy(trained["fresh_logits"], fresh.y)
    report.untrained_acc = _accuracy(untrained, fresh.y)
    same = (math.isclose(history.final.train_acc, report.train_acc, abs_tol=1e-6)
            and math.isclose(history.final.val_acc, report.val_acc, abs_tol=1e-6))
    # The grader's own numbers decide; the run's curves only shape the hint, when they agree.
    verdict = TASK.check(history if same else (report.train_acc, report.val_acc))
    if not same:
        report.refusals.append(
            f"the run reported train {history.final.train_acc:.1%} and val "
            f"{history.final.val_acc:.1%}, but your trained model scores {report.train_acc:.1%} "
            f"and {report.val_acc:.1%}: your code changed how the course evaluates. Only the model "
            "and the settings may change.")
    if report.untrained_acc > UNTRAINED_MAX:
        report.refusals.append(
            f"before any training your model already scores {report.untrained_acc:.1%} on new data "
            f"(untrained models score about 50%, never above {UNTRAINED_MAX:.0%}): its __init__ "
            "loads or computes trained weights. The exercise is to train it here: build its layers "
            "fresh in __init__.")
    if report.val_acc - report.fresh_acc > FRESH_GAP:
        report.refusals.append(
            f"your model scores {report.val_acc:.1%} on the validation set but "
            f"{report.fresh_acc:.1%} on a fresh draw of {FRESH_SIZE} sequences from the same "
            "generator: it has seen the validation set (a lookup, or data regenerated from its "
            "seed). The lesson: never change or use the dataset, only the model and the settings.")
    if trained["decoy"]:
        report.refusals.append(trained["decoy"])
    report.passed = verdict.passed and not report.refusals
    report.short = verdict.short() if not report.refusals else \
        f"Task not passed: the verdict is not earned ({verdict.short().split(': ', 1)[1]})"
    report.verdict = str(verdict)
    return report


# ---------------------------------------------------------------------------------------------
# The worker: the only process that runs the learner's code


def _worker_main(grader, submission: Submission, memory_gib: float) -> None:
    """Build, check and train the learner's model; send what the grader needs, or an error.
    (Everything it uses of the course is imported before the guard goes up.)"""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    printed = io.StringIO()
    try:
        _cap_memory(memory_gib)
        data = load_course_data()  # before the guard: the course's own code loads it
        _guard_the_course()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model_class, settings = _load(submission)
            training = settings.train_config()
            probe = _build(model_class, submission)
            built = _inspect(probe, model_class, settings, data.train.x[:4], submission)
        built["warnings"] = _warning_texts(caught)
        built["printed"] = printed.getvalue()
        grader.send(("built", built))
        fresh_x = torch.from_numpy(grader.recv())
        untrained = {}

        def build():
            model = model_class()
            with torch.no_grad(), torch.random.fork_rng(devices=[]):
                untrained["logits"] = model.eval()(fresh_x).numpy()
            return model

        def report_epoch(history: History) -> None:
            grader.send(("epoch", history.epochs))

        printed.seek(0), printed.truncate()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = train(_describe(probe), training, data, on_epoch_end=report_epoch,
                            build=build)
            grader.send(("untrained", untrained["logits"]))
            model = history.model.eval()
            with torch.no_grad():
                logits = {name: model(x).numpy() for name, x in
                          (("train", data.train.x), ("val", data.val.x), ("fresh", fresh_x))}
            decoy = _decoy(model, data.val.x[:64], submission)
        grader.send(("trained", {"record": history.to_dict(), "train_logits": logits["train"],
                                 "val_logits": logits["val"], "fresh_logits": logits["fresh"],
                                 "decoy": decoy, "warnings": _warning_texts(caught),
                                 "printed": printed.getvalue()}))
    except _CourseRefused as refused:
        grader.send(("error", str(refused)))
    except BaseException as error:  # the learner's code: say what, and where in their code
        grader.send(("error", _explain(error, submission)))
    finally:
        grader.close()


def _cap_memory(gib: float) -> None:
    try:
        import resource

        with open("/proc/self/statm") as statm:  # Linux: pages of address space in use now
            in_use = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (ImportError, OSError):  # Windows, macOS: no cap
        return
    limit = in_use + int(gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class _CourseRefused(ImportError):
    """The learner's code reached for the course's packages, files or processes."""


_REFUSAL = ("{origin} {what}: the model's code may not touch the course's data or code (the "
            "lesson: change only the model and the training settings, never the dataset). "
            "Remove it; the grader gives your model the data.")


class _CourseGuard(importlib.abc.MetaPathFinder):
    """Refuses imports of the course's packages from the learner's code. The one name a
    submission file may import is `Settings` (from rnn_lesson.lessons.write_the_fix)."""

    ALLOWED = ("rnn_lesson", "rnn_lesson.lessons", "rnn_lesson.lessons.write_the_fix")

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] not in ("rnn_lesson", "quizzes"):
            return None
        if fullname not in self.ALLOWED:
            raise _CourseRefused(_REFUSAL.format(origin=self.origin, what=f"imports {fullname}"))
        import importlib.machinery

        return importlib.machinery.ModuleSpec(fullname, _StubLoader(self.origin), is_package=True)


class _StubLoader(importlib.abc.Loader):
    def __init__(self, origin: str) -> None:
        self.origin = origin

    def create_module(self, spec):
        return _Stub(spec.name, self.origin)

    def exec_module(self, module):
        pass


class _Stub(types.ModuleType):
    def __init__(self, name: str, origin: str) -> None:
        super().__init__(name)
        self.__path__ = []
        self._origin = origin
        if name == "rnn_lesson.lessons.write_the_fix":
            self.Settings = Settings
            self.check_my_fix = lambda *args, **kwargs: None  # a notebook's last cell, exported

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise _CourseRefused(_REFUSAL.format(origin=self._origin,
                                             what=f"uses {self.__name__}.{name}"))


def _guard_the_course() -> None:
    """From here on the worker runs learner code: the course's modules leave sys.modules (the
    worker keeps its own references), their import is refused, and so are files, processes and
    sockets."""
    origin = "your model's code"
    for name in [n for n in sys.modules if n.split(".")[0] in ("rnn_lesson", "quizzes")]:
        sys.modules[name] = _Stub(name, origin)  # sys.modules["rnn_lesson.data"] refuses too
    sys.meta_path.insert(0, _CourseGuard(origin))
    sys.addaudithook(_audit)


# Reading Python's own files (imports, tracebacks) stays allowed: the installation and the course.
_ALLOWED_PREFIXES = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix,
                           str(Path(__file__).resolve().parents[1])})
_REFUSED_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                   "os.fork", "socket.connect", "socket.bind", "os.remove", "os.rename",
                   "os.rmdir", "shutil.rmtree", "ctypes.dlopen"}


def _audit(event: str, args: tuple) -> None:
    if event in _REFUSED_EVENTS:
        raise _CourseRefused(_REFUSAL.format(origin="your model's code", what=f"calls {event}"))
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path, mode = os.fsdecode(args[0]), args[1] if len(args) > 1 else "r"
        writes = isinstance(mode, str) and any(c in mode for c in "wax+")
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        writes = writes or bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        inside = os.path.abspath(path).startswith(_ALLOWED_PREFIXES)
        if writes or not inside:
            raise _CourseRefused(_REFUSAL.format(origin="your model's code",
                                                 what=f"opens the file {path}"))


def _load(submission: Submission):
    """Run the submission's source; its class and its Settings."""
    namespace: dict[str, Any] = {"__name__": "__submission__", "__builtins__": builtins}
    try:
        code = compile(submission.source, f"<{submission.origin}>", "exec")
    except SyntaxError as error:
        raise _CourseRefused(f"{submission.origin} has a syntax error at line {error.lineno}: "
                             f"{error.msg}. Fix it and run it again.") from None
    linecache.cache[f"<{submission.origin}>"] = (len(submission.source), None,
                                                 submission.source.splitlines(True),
                                                 f"<{submission.origin}>")
    exec(code, namespace)
    model_class = namespace.get(submission.class_name)
    if not (isinstance(model_class, type) and issubclass(model_class, nn.Module)):
        raise _CourseRefused(f"{submission.origin} defines no nn.Module class named "
                             f"{submission.class_name}: define class {submission.class_name}"
                             "(nn.Module) with __init__ and forward.")
    if submission.settings is not None:
        return model_class, _settings(submission.settings)
    given = namespace.get("settings")
    if not isinstance(given, Settings):
        raise _CourseRefused(f"{submission.origin} defines no `settings = Settings(...)` (from "
                             "rnn_lesson.lessons.write_the_fix import Settings).")
    return model_class, _settings(dataclasses.asdict(given))


def _settings(values: dict) -> Settings:
    try:
        settings = Settings(**values)
        settings.train_config()
    except (TypeError, ValueError) as problem:
        raise _CourseRefused(f"the settings: {problem}") from None
    return settings


def _build(model_class: type, submission: Submission):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        before = TorchState.now()
        try:
            model = model_class()
            check_untouched(before, "building your model")
        except _CourseRefused:
            raise
        except ValueError as problem:
            if "building your model changed" in str(problem):
                raise _CourseRefused(str(problem)) from None
            raise _CourseRefused(f"{model_class.__name__}() raised ValueError: {problem}") from None
        except Exception as problem:
            if _out_of_memory(problem):
                raise _CourseRefused(_memory_message()) from None
            raise _CourseRefused(
                f"{model_class.__name__}() raised {type(problem).__name__}: {problem}. The grader "
                "builds it without arguments: give every __init__ argument a default.") from None
    if not isinstance(model, nn.Module):
        raise _CourseRefused(f"{model_class.__name__}() did not build an nn.Module")
    recurrent = [m for m in model.modules() if isinstance(m, nn.RNNBase)]
    if not recurrent:
        raise _CourseRefused("your model has no nn.RNN (or nn.LSTM, nn.GRU) layer: the exercise "
                             "is to fix the recurrent network, keep one.")
    rnn = recurrent[0]
    if rnn.input_size != INPUT_SIZE:
        raise _CourseRefused(f"your {type(rnn).__name__} has input_size={rnn.input_size}, but "
                             f"every step of the course data has {INPUT_SIZE} features: use "
                             f"input_size={INPUT_SIZE}.")
    if not rnn.batch_first:
        raise _CourseRefused(f"your {type(rnn).__name__} reads (seq_len, batch, features), but the "
                             "course data is (batch, seq_len, features): add batch_first=True.")
    return model


def _inspect(model, model_class: type, settings: Settings, x, submission: Submission) -> dict:
    """One training-mode forward on 4 sequences (the shape, which dropouts run), then what the
    model has of the lesson's changes and which traps it fell into."""
    rnn = next(m for m in model.modules() if isinstance(m, nn.RNNBase))
    applied: set = set()
    hooks = [m.register_forward_hook(lambda module, args, out: applied.add(module))
             for m in model.modules() if isinstance(m, nn.Dropout)]
    model.train()
    try:
        with torch.random.fork_rng(devices=[]):
            out = model(x.clone())
    except _CourseRefused:
        raise
    except Exception as problem:
        raise _CourseRefused(f"forward raised {type(problem).__name__}: "
                             f"{str(problem).splitlines()[0] if str(problem) else ''}. It receives "
                             "x of shape (batch, seq_len, 10) and must return logits of shape "
                             "(batch, 2).") from None
    finally:
        for hook in hooks:
            hook.remove()
    if isinstance(out, tuple):
        raise _CourseRefused("forward returned a tuple (nn.RNN returns (output, h_n)): take the "
                             "output's last step and return self.fc(out[:, -1, :]), shape "
                             "(batch, 2).")
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(x), NUM_CLASSES):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise _CourseRefused(f"forward must return logits of shape (batch, 2), here ({len(x)}, 2); "
                             f"it returned {shape}. Classify from the last step: "
                             "self.fc(out[:, -1, :]) with fc = nn.Linear(hidden_size, 2).")
    after = max([m.p for m in applied] + [0.0])
    inside = rnn.dropout if rnn.num_layers > 1 else 0.0
    found = changes(inside, after, rnn.hidden_size, settings.lr, settings.early_stopping)
    facts = {
        "dropout inside": f"dropout={rnn.dropout} between its {rnn.num_layers} layers" if inside
        else "none (nn.RNN(..., num_layers=2, dropout=0.3) drops between stacked layers)",
        "dropout after": f"nn.Dropout({after}) applied in forward" if after
        else "none applied in forward (self.dropout(out[:, -1, :]))",
        "hidden size": f"{rnn.hidden_size}",
        "learning rate": f"{settings.lr:g}",
        "early stopping": f"on, patience {settings.patience}, best epoch restored"
        if settings.early_stopping else "off (early_stopping=True)",
    }
    traps = []
    if rnn.dropout > 0 and rnn.num_layers == 1:
        traps.append(f"nn.{type(rnn).__name__}(dropout={rnn.dropout}) with num_layers=1 does "
                     "nothing: the dropout argument acts only between stacked layers (PyTorch "
                     "warns). Use num_layers=2, or an nn.Dropout on the output.")
    for name, module in model.named_modules():
        if isinstance(module, nn.Dropout) and module not in applied and module.p > 0:
            traps.append(f"self.{name} = nn.Dropout({module.p}) is defined but forward never "
                         f"applies it: call it, e.g. self.fc(self.{name}(out[:, -1, :])).")
    if 0 < after < MIN_DROPOUT or 0 < inside < MIN_DROPOUT:
        traps.append(f"a dropout below {MIN_DROPOUT} zeroes too few units to change what a network "
                     "memorizes: the lesson uses 0.3.")
    return {"changes": [(c.name, c.present, f"{c.name}: {facts[c.name]}") for c in found],
            "traps": traps, "describe": (type(rnn).__name__, rnn.hidden_size, rnn.num_layers,
                                         float(max(inside, after))),
            "settings_text": (f"{type(rnn).__name__} hidden {rnn.hidden_size} x {rnn.num_layers}, "
                              f"dropout inside {inside:g}, after {after:g}, lr {settings.lr:g}, "
                              f"early stopping {'on' if settings.early_stopping else 'off'}, "
                              f"max epochs {settings.max_epochs}")}


def _describe(model):
    """A ModelConfig that says what the learner's model is (for the record and the data check)."""
    rnn = next(m for m in model.modules() if isinstance(m, nn.RNNBase))
    dropouts = [m.p for m in model.modules() if isinstance(m, nn.Dropout)] + [rnn.dropout]
    cell = {"RNN": "rnn", "LSTM": "lstm", "GRU": "gru"}.get(type(rnn).__name__, "rnn")
    return ModelConfig(cell=cell, input_size=INPUT_SIZE, hidden_size=rnn.hidden_size,
                       num_layers=rnn.num_layers, dropout=min(max(dropouts), 0.99),
                       num_classes=NUM_CLASSES)


def _decoy(model, x, submission: Submission) -> str:
    """Why the recurrent layers do not matter to the logits ("" if they do): replace their outputs
    with noise and see whether the logits change."""
    layers = [m for m in model.modules() if isinstance(m, nn.RNNBase)]
    calls: list = []

    def scramble(module, args, output):
        calls.append(module)
        noise = lambda t: torch.randn_like(t) * 3.0  # noqa: E731
        if isinstance(output, tuple):
            return tuple(tuple(map(noise, o)) if isinstance(o, tuple) else noise(o) for o in output)
        return noise(output)

    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        clean = model(x)
        hooks = [layer.register_forward_hook(scramble) for layer in layers]
        try:
            scrambled = model(x)
        finally:
            for hook in hooks:
                hook.remove()
    name = type(layers[0]).__name__
    if not calls:
        return (f"forward never calls your nn.{name}: the model classifies without it (a decoy "
                "layer). The exercise is to fix the recurrent network: classify from its output.")
    if torch.allclose(clean, scrambled):
        return (f"the output of your nn.{name} never reaches the logits (they are the same when "
                "its output is replaced by noise): classify from its output, e.g. "
                "self.fc(out[:, -1, :]).")
    return ""


def _memory_message() -> str:
    weights = count_parameters(build_model(FIX.model))
    return (f"your model needs more memory than the grader allows: make it smaller (the lesson's "
            f"fix has {weights:,} weights).")


def _out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or any(
        words in str(error) for words in ("can't allocate memory", "not enough memory",
                                          "Cannot allocate memory"))


def _warning_texts(caught) -> list[str]:
    return list(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))


def _explain(error: BaseException, submission: Submission) -> str:
    """An error from the learner's code: its type, message and the line of their code."""
    if isinstance(error, TrainingDiverged):
        return str(error)
    if _out_of_memory(error):
        return _memory_message()
    where = ""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename == f"<{submission.origin}>":
            where = f" (line {frame.lineno} of {submission.origin}: {(frame.line or '').strip()})"
            break
    text = str(error).splitlines()[0] if str(error) else ""
    return (f"training your model raised {type(error).__name__}: {text}{where}. Check forward "
            "for in-place edits of tensors and that it returns float logits.")


# ---------------------------------------------------------------------------------------------
# A class defined in a notebook, as source


def class_source(model_class: type) -> str:
    """The source of a class, also one defined in a notebook cell (inspect cannot find those:
    the class is found through its methods' code, which IPython keeps in linecache)."""
    with contextlib.suppress(TypeError, OSError):
        return inspect.getsource(model_class) + "\n"
    for member in vars(model_class).values():
        code = getattr(getattr(member, "__func__", member), "__code__", None)
        if code is None:
            continue
        lines = linecache.getlines(code.co_filename)
        if not lines:
            continue
        tree = ast.parse("".join(lines))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == model_class.__name__ \
                    and node.lineno <= code.co_firstlineno <= node.end_lineno:
                start = node.lineno - 1 - len(node.decorator_list)
                return "".join(lines[start:node.end_lineno]) + "\n"
    raise ValueError(f"the source of {model_class.__name__} cannot be found: define it in a "
                     "notebook cell or a .py file (not with type() or exec)")


def _global_names(code: types.CodeType) -> set[str]:
    names = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _global_names(constant)
    return names


def _prelude(model_class: type, seen: set | None = None) -> str:
    """Source for what a class's code uses from its notebook: imports of the modules, the
    values of plain constants, and the source of helper functions and classes."""
    seen = set() if seen is None else seen
    space = vars(sys.modules.get(model_class.__module__, builtins))
    source = class_source(model_class)
    lines = []
    for name in sorted(_global_names(compile(source, "<class>", "exec"))):
        if name in seen or hasattr(builtins, name) or name.startswith("__") or name not in space:
            continue
        seen.add(name)
        value = space[name]
        if isinstance(value, types.ModuleType):
            lines.append(f"import {value.__name__} as {name}\n")
        elif _is_literal(value):
            lines.append(f"{name} = {value!r}\n")
        elif isinstance(value, (types.FunctionType, type)) and value.__module__ == model_class.__module__:
            if isinstance(value, type):
                lines.append(_prelude(value, seen))
            lines.append(inspect.getsource(value) + "\n" if isinstance(value, types.FunctionType)
                         else class_source(value))
        elif isinstance(value, (types.FunctionType, type)):
            module = value.__module__
            lines.append(f"from {module} import {value.__qualname__} as {name}\n")
        else:
            raise ValueError(
                f"{model_class.__name__} uses `{name}`, a {type(value).__name__} defined outside "
                "the class: the grader runs your class in a fresh process, where only source and "
                f"plain values (numbers, strings) can go. Create it inside the class (or import it).")
    return "".join(lines)


def _is_literal(value: Any) -> bool:
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
