"""One sequence classifier: a recurrent stack (RNN, LSTM or GRU), dropout, and a linear head."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@dataclass(frozen=True)
class ModelConfig:
    cell: str = "rnn"  # "rnn", "lstm" or "gru"
    input_size: int = 10
    hidden_size: int = 32
    num_layers: int = 2
    dropout: float = 0.3  # between recurrent layers AND on the recurrent output
    num_classes: int = 2
    input_dropout: float = 0.0  # on the input features of every step, before the recurrence

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}: choose one of {sorted(CELLS)}")
        for name in ("input_size", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) \
                or self.num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {self.num_classes!r}")
        for name in ("dropout", "input_dropout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not 0.0 <= value < 1.0:
                raise ValueError(
                    f"{name} must be in [0, 1), got {value!r}: it is the probability of zeroing "
                    "a unit, so 0 turns it off and 1 would zero everything. Try 0.3."
                )
        needed = 16 * self.parameter_estimate()  # weights, gradients and Adam's two moments, float32
        if needed > _memory_bytes():
            raise ValueError(
                f"hidden_size={self.hidden_size} with num_layers={self.num_layers} needs about "
                f"{needed / 2**30:.0f} GiB to train, more than this machine has "
                f"({_memory_bytes() / 2**30:.0f} GiB): the course uses 8 to 256 units")

    def parameter_estimate(self) -> int:
        """The number of weights of the model this config builds (without building it)."""
        gates = {"rnn": 1, "lstm": 4, "gru": 3}[self.cell]
        h = self.hidden_size
        first = gates * h * (self.input_size + h + 2)
        return first + (self.num_layers - 1) * gates * h * (2 * h + 2) + (h + 1) * self.num_classes


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not on every OS: assume a laptop's 16 GiB
        return 16 * 2**30


class SequenceClassifier(nn.Module):
    """Recurrent stack -> dropout -> linear, classifying from the last valid step.

    `nn.RNN(dropout=p)` only drops between stacked layers, never after the last one, so with one
    layer it would do nothing (and PyTorch warns). We pass 0 to the stack in that case and rely on
    the output dropout, which works for any depth.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.inner_dropout = config.dropout if config.num_layers > 1 else 0.0
        self.rnn = CELLS[config.cell](
            input_size=config.input_size,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            dropout=self.inner_dropout,
            batch_first=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.num_classes)
        # Dropout on the inputs reaches what the recurrence reads at every step (notebook 02).
        self.input_dropout = nn.Dropout(config.input_dropout) if config.input_dropout else None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, seq_len, input_size); lengths: valid steps per sequence, or None if all are.

        Returns logits of shape (batch, num_classes).
        """
        self._check_input(x, lengths)
        if self.input_dropout is not None:
            x = self.input_dropout(x)
        if lengths is not None:
            x = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.rnn(x)
        if isinstance(h_n, tuple):  # an LSTM returns (h_n, c_n)
            h_n = h_n[0]
        # h_n[-1] is the top layer's state after each sequence's last *valid* step; without packing
        # it equals output[:, -1]. (h_n is never batch-first: (layers, batch, hidden).)
        return self.head(self.dropout(h_n[-1]))

    def _check_input(self, x: torch.Tensor, lengths: torch.Tensor | None) -> None:
        expected = self.config.input_size
        if x.dim() != 3:
            raise ValueError(
                f"expected input of shape (batch, seq_len, input_size={expected}), got "
                f"{tuple(x.shape)}: add a batch dimension with x.unsqueeze(0) for one sequence"
            )
        if x.shape[-1] != expected:
            raise ValueError(
                f"input has {x.shape[-1]} features per step but the model was built with "
                f"input_size={expected}: build it with ModelConfig(input_size={x.shape[-1]}) or "
                f"feed tensors of shape (batch, seq_len, {expected})"
            )
        if lengths is not None:
            if lengths.shape != (x.shape[0],):
                raise ValueError(
                    f"lengths must have one entry per sequence, shape ({x.shape[0]},), "
                    f"got {tuple(lengths.shape)}"
                )
            if lengths.min() < 1 or lengths.max() > x.shape[1]:
                raise ValueError(
                    f"every length must be between 1 and seq_len={x.shape[1]}, got "
                    f"min {int(lengths.min())} and max {int(lengths.max())}"
                )

    def extra_repr(self) -> str:
        note = "" if self.config.num_layers > 1 else " (one layer: no dropout inside the stack)"
        return f"dropout inside={self.inner_dropout}, after={self.config.dropout}{note}"


def build_model(config: ModelConfig) -> SequenceClassifier:
    return SequenceClassifier(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def multiply_adds_per_step(config: ModelConfig) -> int:
    """The multiply-adds of the recurrent layers for one time step of one sequence: every element
    of every input-to-hidden and hidden-to-hidden weight matrix (`weight_ih_l*`, `weight_hh_l*`,
    one block for nn.RNN, three for nn.GRU, four for nn.LSTM) is one multiplication and one
    addition. A cost that does not depend on the machine."""
    return sum(p.numel() for name, p in build_model(config).named_parameters()
               if ".weight_ih_l" in name or ".weight_hh_l" in name)
