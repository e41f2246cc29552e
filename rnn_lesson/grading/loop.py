"""The loop exercise, graded by behaviour: the learner's `fit` (the early-stopping lines of a plain
loop) runs in the sandbox's worker on the course's model and data.

The worker hands `fit` the course's own pieces: a model of the lesson's fix, Adam,
`train_one_epoch(model, optimizer)` and `measure(model) -> (val_loss, val_acc)`. It keeps a copy
of the weights after every epoch, notes whether `fit` loads weights back, and sends all that with
the weights `fit` leaves in the model. The grader measures every epoch's weights itself and
judges: the loop must stop `patience` epochs after its best epoch (the lowest validation loss; or
at max_epochs), and leave that epoch's weights in the model. The classic slips get their own
message: never restoring, restoring a reference instead of a copy, choosing by accuracy, stopping
a epoch too early or too late.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..data import load_course_data
from ..models import build_model
from ..recipe import FIX
from ..runs import Experiment
from ..training import _train_one_epoch, evaluate
from .sandbox import Channel, CourseRefused, Limits, exec_source, guard_the_course, run, with_prelude

# The lesson's fix at the baseline's learning rate: it learns in a few epochs, its validation loss
# turns up soon after, and on these seeds the epoch of the lowest validation loss is not the epoch
# of the highest accuracy (so a loop that watches accuracy is caught). About a second per seed.
LOOP = Experiment(name="loop exercise", description="the lesson's fix at lr 3e-3",
                  model=FIX.model, train=dataclasses.replace(FIX.train, lr=3e-3, max_epochs=20))
LOOP_SEEDS = (7, 2)


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
    """What the grader measured of `fit` on one seed."""

    seed: int
    val_loss: list[float]  # of each epoch's weights, measured by the grader
    val_acc: list[float]
    kept: int | None  # the epoch (1-based) whose weights fit left in the model; None: none of them
    loaded: bool  # fit called model.load_state_dict
    best: int  # the epoch early stopping should keep (the lowest val loss so far when it stops)
    stop: int  # the epoch after which it should stop
    problems: list[str] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.val_loss)


@dataclass
class LoopReport:
    error: str = ""
    passed: bool = False
    runs: list[SeedRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def problems(self) -> list[str]:
        """What is wrong, told on the first seed that shows it (the others' numbers differ)."""
        return next((run.problems for run in self.runs if run.problems), [])


def grade_loop(submission: LoopSubmission, limits: Limits = Limits()) -> LoopReport:
    """Grade a `fit` in the sandbox; never raises for anything the submission does."""
    return run(LoopTask(submission), limits)


@dataclass(frozen=True)
class LoopTask:
    submission: LoopSubmission
    doing: str = "your fit"
    advice: str = "Check the lines you wrote (and that fit takes model, optimizer, " \
                  "train_one_epoch, measure, max_epochs and patience)."

    @property
    def origin(self) -> str:
        return self.submission.origin

    def failed(self, message: str) -> LoopReport:
        return LoopReport(error=message)

    def time_up(self, seconds: float, epochs: int) -> str:
        return (f"your fit ran {epochs} epochs in {seconds:g} s without returning: does the loop "
                f"stop? It should end after at most max_epochs={LOOP.train.max_epochs}, sooner "
                f"when the validation loss has not improved for patience={LOOP.train.patience} "
                "epochs.")

    # -- in the worker

    def work(self, grader) -> None:
        data = load_course_data()
        guard_the_course({})
        fit = exec_source(self.submission.source, self.origin).get(self.submission.function_name)
        if not callable(fit):
            raise CourseRefused(f"{self.origin} defines no function {self.submission.function_name}")
        epochs = [0]
        for seed in LOOP_SEEDS:
            torch.manual_seed(seed)
            model = build_model(LOOP.model)
            optimizer = torch.optim.Adam(model.parameters(), lr=LOOP.train.lr)
            order = torch.Generator().manual_seed(seed)
            snapshots, loaded = [], [False]

            def train_one_epoch(model, optimizer):
                _train_one_epoch(model, optimizer, data.train, LOOP.train, order)
                snapshots.append(_weights(model))
                epochs[0] += 1
                grader.send(("epoch", epochs[0]))

            def measure(model):
                return evaluate(model, data.val)

            load = model.load_state_dict

            def noting_load(state=None, *args, **kwargs):
                loaded[0] = True
                if state is None:
                    raise CourseRefused(
                        "fit restores best_state, but best_state is still None: the improvement "
                        "test (line 1) was never true. A better epoch has a lower validation "
                        "loss: val_loss < best_loss.")
                return load(state, *args, **kwargs)

            model.load_state_dict = noting_load
            fit(model, optimizer, train_one_epoch, measure, max_epochs=LOOP.train.max_epochs,
                patience=LOOP.train.patience)
            grader.send(("run", {"seed": seed, "snapshots": snapshots, "final": _weights(model),
                                 "loaded": loaded[0]}))

    # -- in the grader

    def judge(self, channel: Channel) -> LoopReport:
        data = load_course_data()
        runs = [_judge_seed(channel.receive("run"), data.val) for _ in LOOP_SEEDS]
        return LoopReport(passed=all(not r.problems for r in runs), runs=runs)


def _weights(model) -> dict[str, np.ndarray]:
    return {name: tensor.detach().numpy().copy() for name, tensor in model.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _judge_seed(payload: dict, val) -> SeedRun:
    model = build_model(LOOP.model)
    measured = []
    for weights in payload["snapshots"]:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        measured.append(evaluate(model, val))
    losses, accs = [m[0] for m in measured], [m[1] for m in measured]
    kept = next((i + 1 for i, w in enumerate(payload["snapshots"]) if _same(w, payload["final"])),
                None)
    best, stop = _early_stopping(losses, LOOP.train.patience, LOOP.train.max_epochs)
    run = SeedRun(payload["seed"], losses, accs, kept, payload["loaded"], best, stop)
    run.problems = _problems(run)
    return run


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


def _problems(run: SeedRun) -> list[str]:
    if run.epochs == 0:
        return ["fit never called train_one_epoch: call it once per epoch, in the loop."]
    problems = []
    if run.epochs != run.stop:
        when = "late" if run.epochs > run.stop else "early"
        problems.append(
            f"it stopped too {when}: after epoch {run.epochs}, where the validation loss was lowest "
            f"at epoch {run.best} and patience {LOOP.train.patience} ends the run after epoch "
            f"{run.stop} (count the epochs without a new best: stop when that count reaches "
            "patience).")
    if run.kept == run.best:
        return problems
    best_acc = run.val_acc.index(max(run.val_acc)) + 1
    if run.kept is None:
        problems.append("the weights fit leaves in the model are none of its epochs': did it "
                        "train again after restoring, or change the weights?")
    elif run.kept == run.epochs and not run.loaded:
        problems.append(
            f"it never restores the best weights: the model keeps its last epoch ({run.epochs}), "
            f"not its best ({run.best}, validation loss {run.val_loss[run.best - 1]:.3f}). After "
            "the loop, put the saved weights back: model.load_state_dict(best_state).")
    elif run.kept == run.epochs:
        problems.append(
            f"it restores a reference, not a copy: load_state_dict put back the last epoch's "
            f"weights ({run.epochs}), because model.state_dict() returns the model's own tensors, "
            "which kept training after they were saved. Save a copy: best_state = "
            "copy.deepcopy(model.state_dict()).")
    elif run.kept == best_acc:
        problems.append(
            f"it keeps the epoch of the highest validation accuracy ({best_acc}), not the lowest "
            f"validation loss ({run.best}): early stopping watches the loss, which keeps telling "
            "how confident the model is when the accuracy moves by single sequences.")
    else:
        problems.append(
            f"it keeps epoch {run.kept}, but the lowest validation loss is at epoch {run.best}: "
            "check the improvement test (val_loss < best_loss) and where best_loss is updated.")
    return problems
