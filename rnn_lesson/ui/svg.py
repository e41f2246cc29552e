"""Learning curves as a small SVG string: what the panel redraws live, after every epoch.

Drawing a matplotlib figure costs 0.1-0.2 s, about as much as the epochs it shows, so the panel
draws its live curves as SVG instead (well under a millisecond of string building; the browser
renders it). The visual language is `plots.py`'s: train solid, validation dashed (Okabe-Ito blue
and vermillion, safe for colour-blind readers), reference lines thin, dotted and labelled where
they end. Colours follow the theme (axes and text use the page's text colour), the legend wraps
onto as many rows as it needs, and the SVG carries a <title> and <desc> with the numbers, for
screen readers.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

from ..training import History
from .plots import Line

TRAIN, VAL = "#0072B2", "#D55E00"  # Okabe-Ito blue and vermillion
VAL_DASH, REFERENCE_DASH = "6 3", "1 3"  # validation dashed; reference lines dotted
TEXT = "var(--jp-ui-font-color1, #212121)"
# Distinct runs in an overlay: Okabe-Ito without its black (invisible on a dark theme), then the
# theme's own text colour (black on light, white on dark); from the 8th run on, the same colours
# again, dashed.
RUN_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", TEXT)
GRID = "var(--jp-border-color2, #e0e0e0)"
BACKGROUND = "var(--jp-layout-color0, #ffffff)"  # the page's colour: the halo behind a label


@dataclass(frozen=True)
class Series:
    """One line: y per epoch (1-based x)."""

    values: Sequence[float]
    color: str
    label: str
    dash: str = ""  # an SVG stroke-dasharray, "" for solid


LABEL_GAP = 9  # px between reference-line labels (their font is 8 px)


def _panel(series: Sequence[Series], x_max: int, y_range: tuple[float, float], title: str,
           lines: Sequence[Line], marks: Sequence[tuple[int, str]], percent: bool,
           width: int, height: int, left: int) -> str:
    pad_l, pad_r, pad_t, pad_b = 46, 8, 18, 30
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    lo, hi = y_range

    def x(epoch: float) -> float:  # epochs 0.5 to x_max + 0.5, as in plots.py: room at both ends
        return left + pad_l + (epoch - 0.5) / x_max * plot_w

    def y(value: float) -> float:
        value = min(max(value, lo), hi)
        return pad_t + (hi - value) / (hi - lo) * plot_h

    parts = [f'<text x="{left + pad_l}" y="12" font-size="11" font-weight="bold" fill="{TEXT}">'
             f'{html.escape(title)}</text>']
    for value in _ticks(lo, hi):  # horizontal grid and y labels
        label = f"{value:.0%}" if percent else f"{value:g}"
        parts.append(f'<line x1="{left + pad_l}" x2="{left + pad_l + plot_w}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" stroke="{GRID}" stroke-width="1"/>'
                     f'<text x="{left + pad_l - 4}" y="{y(value) + 3:.1f}" font-size="9" '
                     f'text-anchor="end" fill="{TEXT}">{label}</text>')
    for tick in epoch_ticks(x_max):
        parts.append(f'<text x="{x(tick):.1f}" y="{pad_t + plot_h + 12}" font-size="9" '
                     f'text-anchor="middle" fill="{TEXT}">{tick}</text>')
    parts.append(f'<text x="{left + pad_l + plot_w / 2}" y="{height - 3}" font-size="9" '
                 f'text-anchor="middle" fill="{TEXT}">epoch</text>')
    above = None  # the baseline of the label drawn just above: labels never overlap
    labels = []  # drawn over the curves, on a halo of the page's colour: a curve never hides one
    for line in sorted(lines, key=lambda line: -line.y):
        color = _svg_color(line.color)
        label_y = y(line.y) - 2  # above its line, or below it where the label above is too close
        if above is not None and label_y - above < LABEL_GAP:
            label_y = max(y(line.y) + LABEL_GAP, above + LABEL_GAP)
        above = label_y
        parts.append(f'<line x1="{left + pad_l}" x2="{left + pad_l + plot_w}" y1="{y(line.y):.1f}" '
                     f'y2="{y(line.y):.1f}" stroke="{color}" stroke-width="1" '
                     f'stroke-dasharray="{REFERENCE_DASH}"><title>{html.escape(line.label)}</title>'
                     f'</line>')
        labels.append(f'<text x="{left + pad_l + plot_w - 2}" y="{label_y:.1f}" font-size="8" '
                      f'text-anchor="end" fill="{color}" stroke="{BACKGROUND}" stroke-width="3" '
                      f'paint-order="stroke">{html.escape(line.label)}</text>')
    for epoch, label in marks:
        parts.append(f'<line x1="{x(epoch):.1f}" x2="{x(epoch):.1f}" y1="{pad_t}" '
                     f'y2="{pad_t + plot_h}" stroke="{TEXT}" stroke-opacity="0.5" '
                     f'stroke-dasharray="1 3"><title>{html.escape(label)}</title></line>')
    for s in series:
        if not s.values:
            continue
        points = " ".join(f"{x(i + 1):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        parts.append(f'<polyline points="{points}" fill="none" stroke="{s.color}" '
                     f'stroke-width="2"{dash}><title>{html.escape(s.label)}</title></polyline>')
    parts += labels
    parts.append(f'<rect x="{left + pad_l}" y="{pad_t}" width="{plot_w}" height="{plot_h}" '
                 f'fill="none" stroke="{TEXT}" stroke-opacity="0.4"/>')
    return "".join(parts)


def _ticks(lo: float, hi: float) -> list[float]:
    """Round tick values: a step of 1, 2, 2.5 or 5 times a power of ten, at most 6 ticks."""
    import math

    span = hi - lo
    base = 10 ** math.floor(math.log10(span / 5))
    step = next(m * base for m in (1, 2, 2.5, 5, 10) if span / (m * base) <= 6)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def epoch_ticks(x_max: int) -> list[int]:
    """Whole epochs to label on an axis of `x_max` epochs: 1, then every 1, 2, 5, 10, 20... epochs
    (at most 8 labels), so a 4-epoch run reads 1 2 3 4 and a 60-epoch one 1 10 20 ... 60."""
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500) if x_max / s <= 8 or s == 500)
    return sorted({1, *range(step, x_max + 1, step)})


def _svg_color(name: str) -> str:
    """matplotlib colour names used by reference lines, in the panel's palette."""
    return {"tab:blue": TRAIN, "tab:orange": VAL, "black": TEXT, "gray": TEXT}.get(name, name)


def curves_svg(
    runs: Sequence[tuple[History, str]],
    max_epochs: int | None = None,
    lines: Sequence[Line] = (),
    title: str = "",
    width: int = 760,
    height: int = 250,
) -> str:
    """Loss and accuracy per epoch, side by side. One run: train solid, val dashed, the kept epoch
    marked. Several runs (an overlay): val curves only, one colour per run, labelled.

    The x axis spans `max_epochs` (a run in progress: where its cap is), or, with None, the epochs
    the runs ran (finished runs: a run stopped at epoch 4 fills the axis, not a 15th of it)."""
    overlay = len(runs) > 1
    loss_series, acc_series, marks = [], [], []
    for i, (history, label) in enumerate(runs):
        if overlay:
            color = RUN_COLORS[i % len(RUN_COLORS)]
            dash = "" if i < len(RUN_COLORS) else "6 3"
            loss_series.append(Series(history.val_loss, color, f"{label}: val loss", dash))
            acc_series.append(Series(history.val_acc, color, f"{label}: val accuracy", dash))
        else:
            loss_series += [Series(history.train_loss, TRAIN, "train loss"),
                            Series(history.val_loss, VAL, "validation loss", VAL_DASH)]
            acc_series += [Series(history.train_acc, TRAIN, "train accuracy"),
                           Series(history.val_acc, VAL, "validation accuracy", VAL_DASH)]
            if history.best_epoch:
                marks.append((history.best_epoch, f"best val loss (epoch {history.best_epoch})"))
    all_losses = [v for s in loss_series for v in s.values] or [1.0]
    loss_top = max(0.8, min(max(all_losses), 3.0) * 1.05)
    half = width // 2
    x_max = max(max_epochs or 0, *(h.epochs for h, _ in runs), 2)
    body = (_panel(loss_series, x_max, (0.0, loss_top), "cross-entropy loss", (), marks, False,
                   half, height, 0)
            + _panel(acc_series, x_max, (0.45, 1.0), "accuracy", lines, marks, True, half,
                     height, half))
    legend, legend_height = _legend(runs, overlay, width)
    summary = describe_runs(runs)
    total = height + legend_height
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
            f'height="{total}" viewBox="0 0 {width} {total}" '
            f'font-family="var(--jp-ui-font-family, sans-serif)">'
            f'<title>{html.escape(title or "learning curves")}</title>'
            f'<desc>{html.escape(summary)}</desc>{body}'
            f'<g transform="translate(0,{height})">{legend}</g></svg>')


def _legend(runs, overlay: bool, width: int) -> tuple[str, int]:
    """The legend, on as many rows as it needs within `width`, and its height."""
    if overlay:  # the same colours and dashes as the lines (dashed from the 8th run on)
        items = [(RUN_COLORS[i % len(RUN_COLORS)], "" if i < len(RUN_COLORS) else VAL_DASH, label)
                 for i, (_, label) in enumerate(runs)]
    else:
        items = [(TRAIN, "", "train"), (VAL, VAL_DASH, "validation"),
                 (TEXT, "1 3", "lowest validation loss")]
    parts, x, row = [], 46, 0
    for color, dash, label in items:
        item_width = 34 + 6 * len(label)
        if x + item_width > width and x > 46:  # wrap onto the next row
            x, row = 46, row + 1
        y = 10 + 15 * row
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<line x1="{x}" x2="{x + 22}" y1="{y}" y2="{y}" stroke="{color}" '
                     f'stroke-width="2"{dashes}/><text x="{x + 26}" y="{y + 3}" font-size="10" '
                     f'fill="{TEXT}">{html.escape(label)}</text>')
        x += item_width
    return "".join(parts), 18 + 15 * row


def describe_runs(runs: Sequence[tuple[History, str]]) -> str:
    """The curves in words: the text a screen reader reads, and the output's text/plain."""
    parts = []
    for history, label in runs:
        if not history.epochs:
            parts.append(f"{label}: no epoch yet")
            continue
        best = history.best_epoch or history.epochs
        parts.append(
            f"{label}: {history.epochs} epochs; last epoch train accuracy "
            f"{history.train_acc[-1]:.1%}, validation accuracy {history.val_acc[-1]:.1%}, "
            f"validation loss {history.val_loss[-1]:.3f}; lowest validation loss "
            f"{history.val_loss[best - 1]:.3f} at epoch {best}")
    return ". ".join(parts) + "."
