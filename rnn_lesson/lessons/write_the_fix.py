"""Notebook 02's exercise: the learner writes the fix as plain PyTorch and gets it graded.

The learner edits a model class (the lesson's `SimpleRNN` shape: `__init__` and `forward`) and a
`Settings` cell, then calls `check_my_fix(MyRNN, settings)`. It trains their class with the
course's one `train()` on the course data (fingerprint checked before and after) and answers with
the verdict, which of the lesson's four changes the code has, the classic traps it fell into, and
the learning curves. Anything broken (a constructor that needs arguments, a forward that raises or
returns the wrong shape, a diverging run) comes back as one clear message, never a traceback.
"""

from __future__ import annotations

import base64
import html
import io
import warnings
from dataclasses import dataclass, field

import torch
from torch import nn

from ..data import COURSE_FINGERPRINT, load_course_data
from ..models import ModelConfig
from ..results import Verdict
from ..training import History, TrainConfig, TrainingDiverged, train
from ..recipe import FIX, TASK
from ..ui.plots import plot_run  # noqa: F401 (the notebook imports it here)
from .overfitting import SOLUTION_CODE  # noqa: F401

INPUT_SIZE, NUM_CLASSES = 10, 2
PROGRESS_KEY = "02 write the fix"


@dataclass(frozen=True)
class Settings:
    """The learner's training settings (the rest is the course's: batch size 32, Adam)."""

    lr: float = 3e-3
    max_epochs: int = 60
    early_stopping: bool = False
    patience: int = 3
    seed: int = 0

    def train_config(self) -> TrainConfig:
        return TrainConfig(lr=self.lr, max_epochs=self.max_epochs, patience=self.patience,
                           early_stopping=self.early_stopping, seed=self.seed,
                           batch_size=FIX.train.batch_size)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str


@dataclass
class Grade:
    """What `check_my_fix` found: an error, or a verdict with the checks and the run."""

    error: str = ""
    verdict: Verdict | None = None
    changes: list[Check] = field(default_factory=list)  # the lesson's four changes
    traps: list[str] = field(default_factory=list)  # mistakes that silently do nothing
    history: History | None = None

    @property
    def passed(self) -> bool:
        return not self.error and self.verdict is not None and self.verdict.passed

    def text(self) -> str:
        if self.error:
            return f"Cannot grade your model yet: {self.error}"
        lines = [str(self.verdict)]
        lines += [f"[{'x' if c.ok else ' '}] {c.message}" for c in self.changes]
        lines += [f"Trap: {t}" for t in self.traps]
        if self.history is not None:
            h = self.history
            lines.append(f"Trained {h.epochs} epochs in {h.seconds:.2f} s; "
                         + f"{h.kept}.")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        tone = "var(--jp-success-color1, #388e3c)" if self.passed else "var(--jp-warn-color1, #f57c00)"
        body = html.escape(self.text()).replace("\n", "<br>")
        picture = ""
        if self.history is not None:
            buffer = io.BytesIO()
            plot_run(self.history).savefig(buffer, format="png", dpi=80)
            picture = (f'<img alt="{html.escape(self.history.summary())}" '
                       f'src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">')
        return (f'<div class="rnn-lesson-grade" style="border-left:6px solid {tone};padding:6px '
                f'10px;background:var(--jp-layout-color2, #f5f5f5);color:var(--jp-ui-font-color1, '
                f'#212121)">{body}</div>{picture}')


def check_my_fix(model_class: type, settings: Settings = Settings(), record: bool = True) -> Grade:
    """Train `model_class()` with `settings` on the course data and grade it against the task."""
    data = load_course_data()  # checks the fingerprint
    with warnings.catch_warnings(record=True) as caught:  # nn.RNN's one-layer dropout warning
        warnings.simplefilter("always")
        model, error = _build(model_class)
    if error:
        return Grade(error=error)
    recurrent = [m for m in model.modules() if isinstance(m, nn.RNNBase)]
    if not recurrent:
        return Grade(error="your model has no nn.RNN (or nn.LSTM, nn.GRU) layer: the exercise "
                           "is to fix the recurrent network, keep one.")
    rnn = recurrent[0]
    if rnn.input_size != INPUT_SIZE:
        return Grade(error=f"your {type(rnn).__name__} has input_size={rnn.input_size}, but every "
                           f"step of the course data has {INPUT_SIZE} features: use "
                           f"input_size={INPUT_SIZE}.")
    if not rnn.batch_first:
        return Grade(error=f"your {type(rnn).__name__} reads (seq_len, batch, features), but the "
                           "course data is (batch, seq_len, features): add batch_first=True.")
    applied, error = _dry_run(model, data.train.x[:4])
    if error:
        return Grade(error=error)
    try:
        training = settings.train_config()
    except ValueError as problem:
        return Grade(error=f"the settings: {problem}")
    try:
        description = _describe(rnn, model)
        history = train(description, training, data, build=model_class)
    except TrainingDiverged as problem:
        return Grade(error=str(problem))
    except Exception as problem:  # the learner's code, run by train(): say what, not where
        return Grade(error=f"training your model raised {type(problem).__name__}: "
                           f"{str(problem).splitlines()[0] if str(problem) else ''}. Check forward "
                           "for in-place edits of tensors and that it returns float logits.")
    if data.fingerprint() != COURSE_FINGERPRINT:
        return Grade(error="the course data changed while your model trained (did forward edit "
                           "x in place?). Only the model and the settings may change.")
    verdict = TASK.check(history)
    grade = Grade(verdict=verdict, history=history, changes=_changes(rnn, model, applied, settings),
                  traps=_traps(rnn, model, applied, caught))
    if record:
        from quizzes.progress import Progress

        Progress().record_verdict(PROGRESS_KEY, verdict.passed,
                                  {"train_acc": verdict.train_acc, "val_acc": verdict.val_acc},
                                  _settings_text(rnn, model, settings))
    return grade


def _build(model_class: type) -> tuple[nn.Module | None, str]:
    if not (isinstance(model_class, type) and issubclass(model_class, nn.Module)):
        return None, (f"pass the class itself (check_my_fix(MyRNN, settings)), an nn.Module "
                      f"subclass; got {model_class!r}.")
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return model_class(), ""
    except Exception as problem:  # the learner's constructor: any error is theirs to read
        return None, (f"{model_class.__name__}() raised {type(problem).__name__}: {problem}. The "
                      "grader builds it without arguments: give every __init__ argument a default.")


def _dry_run(model: nn.Module, x: torch.Tensor) -> tuple[set[nn.Module], str]:
    """One training-mode forward on 4 sequences: which nn.Dropout modules run, and the shape."""
    applied: set[nn.Module] = set()
    hooks = [m.register_forward_hook(lambda module, args, out: applied.add(module))
             for m in model.modules() if isinstance(m, nn.Dropout)]
    model.train()
    try:
        with torch.random.fork_rng(devices=[]):
            out = model(x.clone())
    except Exception as problem:
        return applied, (f"forward raised {type(problem).__name__}: {str(problem).splitlines()[0]}. "
                         "It receives x of shape (batch, seq_len, 10) and must return logits of "
                         "shape (batch, 2).")
    finally:
        for hook in hooks:
            hook.remove()
    if isinstance(out, tuple):
        return applied, ("forward returned a tuple (nn.RNN returns (output, h_n)): take the "
                         "output's last step and return self.fc(out[:, -1, :]), shape (batch, 2).")
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(x), NUM_CLASSES):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return applied, (f"forward must return logits of shape (batch, 2), here ({len(x)}, 2); it "
                         f"returned {shape}. Classify from the last step: "
                         "self.fc(out[:, -1, :]) with fc = nn.Linear(hidden_size, 2).")
    return applied, ""


def _describe(rnn: nn.RNNBase, model: nn.Module) -> ModelConfig:
    """A ModelConfig that says what the learner's model is (for the record and the data check)."""
    cell = {"RNN": "rnn", "LSTM": "lstm", "GRU": "gru"}.get(type(rnn).__name__, "rnn")
    dropouts = [m.p for m in model.modules() if isinstance(m, nn.Dropout)] + [rnn.dropout]
    return ModelConfig(cell=cell, input_size=INPUT_SIZE, hidden_size=rnn.hidden_size,
                       num_layers=rnn.num_layers, dropout=min(max(dropouts), 0.99),
                       num_classes=NUM_CLASSES)


def _changes(rnn: nn.RNNBase, model: nn.Module, applied: set, settings: Settings) -> list[Check]:
    after = [m.p for m in applied if m.p > 0]
    inside = rnn.dropout > 0 and rnn.num_layers > 1
    hidden, lr = FIX.model.hidden_size, FIX.train.lr
    return [
        Check("dropout inside", inside,
              f"dropout inside the {type(rnn).__name__}: "
              + (f"dropout={rnn.dropout} between its {rnn.num_layers} layers" if inside else
                 "none (nn.RNN(..., num_layers=2, dropout=0.3) drops between stacked layers)")),
        Check("dropout after", bool(after),
              "dropout after it: " + (f"nn.Dropout({max(after)}) applied in forward" if after else
                                      "none applied in forward (self.dropout(out[:, -1, :]))")),
        Check("hidden size", rnn.hidden_size <= 64,
              f"hidden size {rnn.hidden_size}: " + ("small enough" if rnn.hidden_size <= 64 else
                                                    f"large enough to memorize (the lesson uses {hidden})")),
        Check("learning rate", settings.lr <= lr,
              f"learning rate {settings.lr:g}: " + ("slow enough" if settings.lr <= lr else
                                                   f"fast (the lesson uses {lr:g})")),
        Check("early stopping", settings.early_stopping,
              "early stopping: " + (f"on, patience {settings.patience}, best epoch restored"
                                    if settings.early_stopping else "off (early_stopping=True)")),
    ]


def _traps(rnn: nn.RNNBase, model: nn.Module, applied: set, caught: list) -> list[str]:
    traps = []
    if rnn.dropout > 0 and rnn.num_layers == 1:
        traps.append(f"nn.{type(rnn).__name__}(dropout={rnn.dropout}) with num_layers=1 does "
                     "nothing: the dropout argument acts only between stacked layers (PyTorch "
                     "warns). Use num_layers=2, or an nn.Dropout on the output.")
    for name, module in model.named_modules():
        if isinstance(module, nn.Dropout) and module not in applied and module.p > 0:
            traps.append(f"self.{name} = nn.Dropout({module.p}) is defined but forward never "
                         f"applies it: call it, e.g. self.fc(self.{name}(out[:, -1, :])).")
    return traps


def _settings_text(rnn: nn.RNNBase, model: nn.Module, settings: Settings) -> str:
    return (f"{type(rnn).__name__} hidden {rnn.hidden_size} x {rnn.num_layers}, dropout inside "
            f"{rnn.dropout}, lr {settings.lr:g}, early stopping "
            f"{'on' if settings.early_stopping else 'off'}")
