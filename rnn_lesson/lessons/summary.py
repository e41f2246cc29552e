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
    ("nn.RNN(10, 32, num_layers=2, batch_first=True)", (7, 10)),
)


class Sheet:
    """Rows of a cheat sheet: printed as text, shown in a notebook as an HTML table."""

    def __init__(self, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        self.header, self.rows = header, rows

    def __str__(self) -> str:
        widths = [max(len(r[i]) for r in [self.header, *self.rows]) + 2 for i in range(len(self.header))]
        return "\n".join("".join(f"{cell:{w}s}" for cell, w in zip(row, widths)).rstrip()
                         for row in [self.header, *self.rows])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'><code>{html.escape(c)}</code>"
                                        "</td>" for c in row) + "</tr>" for row in self.rows)
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
            rows.append((call, str(shape), str(tuple(output.shape)),
                         ", ".join(str(tuple(s.shape)) for s in states)))
    return Sheet(("layer", "x", "output", "h_n (and c_n)"), rows)


GATES = {"RNN": (1, ""), "LSTM": (4, "the input, forget and output gates and the candidate cell"),
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
                 rows)


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
