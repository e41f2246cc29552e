"""The lesson's four hints and its solution, each explained (data; widgets.HintPanel renders it).

Numbers quoted here are checked by tests/test_hints.py against the code, so they cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hint:
    title: str
    text: str  # simple HTML


HINTS = (
    Hint(
        "Hint 1: dropout, in two places",
        "Dropout zeroes a random fraction of activations at every training step, so the network "
        "cannot rely on any single unit to remember a particular sequence. <code>nn.RNN(..., "
        "dropout=p)</code> drops only <i>between</i> stacked layers (it needs <code>num_layers "
        "&gt;= 2</code>, and PyTorch warns otherwise), never after the last one, so add an "
        "<code>nn.Dropout(p)</code> on the RNN's output before the linear layer too. "
        "Try dropout 0.3.",
    ),
    Hint(
        "Hint 2: a smaller hidden size",
        "With hidden size 128 the two-layer RNN has about 14 times as many weights as with 32, "
        "for only 150 training sequences: enough capacity to memorize every one of them, the "
        "flipped labels included. Try 32.",
    ),
    Hint(
        "Hint 3: a lower learning rate",
        "At 3e-3 the big model's validation loss is lowest after the first couple of epochs and "
        "climbs from then on, while its train accuracy passes 95% within 5 epochs: the good "
        "epoch is over almost at once. At 1e-3 the curves change slowly enough for early "
        "stopping to find the best point.",
    ),
    Hint(
        "Hint 4: early stopping that restores the best weights",
        "Watch the validation loss after every epoch; stop when it has not improved for "
        "<code>patience</code> epochs (3 here) and <b>restore the weights of the best epoch</b>. "
        "Stopping alone keeps the last, already worse, weights: the lesson's own code does this "
        "and then reports its best validation accuracy next to its last training accuracy.",
    ),
)

SOLUTION = Hint(
    "Solution: all four together",
    "Dropout 0.3 inside <code>nn.RNN</code> and after it, hidden size 32, Adam with lr 1e-3, and "
    "early stopping on validation loss with patience 3 that restores the best epoch. This is "
    "<code>rnn_lesson.experiments.REGULARIZED</code>; set the sliders to it (dropout 0.30, hidden "
    "size 32, learning rate 1e-3, 2 layers, rnn, early stopping on) and the verdict turns green. "
    "The results below measure it over several seeds.",
)
