"""Notebook 06, the course on one page: the cheat sheet's facts, each computed by running PyTorch."""

from __future__ import annotations

import html
import warnings

import torch
from torch import nn

from .overfitting import where_dropout_acts

# The layers of the cheat sheet: (the call, the input's shape).
LAYERS = (
    ("nn.RNN(10, 32)", (7, 4, 10)),
    ("nn.RNN(10, 32, batch_first=True)", (4, 7, 10)),
    ("nn.RNN(10, 32, num_layers=2, batch_first=True)", (4, 7, 10)),
    ("nn.RNN(10, 32, num_layers=2, batch_first=True, bidirectional=True)", (4, 7, 10)),
    ("nn.LSTM(10, 32, num_layers=2, batch_first=True)", (4, 7, 10)),
    ("nn.GRU(10, 32, num_layers=2, batch_first=True)", (4, 7, 10)),
    ("nn.RNN(10, 32, num_layers=2, batch_first=True)", (7, 10)),  # one sequence, no batch
)


def layout(call: str, shape: tuple[int, ...]) -> str:
    """What the dimensions of an input are, for the layer `call`: a 2-D input is one sequence."""
    if len(shape) == 2:
        return "steps, features (one unbatched sequence)"
    return "batch, steps, features" if "batch_first=True" in call else "steps, batch, features"


class Sheet:
    """Rows of a cheat sheet: printed as text, shown in a notebook as an HTML table."""

    def __init__(self, header: tuple[str, ...], rows: list[tuple[str, ...]],
                 prose: tuple[int, ...] = ()) -> None:
        self.header, self.rows = header, rows
        self.prose = prose  # the columns that are words, not code

    def __str__(self) -> str:
        widths = [max(len(r[i]) for r in [self.header, *self.rows]) + 2 for i in range(len(self.header))]
        return "\n".join("".join(f"{cell:{w}s}" for cell, w in zip(row, widths)).rstrip()
                         for row in [self.header, *self.rows])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in self.header)
        def cell(i: int, text: str) -> str:
            if i in self.prose:
                return f"<td style='text-align:left'>{html.escape(text)}</td>"
            wrap = "" if len(text) > 24 else " style='white-space:nowrap'"  # a shape stays whole
            return f"<td style='text-align:left'><code{wrap}>{html.escape(text)}</code></td>"
        body = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(row)) + "</tr>"
                       for row in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def shapes() -> Sheet:
    """What each layer returns for its input (run, not typed)."""
    rows = []
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        for call, shape in LAYERS:
            layer = eval(call, {"nn": nn})  # the course's own strings
            output, state = layer(torch.randn(shape))
            states = state if isinstance(state, tuple) else (state,)
            rows.append((call, str(shape), layout(call, shape), str(tuple(output.shape)),
                         ", ".join(str(tuple(s.shape)) for s in states)))
    return Sheet(("layer", "x", "x holds", "output", "h_n (and c_n)"), rows, prose=(2,))


GATES = {"RNN": (1, "no gates: the new state itself, tanh(W_ih x + W_hh h + biases)"),
         "LSTM": (4, "the input, forget and output gates and the candidate cell"),
         "GRU": (3, "the reset and update gates and the candidate state")}


def parameters() -> Sheet:
    """The weights of one layer of each cell (input 10, hidden 32), counted and explained."""
    rows = []
    for cell in (nn.RNN, nn.LSTM, nn.GRU):
        count = sum(p.numel() for p in cell(10, 32).parameters())
        blocks, what = GATES[cell.__name__]
        assert count == blocks * 32 * (10 + 32 + 2)  # the formula below is the count above
        rows.append((cell.__name__, f"{count:,}", f"{blocks} x 32 x (10 + 32 + 2)", what))
    return Sheet(("cell", "parameters", "= blocks x hidden x (input + hidden + 2 biases)", "the blocks"),
                 rows, prose=(3,))


def dropout_places(p: float = 0.5) -> str:
    """Where nn.RNN(dropout=p) acts, for one, two and three layers (two training-mode passes)."""
    lines = []
    for layers in (1, 2, 3):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            changed = where_dropout_acts(p=p, layers=layers)
        warned = any("dropout" in str(w.message) for w in caught)
        acted = [name for name, yes in changed.items() if yes]
        lines.append(f"num_layers={layers}: dropout acted in " + (", ".join(acted) or "no layer")
                     + (" (PyTorch warns)" if warned else ""))
    return "\n".join(lines)
