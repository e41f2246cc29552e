"""The loop exercise, graded by behaviour: the learner's `fit` (the early-stopping lines of a plain
loop) runs in the sandbox's worker on the course's model and data.

The worker hands `fit` the course's own pieces: a model of the lesson's fix, Adam,
`train_one_epoch(model, optimizer)` and `measure(model) -> (val_loss, val_acc)`. It keeps a copy
of the weights after every epoch, notes when `fit` loads weights back (after which epoch, and
whether what it loads is a copy or the model's own tensors), and sends all that, as plain data,
with the weights `fit` leaves in the model. The grader measures every epoch's weights itself and
judges the result first: the loop must stop `patience` epochs after its best epoch (the lowest
validation loss; or at max_epochs), and leave that epoch's weights in the model. Only when it does
not does it look for the cause, and names it: never restoring, restoring only when it stops early,
restoring a reference instead of a copy, a copy replaced every epoch, choosing by accuracy,
stopping an epoch too early or too late.

Three cases: two seeds whose run stops early, and one whose max_epochs comes two epochs after its
best epoch, so that a loop that restores the best weights only before `break` is caught.

The grader's work is bounded and counts against the time limit: at most max_epochs snapshots a
case (a `fit` that trains more is told so by the worker; a message with more is refused), three
cases, each snapshot measured under the deadline. The review's forged messages of 3 x 2000
snapshots had kept the grader busy for 52 s past the limit.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..data import Dataset, load_course_data
from ..models import build_model
from ..recipe import FIX
from ..runs import Experiment
from ..training import _train_one_epoch, evaluate
from .guard import CourseRefused
from .sandbox import Channel, Limits, Link, run
from .source import exec_source, with_prelude
from .wire import Array, Fields, Flag, Items, Row, Unreadable, Whole

# The lesson's fix at the baseline's learning rate: it learns in a few epochs, its validation loss
# turns up soon after, and on these seeds the epoch of the lowest validation loss is not the epoch
# of the highest accuracy (so a loop that watches accuracy is caught). About a second per seed.
LOOP = Experiment(name="loop exercise", description="the lesson's fix at lr 3e-3",
                  model=FIX.model, train=dataclasses.replace(FIX.train, lr=3e-3, max_epochs=20))
# (seed, max_epochs). Seeds 7 and 2 stop early (best epochs 4 and 5, stops after 7 and 8). Seed 3
# with max_epochs 7 does not: its validation loss is lowest at epoch 5 (0.379; 0.391 and 0.394
# after), so the run reaches max_epochs two epochs after its best and must restore epoch 5.
LOOP_CASES = ((7, LOOP.train.max_epochs), (2, LOOP.train.max_epochs), (3, 7))
LOOP_SEEDS = tuple(seed for seed, _ in LOOP_CASES)
# A case's message: up to 20 snapshots and the final weights of the fix (3,586 floats, 19 KB in
# base64 each), about 410 KB; the limit leaves room.
RUN_SIZE = 2 * 2**20


@dataclass(frozen=True)
class LoopSubmission:
    source: str
    function_name: str = "fit"
    origin: str = "your fit"

    @classmethod
    def of_function(cls, fit) -> "LoopSubmission":
        return cls(with_prelude(fit), fit.__name__, "your fit")


@dataclass
class SeedRun:
    """What the grader measured of `fit` on one case."""

    seed: int
    val_loss: list[float]  # of each epoch's weights, measured by the grader
    val_acc: list[float]
    kept: int | None  # the epoch (1-based) whose weights fit left in the model; None: none of them
    loaded: bool  # fit called model.load_state_dict
    best: int  # the epoch early stopping should keep (the lowest val loss so far when it stops)
    stop: int  # the epoch after which it should stop
    problems: list[str] = field(default_factory=list)
    max_epochs: int = LOOP.train.max_epochs
    loads: list[tuple[int, bool]] = field(default_factory=list)  # (after epoch, a reference?)

    @property
    def epochs(self) -> int:
        return len(self.val_loss)

    @property
    def stops_early(self) -> bool:
        """Does early stopping end this case before max_epochs?"""
        return self.stop < self.max_epochs


@dataclass
class LoopReport:
    error: str = ""
    passed: bool = False
    runs: list[SeedRun] = field(default_factory=list)
    seconds: float = 0.0
    grader_fault: bool = False  # the grader itself failed: not the learner's attempt

    @property
    def problems(self) -> list[str]:
        """What is wrong, told on the first case that shows it (the others' numbers differ)."""
        return next((run.problems for run in self.runs if run.problems), [])


def grade_loop(submission: LoopSubmission, limits: Limits = Limits()) -> LoopReport:
    """Grade a `fit` in the sandbox; never raises for anything the submission does."""
    return run(LoopTask(submission), limits)


@dataclass(frozen=True)
class LoopTask:
    submission: LoopSubmission
    doing: str = "your fit"

    @property
    def origin(self) -> str:
        return self.submission.origin

    @property
    def exports(self) -> dict:
        return {}

    def failed(self, message: str, grader_fault: bool = False) -> LoopReport:
        return LoopReport(error=message, grader_fault=grader_fault)

    def time_up(self, seconds: float, channel: Channel) -> str:
        return (f"your fit ran {channel.epochs} epochs in {seconds:g} s without returning: does "
                f"the loop stop? It should end after at most max_epochs={LOOP.train.max_epochs}, "
                f"sooner when the validation loss has not improved for "
                f"patience={LOOP.train.patience} epochs.")

    # -- in the worker

    def prepare(self) -> Dataset:
        return load_course_data()

    def work(self, link: Link, data: Dataset) -> None:
        fit = exec_source(self.submission.source, self.origin).get(self.submission.function_name)
        if not callable(fit):
            raise CourseRefused(f"{self.origin} defines no function {self.submission.function_name}")
        for seed, max_epochs in LOOP_CASES:
            torch.manual_seed(seed)
            model = build_model(LOOP.model)
            optimizer = torch.optim.Adam(model.parameters(), lr=LOOP.train.lr)
            order = torch.Generator().manual_seed(seed)
            snapshots, loads = [], []

            def train_one_epoch(model, optimizer, _max=max_epochs):
                if len(snapshots) >= _max:
                    raise CourseRefused(
                        f"fit called train_one_epoch more than max_epochs={_max} times: the loop "
                        "must end after at most max_epochs epochs (for epoch in range(1, "
                        "max_epochs + 1)), sooner when patience runs out.")
                _train_one_epoch(model, optimizer, data.train, LOOP.train, order)
                snapshots.append(_weights(model))
                link.epoch_done()

            def measure(model):
                return evaluate(model, data.val)

            load = model.load_state_dict

            def noting_load(state=None, *args, _model=model, **kwargs):
                if state is None:
                    raise CourseRefused(
                        "fit restores best_state, but best_state is still None: the improvement "
                        "test (line 1) was never true. A better epoch has a lower validation "
                        "loss: val_loss < best_loss.")
                loads.append((len(snapshots), _is_reference(state, _model)))
                return load(state, *args, **kwargs)

            model.load_state_dict = noting_load
            fit(model, optimizer, train_one_epoch, measure, max_epochs=max_epochs,
                patience=LOOP.train.patience)
            link.send("run", {"seed": seed, "max_epochs": max_epochs, "snapshots": snapshots,
                              "final": _weights(model), "loads": loads[-1000:]})

    # -- in the grader

    def judge(self, channel: Channel) -> LoopReport:
        data = load_course_data()
        shapes = {name: tuple(t.shape) for name, t in build_model(LOOP.model).state_dict().items()}
        weights = Fields({name: Array(shape) for name, shape in shapes.items()})
        most = max(epochs for _, epochs in LOOP_CASES)
        schema = Fields({"seed": Whole(0, 2**31), "max_epochs": Whole(1, most),
                         "snapshots": Items(weights, most), "final": weights,
                         "loads": Items(Row((Whole(0, most), Flag())), 1000)})
        runs = []
        for seed, max_epochs in LOOP_CASES:
            payload = channel.receive("run", schema, RUN_SIZE)
            if (payload["seed"], payload["max_epochs"]) != (seed, max_epochs):
                raise Unreadable(f"the run of seed {payload['seed']} where seed {seed} was due")
            if len(payload["snapshots"]) > max_epochs:
                raise Unreadable(f"{len(payload['snapshots'])} epochs' weights where at most "
                                 f"{max_epochs} were due")
            runs.append(_judge_case(payload, data.val, channel))
        _diagnose(runs)
        return LoopReport(passed=all(not r.problems for r in runs), runs=runs)


def _is_reference(state, model) -> bool:
    """Does `state` hold the model's own tensors (model.state_dict() kept without a copy)?"""
    own = model.state_dict()
    try:
        return bool(state) and all(
            isinstance(value, torch.Tensor) and name in own
            and value.untyped_storage().data_ptr() == own[name].untyped_storage().data_ptr()
            for name, value in state.items())
    except (AttributeError, TypeError, RuntimeError):
        return False


def _weights(model) -> dict[str, np.ndarray]:
    return {name: tensor.detach().numpy().copy() for name, tensor in model.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _judge_case(payload: dict, val, channel: Channel) -> SeedRun:
    model = build_model(LOOP.model)
    measured = []
    for weights in payload["snapshots"]:
        channel.check_time()
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        measured.append(evaluate(model, val))
    losses, accs = [m[0] for m in measured], [m[1] for m in measured]
    kept = next((i + 1 for i, w in enumerate(payload["snapshots"]) if _same(w, payload["final"])),
                None)
    best, stop = _early_stopping(losses, LOOP.train.patience, payload["max_epochs"])
    loads = [(after, reference) for after, reference in payload["loads"]]
    return SeedRun(payload["seed"], losses, accs, kept, bool(loads), best, stop,
                   max_epochs=payload["max_epochs"], loads=loads)


def _early_stopping(losses: list[float], patience: int, max_epochs: int) -> tuple[int, int]:
    """(the epoch to keep, the epoch after which to stop), on these epochs' validation losses.
    When the loop ran too few epochs to know, the stop is the first epoch it could be."""
    best, best_loss, waited = 0, math.inf, 0
    for epoch, loss in enumerate(losses, 1):
        if loss < best_loss:
            best, best_loss, waited = epoch, loss, 0
        else:
            waited += 1
            if waited >= patience:
                return best, epoch
    return best, min(max_epochs, max(len(losses), best + patience))


def _diagnose(runs: list[SeedRun]) -> None:
    """Each case's problems; a loop that restores only when it stops early is told so on the
    case that reaches max_epochs (the cases that stop early look right)."""
    for run in runs:
        run.problems = _problems(run)
    restored_when_stopped = any(r.stops_early and r.loaded and not r.problems for r in runs)
    for run in runs:
        if run.problems and not run.stops_early and not run.loaded and run.kept == run.epochs \
                and run.epochs == run.stop and restored_when_stopped:
            run.problems = [
                f"it restores the best weights only when it stops early; a run that reaches "
                f"max_epochs keeps its last weights: with max_epochs={run.max_epochs} this run "
                f"never stopped early and kept epoch {run.epochs}, not its best ({run.best}, "
                f"validation loss {run.val_loss[run.best - 1]:.3f}). Put "
                "model.load_state_dict(best_state) after the loop, not before break."]


def _problems(run: SeedRun) -> list[str]:
    """What is wrong with this case, the cause first (nothing when the result is right)."""
    if run.epochs == 0:
        return ["fit never called train_one_epoch: call it once per epoch, in the loop."]
    if run.epochs == run.stop and run.kept == run.best:
        return []
    patience = LOOP.train.patience
    by_acc, stop_by_acc = _early_stopping([-a for a in run.val_acc], patience, run.max_epochs)
    if (run.kept, run.epochs) == (by_acc, stop_by_acc):
        return [
            f"its improvement test watches the validation accuracy, not the loss: it keeps the "
            f"epoch of the highest validation accuracy ({by_acc}) and stops after epoch "
            f"{stop_by_acc}, where the lowest validation loss is at epoch {run.best} and the run "
            f"should stop after epoch {run.stop}. Early stopping watches "
            "the loss (if val_loss < best_loss), which keeps telling how confident the model is "
            "when the accuracy moves by single sequences."]
    problems = []
    if run.epochs != run.stop:
        when = "late" if run.epochs > run.stop else "early"
        problems.append(
            f"it stopped too {when}: after epoch {run.epochs}, where the validation loss was lowest "
            f"at epoch {run.best} and patience {patience} ends the run after epoch "
            f"{run.stop} (count the epochs without a new best: stop when that count reaches "
            "patience).")
    if run.kept == run.best:
        return problems
    # The loop stopped as its own choice of best epoch says: that choice is the cause, told first.
    own_choice = run.kept is not None and run.epochs == min(run.kept + patience, run.max_epochs)
    last_load_reference = run.loads[-1][1] if run.loads else False
    if run.kept is None:
        problems.append("the weights fit leaves in the model are none of its epochs': did it "
                        "train again after restoring, or change the weights?")
    elif run.kept == run.epochs and not run.loaded:
        problems.append(
            f"it never restores the best weights: the model keeps its last epoch ({run.epochs}), "
            f"not its best ({run.best}, validation loss {run.val_loss[run.best - 1]:.3f}). After "
            "the loop, put the saved weights back: model.load_state_dict(best_state).")
    elif run.kept == run.epochs and last_load_reference:
        problems.append(
            f"it restores a reference, not a copy: load_state_dict put back the last epoch's "
            f"weights ({run.epochs}), because model.state_dict() returns the model's own tensors, "
            "which kept training after they were saved. Save a copy: best_state = "
            "copy.deepcopy(model.state_dict()).")
    elif run.kept in (run.epochs, run.epochs - 1) and run.loaded and run.epochs == run.max_epochs \
            and run.stop < run.max_epochs:
        problems.insert(0,
            f"its improvement test is true every epoch: it saves every epoch's weights and never "
            f"counts an epoch without a new best, so it runs to max_epochs={run.max_epochs} and "
            f"restores epoch {run.kept}, not the best ({run.best}). A better epoch has a lower "
            "validation loss than the best so far: if val_loss < best_loss, with best_loss "
            "updated inside the if.")
    elif run.kept in (run.epochs, run.epochs - 1) and run.loaded:
        problems.append(
            f"it restores the copy of epoch {run.kept}, not of its best epoch ({run.best}): "
            "best_state is replaced every epoch, not only when the validation loss improves. "
            "Make the copy inside the if, next to best_loss = val_loss.")
    else:
        problems.insert(0 if own_choice else len(problems),
            f"it keeps epoch {run.kept}, but the lowest validation loss is at epoch {run.best}: "
            "check the improvement test (val_loss < best_loss) and where best_loss is updated.")
    return problems
