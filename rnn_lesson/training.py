"""The one training loop of the course: every notebook, the CLI, the tests and the benchmark call `train`."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .data import Dataset, Split, load_course_data
from .models import ModelConfig, build_model


def pick_device(name: str) -> torch.device:
    """The device a TrainConfig names; ValueError for one that is unknown or absent here."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name) if isinstance(name, str) else None
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' (or 'cuda:N') or 'mps', got {name!r}")
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": torch.backends.mps.is_available()}[device.type]
    if not available or (device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count()):
        raise ValueError(f"device {name!r} is not available on this machine: use 'auto' or 'cpu'")
    return device


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-3
    batch_size: int = 32
    max_epochs: int = 100
    weight_decay: float = 0.0
    grad_clip: float | None = None  # max gradient norm, None for no clipping
    early_stopping: bool = True  # on validation loss, restoring the best epoch's weights
    patience: int = 3  # epochs without a new best val loss before stopping
    seed: int = 0  # model initialization, dropout masks and batch order; never the data
    device: str = "auto"  # "auto" picks CUDA when present, else the CPU; or "cpu", "cuda:0"...

    def __post_init__(self) -> None:
        _require_int(self, "batch_size", "max_epochs", "patience", "seed")
        _require_number(self, "lr", "weight_decay")
        checks = [
            (0 < self.lr <= 10, f"lr must be a number > 0 and <= 10, got {self.lr!r}: Adam's useful "
             "range is about 1e-4 to 1e-2 (the lesson's fix uses 1e-3)"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size!r}"),
            (self.max_epochs >= 1, f"max_epochs must be >= 1, got {self.max_epochs!r}"),
            (self.weight_decay >= 0 and math.isfinite(self.weight_decay),
             f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}"),
            (self.patience >= 1, f"patience must be >= 1, got {self.patience!r}"),
            (self.grad_clip is None or (isinstance(self.grad_clip, (int, float))
                                        and not isinstance(self.grad_clip, bool)
                                        and 0 < self.grad_clip < math.inf),
             f"grad_clip must be a finite number > 0 or None, got {self.grad_clip!r}"),
            (isinstance(self.early_stopping, bool),
             f"early_stopping must be True or False, got {self.early_stopping!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        pick_device(self.device)  # an unknown or absent device fails here, before any work


def _require_int(config: object, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number, got {value!r}")


def _require_number(config: object, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number, got {value!r}")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the run's numbers would mean nothing."""


class ModelError(ValueError):
    """A learner's model did something `train()` cannot accept (not an nn.Module, no trainable
    parameters, a change to torch's global settings); the message says what and where, in full."""


@dataclass(frozen=True)
class Metrics:
    """Loss and accuracy (a fraction) of the returned model on each split, in eval mode."""

    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    test_loss: float
    test_acc: float


@dataclass
class History:
    """The record of one run: its configs, per-epoch curves (index 0 is epoch 1), final metrics.

    Train metrics are measured in eval mode on the whole training set after each epoch, so they
    are comparable with the val metrics (no dropout, no averaging over a changing model).
    Everything but `model` goes to JSON (`to_dict`) and back (`from_dict`): the cache, the worker
    processes, the tables and the plots all read this one record. `extras` holds what a lesson
    measured on the trained model before it was dropped (JSON values only).
    """

    model_config: ModelConfig
    train_config: TrainConfig
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    best_epoch: int = 0  # 1-based epoch with the lowest val loss
    restored_best: bool = False  # True when the returned weights are the best epoch's
    stop_reason: str = ""
    seconds: float = 0.0
    final: Metrics | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    def record(self, train: tuple[float, float], val: tuple[float, float]) -> None:
        """Append one epoch's (loss, accuracy) pairs."""
        self.train_loss.append(train[0])
        self.train_acc.append(train[1])
        self.val_loss.append(val[0])
        self.val_acc.append(val[1])

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    @property
    def kept(self) -> str:
        """Which weights the run returned, in words."""
        return f"restored epoch {self.best_epoch}" if self.restored_best else "kept the last epoch"

    @property
    def seed(self) -> int:
        return self.train_config.seed

    def summary(self) -> str:
        f = self.final
        return (
            f"train acc {f.train_acc:.1%}  val acc {f.val_acc:.1%}  test acc {f.test_acc:.1%}"
            f"  |  train loss {f.train_loss:.3f}  val loss {f.val_loss:.3f}"
            f"  |  {self.epochs} epochs, best {self.best_epoch}, {self.seconds:.2f} s"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: every field but the model."""
        return {f.name: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v
                for f in dataclasses.fields(self) if f.name != "model"
                for v in [getattr(self, f.name)]}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "History":
        """The inverse of `to_dict`; ValueError names what is missing, malformed or not finite."""
        if not isinstance(record, dict):
            raise ValueError(f"a run record must be a JSON object, got {type(record).__name__}")
        names = {f.name for f in dataclasses.fields(cls)} - {"model"}
        if set(record) != names:
            raise ValueError(f"a run record needs exactly the keys {sorted(names)}, "
                             f"got {sorted(record)}")
        try:
            history = cls(**{**record,
                             "model_config": ModelConfig(**record["model_config"]),
                             "train_config": TrainConfig(**record["train_config"]),
                             "final": Metrics(**record["final"])})
        except (TypeError, AttributeError) as error:
            raise ValueError(f"malformed run record: {error}") from None
        problem = history._problem()
        if problem:
            raise ValueError(f"a run record {problem}")
        return history

    def _problem(self) -> str:
        """What makes this record impossible for a run of `train()`, or "" (values in range,
        curves of one length, the best epoch their lowest val loss, the final metrics those of
        the epoch the run kept)."""
        curves = (self.train_loss, self.train_acc, self.val_loss, self.val_acc)
        if not all(isinstance(c, list) for c in curves) or not isinstance(self.extras, dict):
            return "needs lists for its curves and an object for its extras"
        f = self.final
        losses = [*self.train_loss, *self.val_loss, f.train_loss, f.val_loss, f.test_loss]
        accuracies = [*self.train_acc, *self.val_acc, f.train_acc, f.val_acc, f.test_acc]
        numbers = losses + accuracies + [self.seconds]
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                   for x in numbers):
            return "holds a value that is not a finite number"
        if min(losses) < 0 or not all(0.0 <= a <= 1.0 for a in accuracies) or self.seconds < 0:
            return "holds a loss below 0, an accuracy outside [0, 1] or a negative time"
        if isinstance(self.best_epoch, bool) or not isinstance(self.best_epoch, int) \
                or len({len(c) for c in curves}) != 1 \
                or not 1 <= self.best_epoch <= self.epochs <= self.train_config.max_epochs:
            return "has curves that disagree in length, with its best epoch or with max_epochs"
        if self.val_loss.index(min(self.val_loss)) != self.best_epoch - 1:
            return "names a best epoch that is not the one with the lowest val loss"
        kept = self.best_epoch if self.restored_best else self.epochs
        pairs = ((f.train_loss, self.train_loss), (f.train_acc, self.train_acc),
                 (f.val_loss, self.val_loss), (f.val_acc, self.val_acc))
        if any(not math.isclose(final, curve[kept - 1], rel_tol=1e-5, abs_tol=1e-7)
               for final, curve in pairs):
            return f"has final metrics that are not those of the epoch it kept ({kept})"
        return ""


EpochCallback = Callable[[History], "bool | None"]

# torch's random generator is process-wide: two trainings at once (the panel's worker thread and a
# notebook cell) would mix their dropout masks and initial weights. One at a time, then; the other
# waits.
_ONE_AT_A_TIME = threading.Lock()

# One torch thread for everything the course runs, set once when rnn_lesson is imported (and in
# every worker process). Results do not depend on it (bit-identical with 1 and 2 threads), but
# OpenMP's spinning threads slow the course's small models down 10x or more as soon as anything
# else uses a core. A learner may call torch.set_num_threads(n) afterwards: train() keeps it.
COURSE_THREADS = 1


def use_course_threads() -> None:
    torch.set_num_threads(COURSE_THREADS)


def train(
    model_config: ModelConfig = ModelConfig(),
    train_config: TrainConfig = TrainConfig(),
    data: Dataset | None = None,
    on_epoch_end: EpochCallback | None = None,
    build: Callable[[], nn.Module] | None = None,
) -> History:
    """Train a fresh model and return its History (the trained model is `history.model`).

    `on_epoch_end(history)` is called after every epoch with the metrics so far; return True from
    it to stop the run (a notebook uses it to redraw curves live and to cancel).
    `build()` makes the model instead of `build_model(model_config)`: a learner's own nn.Module
    (called after seeding, so its initial weights are reproducible too; `model_config` then
    describes its input and output sizes). The same configs and data give bit-identical
    histories on the same machine. torch's global settings (default dtype, grad mode, default
    device...) are the same after the run as before it, whatever `build` does.
    """
    data = load_course_data() if data is None else data
    check_data(data, model_config)  # before any work: a clear message, not a torch traceback
    device = pick_device(train_config.device)
    train_set, val_set, test_set = (_to(s, device) for s in (data.train, data.val, data.test))
    history = History(model_config=model_config, train_config=train_config)
    start = time.perf_counter()
    # fork_rng keeps the learner's global RNG untouched while we seed ours (draws the learner
    # makes in another thread during a run are not isolated: they share the one generator).
    with _ONE_AT_A_TIME, _unchanged_torch_state(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(train_config.seed)
        model = _build(model_config, build, device)
        optimizer = torch.optim.Adam(
            model.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay
        )
        order = torch.Generator().manual_seed(train_config.seed)
        best_loss, best_state, waited = float("inf"), None, 0
        for epoch in range(1, train_config.max_epochs + 1):
            # The early-stopping loop of the course: train one epoch, measure both sets in eval
            # mode, keep a copy of the best weights, stop after `patience` epochs without a new
            # best validation loss, and restore the copy.
            _train_one_epoch(model, optimizer, train_set, train_config, order)
            history.record(evaluate(model, train_set), evaluate(model, val_set))
            _check_finite(history, train_config)
            if history.val_loss[-1] < best_loss:
                best_loss, history.best_epoch, waited = history.val_loss[-1], epoch, 0
                if train_config.early_stopping:
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                waited += 1
            history.seconds = time.perf_counter() - start
            if on_epoch_end is not None and on_epoch_end(history):
                history.stop_reason = f"stopped by the callback after epoch {epoch}"
                break
            if train_config.early_stopping and waited >= train_config.patience:
                history.stop_reason = (
                    f"early stopping: no new best val loss for {train_config.patience} epochs"
                )
                break
        else:
            history.stop_reason = f"reached max_epochs={train_config.max_epochs}"
        if best_state is not None:
            model.load_state_dict(best_state)
            history.restored_best = True
        history.final = Metrics(*evaluate(model, train_set), *evaluate(model, val_set),
                                *evaluate(model, test_set))
    history.model = model
    history.seconds = time.perf_counter() - start
    return history


def _build(model_config: ModelConfig, build: Callable[[], nn.Module] | None,
           device: torch.device) -> nn.Module:
    """The model to train, checked: a module with trainable parameters, built without changing
    torch's global settings (a later run of the course would inherit them)."""
    if build is None:
        return build_model(model_config).to(device)
    before = TorchState.now()
    model = build()
    check_untouched(before, "building your model")
    if not isinstance(model, nn.Module):
        raise ModelError(f"building the model returned {type(model).__name__}, not an nn.Module: "
                         "return the module itself (an instance of your nn.Module class)")
    if not any(p.requires_grad for p in model.parameters()):
        raise ModelError(f"your {type(model).__name__} has no trainable parameters, so there is "
                         "nothing to train: create its layers in __init__ (self.rnn = nn.RNN(...))")
    return model.to(device)


@dataclass(frozen=True)
class TorchState:
    """torch's global settings that a learner's code can change by accident (the thread count is
    not among them: results do not depend on it)."""

    default_dtype: torch.dtype
    grad_enabled: bool
    default_device: torch.device
    anomaly_detection: bool
    deterministic: bool

    @classmethod
    def now(cls) -> "TorchState":
        return cls(torch.get_default_dtype(), torch.is_grad_enabled(), torch.get_default_device(),
                   torch.is_anomaly_enabled(), torch.are_deterministic_algorithms_enabled())

    def restore(self) -> None:
        torch.set_default_dtype(self.default_dtype)
        torch.set_grad_enabled(self.grad_enabled)
        torch.set_default_device(self.default_device)
        torch.set_anomaly_enabled(self.anomaly_detection)
        torch.use_deterministic_algorithms(self.deterministic)

    def changes(self, later: "TorchState") -> str:
        """Which settings differ in `later`, in words ("" when none)."""
        calls = {"default_dtype": "torch.set_default_dtype", "grad_enabled": "torch.set_grad_enabled",
                 "default_device": "torch.set_default_device",
                 "anomaly_detection": "torch.autograd.set_detect_anomaly",
                 "deterministic": "torch.use_deterministic_algorithms"}
        return ", ".join(f"{name.replace('_', ' ')} from {getattr(self, name)} to "
                         f"{getattr(later, name)} ({calls[name]})"
                         for name in calls if getattr(self, name) != getattr(later, name))


def check_untouched(before: TorchState, what: str, where: str = "__init__") -> None:
    """ModelError naming the settings `what` changed since `before` (which are restored), and the
    method (`where`) to remove the call from."""
    changed = before.changes(TorchState.now())
    if changed:
        before.restore()
        raise ModelError(f"{what} changed {changed}: that would change every later run of the "
                         f"course. Remove that call from {where} (it was undone).")


@contextlib.contextmanager
def _unchanged_torch_state() -> Iterator[None]:
    """torch's global settings are restored after the block, and a change inside it (by a
    learner's forward, say) is an error: once the run is over, or at once when the change made
    the run fail (torch's own error would not say why)."""
    before = TorchState.now()
    try:
        yield
    except Exception as error:
        changed = before.changes(TorchState.now())
        before.restore()
        if changed and not isinstance(error, ModelError):
            raise ModelError(f"your model changed {changed} while it trained, and training "
                             f"failed ({type(error).__name__}): that would also change every "
                             "later run of the course (it was undone). Remove that call from "
                             "forward.") from error
        raise
    except BaseException:
        before.restore()
        raise
    changed = before.changes(TorchState.now())
    before.restore()
    if changed:
        raise ModelError(f"your model changed {changed} while it trained: that would change every "
                         "later run of the course (it was undone). Remove that call from forward.")


def _check_finite(history: History, config: TrainConfig) -> None:
    losses = {"train": history.train_loss[-1], "validation": history.val_loss[-1]}
    broken = {name: value for name, value in losses.items() if not math.isfinite(value)}
    if broken:
        name, value = next(iter(broken.items()))
        raise TrainingDiverged(
            f"training diverged at epoch {history.epochs}: the {name} loss is {value} with "
            f"lr={config.lr:g}. Lower the learning rate (the lesson's fix uses 1e-3) or clip the "
            "gradients (grad_clip=1.0).")


def check_data(data: Dataset, model_config: ModelConfig) -> None:
    """ValueError naming the split, the problem and the fix, for data `train()` cannot use."""
    for name in ("train", "val", "test"):
        split = getattr(data, name)
        where = f"the {name} split"
        if not isinstance(split.x, torch.Tensor) or not isinstance(split.y, torch.Tensor):
            raise ValueError(f"{where} needs tensors x and y, got {type(split.x).__name__} and "
                             f"{type(split.y).__name__}: convert them with torch.as_tensor")
        if split.x.dim() != 3 or split.x.shape[-1] != model_config.input_size:
            raise ValueError(f"{where} has x of shape {tuple(split.x.shape)}; the model needs "
                             f"(batch, seq_len, {model_config.input_size})")
        if not split.x.is_floating_point():
            raise ValueError(f"{where} has x of dtype {split.x.dtype}: use x.float()")
        if split.y.dim() != 1 or len(split.y) != len(split.x):
            raise ValueError(f"{where} has {len(split.x)} sequences but y of shape "
                             f"{tuple(split.y.shape)}: one label per sequence is needed")
        if len(split.y) == 0:
            raise ValueError(f"{where} is empty")
        if split.y.dtype != torch.int64:
            raise ValueError(f"{where} has labels of dtype {split.y.dtype}: class indices must "
                             "be torch.int64 (y.long()), not one-hot or float")
        low, high = int(split.y.min()), int(split.y.max())
        if low < 0 or high >= model_config.num_classes:
            raise ValueError(f"{where} has labels from {low} to {high}, but the model has "
                             f"num_classes={model_config.num_classes}: labels must be 0..."
                             f"{model_config.num_classes - 1}")
        if not torch.isfinite(split.x).all():
            bad = int((~torch.isfinite(split.x)).sum())
            raise ValueError(f"{where} has {bad} NaN or infinite values in x: fix or drop "
                             "those sequences before training")
        if split.lengths is not None:
            lengths = split.lengths
            if lengths.dtype != torch.int64 or lengths.shape != (len(split.x),):
                raise ValueError(f"{where} has lengths of dtype {lengths.dtype} and shape "
                                 f"{tuple(lengths.shape)}: one torch.int64 per sequence")
            if int(lengths.min()) < 1 or int(lengths.max()) > split.x.shape[1]:
                raise ValueError(f"{where} has lengths from {int(lengths.min())} to "
                                 f"{int(lengths.max())}: each must be in 1..{split.x.shape[1]}")


def _train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    split: Split,
    config: TrainConfig,
    order: torch.Generator,
) -> None:
    model.train()
    permutation = torch.randperm(len(split), generator=order).to(split.x.device)
    for batch in permutation.split(config.batch_size):
        lengths = None if split.lengths is None else split.lengths[batch]
        loss = F.cross_entropy(_forward(model, split.x[batch], lengths), split.y[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()


@torch.no_grad()
def evaluate(model: nn.Module, split: Split) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy as a fraction) on a whole split, in eval mode."""
    model.eval()
    logits = _forward(model, split.x, split.lengths)
    loss = F.cross_entropy(logits, split.y).item()
    accuracy = (logits.argmax(dim=1) == split.y).float().mean().item()
    return loss, accuracy


def _forward(model: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """A learner's model may take only x (the lesson's `forward(self, x)`)."""
    return model(x) if lengths is None else model(x, lengths)


def _to(split: Split, device: torch.device) -> Split:
    if split.x.device == device:
        return split
    lengths = None if split.lengths is None else split.lengths.to(device)
    return Split(x=split.x.to(device), y=split.y.to(device), lengths=lengths)
