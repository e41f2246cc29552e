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
    # Results do not depend on it (bit-identical with 1 and 2 threads). One thread is the safe
    # default: two threads are ~25% faster on an idle machine but OpenMP's spinning threads slow
    # small models down 10x or more as soon as anything else uses a core. None keeps torch's.
    num_threads: int | None = 1
    device: str = "auto"  # "auto" picks CUDA when present, else the CPU

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
            (self.num_threads is None or (isinstance(self.num_threads, int) and self.num_threads >= 1),
             f"num_threads must be an integer >= 1 or None, got {self.num_threads!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


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
            curves = (history.train_loss, history.train_acc, history.val_loss, history.val_acc)
            numbers = [x for curve in curves for x in curve] + [
                *dataclasses.astuple(history.final), history.seconds]
            if not all(isinstance(c, list) for c in curves) or not isinstance(history.extras, dict):
                raise ValueError("a run record's curves must be lists and its extras an object")
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                       for x in numbers):
                raise ValueError("a run record holds a value that is not a finite number")
            if isinstance(history.best_epoch, bool) or not isinstance(history.best_epoch, int) \
                    or len({len(c) for c in curves}) != 1 \
                    or not 1 <= history.best_epoch <= history.epochs:
                raise ValueError("a run record's curves disagree in length or with its best epoch")
        except (TypeError, AttributeError) as error:
            raise ValueError(f"malformed run record: {error}") from None
        return history


EpochCallback = Callable[[History], "bool | None"]

# torch's random generator and thread count are process-wide: two trainings at once (the panel's
# worker thread and a notebook cell) would mix their dropout masks and initial weights. One at a
# time, then; the other waits.
_ONE_AT_A_TIME = threading.Lock()


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
    histories on the same machine.
    """
    data = load_course_data() if data is None else data
    check_data(data, model_config)  # before any work: a clear message, not a torch traceback
    device = pick_device(train_config.device)
    train_set, val_set, test_set = (_to(s, device) for s in (data.train, data.val, data.test))
    history = History(model_config=model_config, train_config=train_config)
    start = time.perf_counter()
    # fork_rng keeps the learner's global RNG untouched while we seed ours (draws the learner
    # makes in another thread during a run are not isolated: they share the one generator).
    with _ONE_AT_A_TIME, _threads(train_config.num_threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(train_config.seed)
        model = (build_model(model_config) if build is None else build()).to(device)
        optimizer = torch.optim.Adam(
            model.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay
        )
        order = torch.Generator().manual_seed(train_config.seed)
        best_loss, best_state, waited = float("inf"), None, 0
        for epoch in range(1, train_config.max_epochs + 1):
            _train_one_epoch(model, optimizer, train_set, train_config, order)
            # num_threads=None: keep the thread count this run was configured with
            history.record(evaluate(model, train_set, None), evaluate(model, val_set, None))
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
        history.final = Metrics(*evaluate(model, train_set, None), *evaluate(model, val_set, None),
                                *evaluate(model, test_set, None))
    history.model = model
    history.seconds = time.perf_counter() - start
    return history


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
def evaluate(model: nn.Module, split: Split, num_threads: int | None = 1) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy as a fraction) on a whole split, in eval mode."""
    model.eval()
    with _threads(num_threads):
        logits = _forward(model, split.x, split.lengths)
    loss = F.cross_entropy(logits, split.y).item()
    accuracy = (logits.argmax(dim=1) == split.y).float().mean().item()
    return loss, accuracy


def _forward(model: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """A learner's model may take only x (the lesson's `forward(self, x)`)."""
    return model(x) if lengths is None else model(x, lengths)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _to(split: Split, device: torch.device) -> Split:
    if split.x.device == device:
        return split
    lengths = None if split.lengths is None else split.lengths.to(device)
    return Split(x=split.x.to(device), y=split.y.to(device), lengths=lengths)


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
