"""The lesson's recipe, in one place: its task, its three configurations, and what counts as each
of its four changes.

The panel's banner, the grader, the ablation, the claims and the CLI all read this module; no other
module states a threshold of the lesson. A change of mind about what "has dropout" means is one
edit here, and every judge follows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .data import COURSE_SPEC
from .models import ModelConfig
from .results import Task, Verdict, lr_label
from .runs import Experiment
from .training import History, TrainConfig

# ---------------------------------------------------------------------------------------------
# The task

TASK = Task(
    min_val_acc=0.85,
    max_train_acc=0.92,
    # The banner and the grader append the lesson's changes a setting still lacks, so these say
    # what the curves show, not what to add.
    hint_memorizes="the model memorizes the training set, label noise included: slow the "
    "memorizing down and keep the best epoch.",
    hint_train_high="it generalizes but still memorizes noisy labels: stop earlier (early "
    "stopping that restores the best epoch) or slow the memorizing down.",
    hint_val_low="train and val are both low, so the model underfits: less dropout, a larger "
    "hidden size, a higher learning rate or more patience.",
    hint_stopped_early="early stopping went back to epoch {epoch}: the validation loss rose after "
    "it while train accuracy went on to {train:.0%}. The model memorizes faster than early "
    "stopping can help: slow it down (a smaller hidden size, a lower learning rate; dropout helps "
    "a little).",
    hint_undertrained="both are still improving at the last epoch: the run ended too soon. "
    "Train for more epochs, or with a higher learning rate.",
    hint_not_finite="the run diverged (NaN or infinite loss): lower the learning rate.",
)
BEST_POSSIBLE = COURSE_SPEC.best_possible_accuracy  # the Bayes limit of the course data


def check_task(result: History | tuple[float, float]) -> Verdict:
    """The lesson's task on a run (its final metrics) or a (train_acc, val_acc) pair."""
    return TASK.check(result)


# ---------------------------------------------------------------------------------------------
# The three configurations

BASELINE = Experiment(
    name="baseline",
    description="the overfitting model: a big RNN, no dropout, a high learning rate, 60 epochs",
    model=ModelConfig(cell="rnn", hidden_size=128, num_layers=2, dropout=0.0),
    train=TrainConfig(lr=3e-3, batch_size=32, max_epochs=60, early_stopping=False),
)

# At most 16 epochs: its best epoch comes at 10-16 (a longer cap changes nothing but the cost).
FIX = Experiment(
    name="fix",
    description="the lesson's fix: dropout 0.3 inside nn.RNN and after it, hidden 32, "
    "Adam lr 1e-3, early stopping on val loss (patience 3) restoring the best weights",
    model=ModelConfig(cell="rnn", hidden_size=32, num_layers=2, dropout=0.3),
    train=TrainConfig(lr=1e-3, batch_size=32, max_epochs=16, early_stopping=True, patience=3),
)

# The baseline with early stopping (the fix's patience): where the panel and the map start.
ES_ONLY = Experiment(
    name="es_only",
    description="the baseline + early stopping",
    model=BASELINE.model,
    train=dataclasses.replace(BASELINE.train, early_stopping=True, patience=FIX.train.patience),
)

EXPERIMENTS = {e.name: e for e in (BASELINE, ES_ONLY, FIX)}

# ---------------------------------------------------------------------------------------------
# What counts as each of the lesson's four changes

# Dropout counts from 0.1: below that it zeroes too few units to change what a network memorizes
# (the map's rows 0.0 and 0.1 are within a point of each other at every hidden size).
MIN_DROPOUT = 0.1
# Hidden size counts as "smaller" up to 64: from 128 units on, the baseline's RNN memorizes before
# early stopping can catch a good epoch (the map's columns).
MAX_HIDDEN = 64
MAX_LR = FIX.train.lr  # "a lower learning rate": the fix's 1e-3 or lower


@dataclass(frozen=True)
class Change:
    """One of the lesson's changes, as a setting has it or lacks it."""

    name: str  # "dropout inside", "dropout after", "hidden size", "learning rate", "early stopping"
    present: bool
    advice: str  # what to do when it is missing (names the fix's value)


def changes(dropout_inside: float, dropout_after: float, hidden_size: int, lr: float,
            early_stopping: bool) -> list[Change]:
    """The lesson's four changes (dropout counted in its two places), present or missing."""
    p, hidden = FIX.model.dropout, FIX.model.hidden_size
    return [
        Change("dropout inside", dropout_inside >= MIN_DROPOUT,
               f"dropout inside nn.RNN ({p}, with 2 or more layers)"),
        Change("dropout after", dropout_after >= MIN_DROPOUT,
               f"dropout after nn.RNN ({p}, on its last step's output)"),
        Change("hidden size", hidden_size <= MAX_HIDDEN, f"a smaller hidden size ({hidden})"),
        Change("learning rate", lr <= MAX_LR + 1e-12, f"a lower learning rate ({lr_label(MAX_LR)})"),
        Change("early stopping", bool(early_stopping), "early stopping that restores the best epoch"),
    ]


def config_changes(model: ModelConfig, training: TrainConfig) -> list[Change]:
    """`changes` for a course model: its one dropout acts inside the stack (2 layers or more) and
    after it."""
    inside = model.dropout if model.num_layers > 1 else 0.0
    return changes(inside, model.dropout, model.hidden_size, training.lr, training.early_stopping)


def missing_fixes(model: ModelConfig, training: TrainConfig) -> list[str]:
    """What a course setting lacks of the lesson's recipe, as advice (for the panel's banner)."""
    return [c.advice for c in config_changes(model, training) if not c.present]
