"""The learner's panel: sliders for the model and training settings, live learning curves, a verdict.

Training runs in a worker thread so the notebook never freezes: a new slider move cancels the run
in progress (at its next epoch end) and starts a fresh one, so after many rapid moves the curves
always show the last setting. The curves are an SVG string set as one HTML widget's value, which is
safe from a thread (an Output widget's `with output:` is not). The map's figure replaces its Output
widget's `outputs` in one assignment, for the same reason.

Tests drive it without a browser: set `panel.controls[...].value`, call `panel.run()` (synchronous)
or `panel.request_run()` + `panel.wait()`, then read `panel.banner.value` and `panel.last_history`.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import dataclasses
import html
import io
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import ipywidgets as w

from ..data import Dataset, load_course_data
from ..models import CELLS, ModelConfig
from ..results import Task, Verdict
from ..runs import Experiment
from ..training import History, TrainConfig, train
from .plots import Line, figure_png, lr_label, plot_learning_curves
from .svg import curves_svg, describe_runs

if TYPE_CHECKING:
    from quizzes.progress import Progress


def show_png(output: w.Output, png: bytes) -> None:
    """Replace what `output` shows with one image, in one assignment (safe from a thread)."""
    output.outputs = ({
        "output_type": "display_data", "metadata": {},
        "data": {"image/png": base64.b64encode(png).decode(), "text/plain": "<figure>"},
    },)


def with_png_fallback(widget: w.Widget, png: bytes, **kwargs) -> dict:
    """The widget, plus its current figure as a PNG for viewers without widgets (GitHub)."""
    bundle = widget._repr_mimebundle_(**kwargs)
    if png:
        bundle["image/png"] = base64.b64encode(png).decode()
    return bundle


HIDDEN_SIZES = (8, 16, 32, 64, 128, 256)
# Marks a widget whose controls get their own keys in JupyterLab (arrow keys, Enter): the page
# script of quizzes.widgets (which this layer cannot import) reads it; a test checks both agree.
KEYBOARD_CLASS = "rnn-lesson-keyboard"
LEARNING_RATES = tuple((lr_label(lr), lr) for lr in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2))


def settings_from(values: dict, start: Experiment) -> tuple[ModelConfig, TrainConfig]:
    """The configs the panel's control values describe: `start`'s, with the sliders' values
    (ValueError for impossible ones)."""
    model = dataclasses.replace(start.model, cell=values["cell"],
                                hidden_size=int(values["hidden_size"]),
                                num_layers=int(values["num_layers"]),
                                dropout=float(values["dropout"]))
    training = dataclasses.replace(start.train, lr=float(values["lr"]),
                                   max_epochs=int(values["max_epochs"]),
                                   early_stopping=bool(values["early_stopping"]),
                                   seed=int(values["seed"]))
    return model, training


def _check_start(start: Experiment) -> None:
    """ValueError naming the setting, when `start` cannot be shown on the sliders exactly."""
    model, training = start.model, start.train
    checks = [
        (model.hidden_size in HIDDEN_SIZES, f"hidden size {model.hidden_size}: one of {HIDDEN_SIZES}"),
        (training.lr in dict(LEARNING_RATES).values(),
         f"learning rate {training.lr}: one of {[lr for _, lr in LEARNING_RATES]}"),
        (4 <= training.max_epochs <= 60 and training.max_epochs % 4 == 0,
         f"max epochs {training.max_epochs}: a multiple of 4 from 4 to 60"),
        (0 <= training.seed <= 9, f"seed {training.seed}: 0 to 9"),
        (model.num_layers in (1, 2, 3), f"layers {model.num_layers}: 1 to 3"),
        (0 <= model.dropout <= 0.7, f"dropout {model.dropout}: 0 to 0.7"),
    ]
    wrong = [text for ok, text in checks if not ok]
    if wrong:
        raise ValueError(f"the panel cannot start from {start.name!r}: its sliders cannot show "
                         + "; ".join(wrong))


def describe(model: ModelConfig, training: TrainConfig) -> str:
    """The settings behind a curve, in the words of the sliders."""
    stopping = f"early stopping on (patience {training.patience})" if training.early_stopping \
        else "early stopping off"
    return (f"{model.cell}, hidden size {model.hidden_size}, {model.num_layers} layers, "
            f"dropout {model.dropout:.2f}, learning rate {lr_label(training.lr)}, {stopping}, "
            f"max epochs {training.max_epochs}, seed {training.seed}")


def describe_short(model: ModelConfig, training: TrainConfig) -> str:
    """The same, short enough for a row of the run log ("rnn 128x2, dropout 0.00, lr 3e-3, ...")."""
    return (f"{model.cell} {model.hidden_size}x{model.num_layers}, dropout {model.dropout:.2f}, "
            f"lr {lr_label(training.lr)}, early stop {'on' if training.early_stopping else 'off'}, "
            f"max {training.max_epochs}, seed {training.seed}")


# Theme-aware colours: JupyterLab's variables (light and dark themes), with fallbacks elsewhere.
TONES = {
    "passed": "var(--jp-success-color1, #388e3c)",
    "failed": "var(--jp-warn-color1, #f57c00)",
    "busy": "var(--jp-border-color1, #9e9e9e)",
}


def banner_html(verdict: Verdict | None, message: str = "", missing: Sequence[str] = (),
                height: str | None = None) -> str:
    """A coloured edge (green when the task passes, orange when not, gray while training) on
    the theme's own background and text colours, so it reads in light and dark themes.

    `missing`: the lesson's changes the setting does not have yet, named after the hint.
    `height`: the panel's (`banner_height`), room for the longest verdict it can show.
    """
    if verdict is None:
        tone, text = "busy", html.escape(message)
    else:
        tone, parts = ("passed" if verdict.passed else "failed"), banner_parts(verdict, missing)
        text = f"<b>{html.escape(parts[0])}</b>" + "".join(f"<br>{html.escape(p)}"
                                                           for p in parts[1:])
    # One height whatever it says (training, passed, a hint and what is missing): the curves below
    # never move when a verdict arrives. The height holds the longest verdict at the curves' width;
    # a narrower page (or an error message) scrolls, and a shadow at the edge shows there is more.
    background = "var(--jp-layout-color2, #f5f5f5)"
    shade = "rgba(128, 128, 128, 0.6)"
    scroll_cue = (f"linear-gradient({background} 30%, transparent) center top / 100% 24px "
                  f"no-repeat local, linear-gradient(transparent, {background} 70%) center "
                  "bottom / 100% 24px no-repeat local, radial-gradient(farthest-side at 50% 0, "
                  f"{shade}, transparent) center top / 100% 8px no-repeat scroll, "
                  f"radial-gradient(farthest-side at 50% 100%, {shade}, transparent) center "
                  f"bottom / 100% 8px no-repeat scroll, {background}")
    return (f'<div class="rnn-lesson-verdict rnn-lesson-{tone}" style="border-left:6px solid '
            f'{TONES[tone]};background:{scroll_cue};'
            'color:var(--jp-ui-font-color1, #212121);padding:6px 10px;border-radius:4px;'
            f'height:{height or BANNER_HEIGHT};overflow-y:auto;box-sizing:border-box;'
            f'line-height:{LINE_EM}">{text}</div>')


def banner_parts(verdict: Verdict, missing: Sequence[str] = ()) -> list[str]:
    """The lines of a verdict's banner, as plain text: the verdict, its hint, what is missing."""
    parts = [verdict.short()]
    if not verdict.passed:
        parts.append(f"Hint: {verdict.hint}")
        if missing:
            parts.append(f"Not in your settings yet: {', '.join(missing)}.")
    return parts


# The banner's room, computed: lines of text at the curves' width, in the widest usual font.
BANNER_WIDTH = 760  # px: the curves' SVG below it (the panel is never narrower than its curves)
BANNER_INSIDE = BANNER_WIDTH - 6 - 2 * 10  # px for text: the coloured edge and the padding
FONT_PX = 14  # JupyterLab's widgets use 13 px, a static page 14 px: the larger holds fewer words
CHAR_EM = 0.56  # mean width of a character, in em: DejaVu Sans (one of the widest) measures 0.52
BOLD_EM = 0.62  # the verdict's line, in bold
LINE_EM = 1.4
BANNER_HEIGHT = f"calc({4 * LINE_EM:.1f}em + 12px)"  # a default: the panel computes its own


def text_lines(text: str, char_em: float = CHAR_EM, width: int = BANNER_INSIDE,
               font_px: int = FONT_PX) -> int:
    """How many lines `text` wraps onto (word by word) in `width` px, at `char_em` per
    character: an estimate on the safe side (a browser's fonts are narrower on average)."""
    per_line = max(int(width / (char_em * font_px)), 1)
    lines, used = 1, 0
    for word in text.split():
        if used and used + 1 + len(word) > per_line:
            lines, used = lines + 1, len(word)
        else:
            used += (1 if used else 0) + len(word)
    return lines


def banner_lines(parts: Sequence[str]) -> int:
    """The lines a banner of these parts (the first one bold) takes."""
    return sum(text_lines(part, BOLD_EM if i == 0 else CHAR_EM) for i, part in enumerate(parts))


def banner_height(lines: int) -> str:
    """The CSS height of a banner of `lines` lines (6 px of padding above and below)."""
    return f"calc({lines * LINE_EM:.1f}em + 12px)"


def longest_banner(task: Task, missing_texts: Sequence[Sequence[str]],
                   max_epochs: int = 60) -> int:
    """The most lines a banner of `task` can take: its longest verdict, its longest hint (an
    early stop at the last epoch, train at 100%) and the longest list of missing changes."""
    nan = float("nan")
    shorts = [task.check(pair).short() for pair in ((1.0, 0.0), (0.0, 0.0), (1.0, 1.0), (nan, nan))]
    hints = [task.hint_memorizes, task.hint_train_high, task.hint_val_low,
             task.hint_stopped_early.format(epoch=max_epochs, train=1.0), task.hint_undertrained,
             task.hint_not_finite]
    return (max(text_lines(s, BOLD_EM) for s in shorts)
            + max(text_lines(f"Hint: {h}") for h in hints)
            + max([text_lines(f"Not in your settings yet: {', '.join(m)}.")
                   for m in missing_texts if m] or [0]))


class ExperimentPanel:
    """Sliders + Train button + live curves + verdict banner + a log of every run, for one task.

    It starts from `start`; everything the sliders do not set (batch size, patience...) stays
    `start`'s. `task` judges each run, `lines` are drawn on the accuracy plot, and
    `missing(model, train)` names what a setting lacks for the hint. Curves are SVG, redrawn
    after every epoch (building one costs well under a millisecond, so live drawing does not slow
    training); every finished run joins the log, which lives in the progress file.
    """

    def __init__(self, start: Experiment, task: Task, lines: Sequence[Line] = (),
                 missing: Callable[[ModelConfig, TrainConfig], list[str]] = lambda m, t: [],
                 data: Dataset | None = None, auto_run: bool = True,
                 initial: History | None = None, progress: "Progress | None" = None) -> None:
        from quizzes.progress import Progress

        self.data = load_course_data() if data is None else data
        self.start, self.task, self.lines, self.missing = start, task, tuple(lines), missing
        start_model, start_train = start.model, start.train
        _check_start(start)
        style = {"description_width": "110px"}
        wide = w.Layout(width="340px")
        self.controls: dict[str, w.ValueWidget] = {
            "dropout": w.FloatSlider(value=start_model.dropout, min=0.0, max=0.7, step=0.05,
                                     description="dropout", continuous_update=False,
                                     readout_format=".2f", style=style, layout=wide),
            "hidden_size": w.SelectionSlider(options=HIDDEN_SIZES, value=start_model.hidden_size,
                                             description="hidden size", continuous_update=False,
                                             style=style, layout=wide),
            "lr": w.SelectionSlider(options=LEARNING_RATES, value=start_train.lr,
                                    description="learning rate", continuous_update=False,
                                    style=style, layout=wide),
            "num_layers": w.IntSlider(value=start_model.num_layers, min=1, max=3,
                                      description="layers", continuous_update=False,
                                      style=style, layout=wide),
            "cell": w.Dropdown(options=sorted(CELLS), value=start_model.cell, description="cell",
                               style=style, layout=wide),
            "early_stopping": w.Checkbox(value=start_train.early_stopping,
                                         description="early stopping (restore best)",
                                         indent=False),
            "max_epochs": w.IntSlider(value=start_train.max_epochs, min=4, max=60, step=4,
                                      description="max epochs", continuous_update=False,
                                      style=style, layout=wide),
            "seed": w.IntSlider(value=start_train.seed, min=0, max=9, description="seed",
                                continuous_update=False, style=style, layout=wide),
        }
        self.train_button = w.Button(description="Train", button_style="primary", icon="play",
                                     tooltip="Train the current setting (Enter or Space)")
        self.banner_height = banner_height(longest_banner(task, self._missing_lists()))
        self.banner = w.HTML(self._banner(None, "Move a slider or press Train."))
        self.status = w.HTML("")
        # Fixed height: the page must not jump while curves are redrawn.
        self.curves = w.HTML("", layout=w.Layout(height="275px", overflow="hidden"))
        self.caption = w.HTML("")  # which settings the curves above show
        for widget, name in ((self.banner, "verdict"), (self.curves, "curves"),
                             (self.caption, "curves-settings"), (self.status, "status")):
            widget.add_class(f"rnn-lesson-{name}")
        self.last_history: History | None = None
        self.runs_started = 0
        self.first_epoch_shown_at: float | None = None  # perf_counter() of the last run's first epoch
        self._generation = 0
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.log = RunLog(Progress() if progress is None else progress, self.lines)
        self.train_button.on_click(lambda _: self.request_run())
        if auto_run:
            for control in self.controls.values():
                control.observe(lambda _: self.request_run(), names="value")
        left = w.VBox(list(self.controls.values())[:4] + [self.train_button])
        right = w.VBox(list(self.controls.values())[4:] + [self.status])
        self.widget = w.VBox([w.HBox([left, right]), self.banner, self.curves, self.caption,
                              self.log.widget])
        self.widget.add_class("rnn-lesson-panel")
        self.widget.add_class(KEYBOARD_CLASS)
        if initial is not None:  # a run of the start setting the notebook already did
            if self.settings() != (initial.model_config, initial.train_config):
                raise ValueError("`initial` was trained with other settings than `start`")
            self._show_result(initial, self._generation, log=False)

    def _banner(self, verdict: Verdict | None, message: str = "",
                missing: Sequence[str] = ()) -> str:
        return banner_html(verdict, message, missing, self.banner_height)

    def _missing_lists(self) -> list[list[str]]:
        """What `missing` names for each corner of the sliders (each at either end, so on both
        sides of every threshold of the lesson's changes): the longest list is among them."""
        import itertools

        c = self.controls
        ends = {"dropout": (c["dropout"].min, c["dropout"].max),
                "hidden_size": (HIDDEN_SIZES[0], HIDDEN_SIZES[-1]),
                "lr": (LEARNING_RATES[0][1], LEARNING_RATES[-1][1]),
                "num_layers": (c["num_layers"].min, c["num_layers"].max),
                "cell": tuple(CELLS), "early_stopping": (False, True),
                "max_epochs": (c["max_epochs"].max,), "seed": (c["seed"].value,)}
        lists = []
        for corner in itertools.product(*ends.values()):
            model, training = settings_from(dict(zip(ends, corner)), self.start)
            lists.append(list(self.missing(model, training)))
        return lists

    def _show_result(self, history: History, generation: int, log: bool = True) -> None:
        verdict = self.task.check(history)
        self._show(history, generation, title=verdict.short())
        with self._lock:
            if self._is_current(generation):
                self.last_history = history
                missing = self.missing(history.model_config, history.train_config)
                self.banner.value = self._banner(verdict, missing=missing)
                self.status.value = (f"{history.epochs} epochs in {history.seconds:.2f} s; "
                                     + history.kept)
        if log:
            try:
                self.log.add(history, verdict,
                             describe_short(history.model_config, history.train_config))
            except Exception as error:  # the run is shown; only its log row is missing
                self.log.note.value = (f"<small>This run could not join the log: "
                                       f"{html.escape(f'{type(error).__name__}: {error}')}</small>")

    @property
    def last_png(self) -> bytes:
        """The last curves as a PNG (matplotlib), for viewers without widgets."""
        if self.last_history is None:
            return b""
        h = self.last_history  # the epochs it ran: a run stopped at 4 is not squeezed onto 60
        return figure_png(plot_learning_curves(h, self.task.check(h).short(), None, self.lines))

    def _repr_mimebundle_(self, **kwargs) -> dict:
        png = self.last_png
        bundle = with_png_fallback(self.widget, png, **kwargs)
        if self.last_history is not None:  # what a screen reader or a text viewer gets
            bundle["text/plain"] = (f"{self.task.check(self.last_history).short()}. "
                                    + describe_runs([(self.last_history, "The curves")]))
            picture = (f'<img alt="{html.escape(bundle["text/plain"])}" '
                       f'src="data:image/png;base64,{base64.b64encode(png).decode()}">')
            bundle["text/html"] = (  # a static copy: the verdict, the curves, the settings
                f"{self.banner.value}{picture}{self.caption.value}<div><small>A static copy of "
                "the panel: run the notebook in Jupyter to move its sliders.</small></div>")
        return bundle

    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def settings(self) -> tuple[ModelConfig, TrainConfig]:
        return settings_from(self.values(), self.start)

    def request_run(self) -> None:
        """Start a run in the background with the current values, cancelling the one in progress."""
        with self._lock:
            self._generation += 1
            generation, previous = self._generation, self._worker
            self._worker = threading.Thread(target=self._work, args=(generation, previous),
                                            daemon=True)
            self._worker.start()

    def wait(self, timeout: float = 120.0) -> None:
        """Block until the latest requested run has finished (for tests and scripts)."""
        deadline = time.monotonic() + timeout
        while (worker := self._worker) is not None:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                raise TimeoutError("the panel's run did not finish in time")
            if worker is self._worker:  # no newer run was requested meanwhile
                return

    def run(self) -> History | None:
        """Train synchronously with the current values and show the result (what a test calls)."""
        with self._lock:
            self._generation += 1
            generation = self._generation
        return self._train_and_show(generation)

    def _work(self, generation: int, previous: threading.Thread | None) -> None:
        if previous is not None:
            previous.join()  # it stops at its next epoch end, since its generation is stale
        if generation == self._generation:
            self._train_and_show(generation)

    def _is_current(self, generation: int) -> bool:
        return generation == self._generation

    def _train_and_show(self, generation: int) -> History | None:
        try:
            model_config, train_config = self.settings()
        except ValueError as error:
            self.banner.value = self._banner(None, f"Cannot train: {error}")
            return None
        self.runs_started += 1
        self.first_epoch_shown_at = None
        self.banner.value = self._banner(None, "Training...")

        def on_epoch_end(history: History) -> bool:
            if not self._is_current(generation):
                return True  # a newer setting arrived: stop this run
            self.status.value = (f"epoch {history.epochs}/{train_config.max_epochs}, "
                                 f"val acc {history.val_acc[-1]:.1%}")
            self._show(history, generation, title="training...")
            if history.epochs == 1:
                self.first_epoch_shown_at = time.perf_counter()
            return False

        try:
            history = train(model_config, train_config, self.data, on_epoch_end)
        except Exception as error:  # show it in the banner: a traceback helps no learner here
            self.banner.value = self._banner(None,
                                             f"Training failed: {type(error).__name__}: {error}")
            return None
        if not self._is_current(generation):
            return None
        self._show_result(history, generation)
        return history

    def _show(self, history: History, generation: int, title: str) -> None:
        training = title == "training..."
        # While it trains, the axis runs to the cap (where the run may go); once it has ended, to
        # the epochs it ran: a run early stopping ended at epoch 4 fills the axis.
        cap = history.train_config.max_epochs if training else None
        svg = curves_svg([(history, "this run")], cap, self.lines, title=title)
        with self._lock:
            if not self._is_current(generation):
                return
            self.caption.value = (f"<small>{'Training' if training else 'Curves'}"
                                  f" for: {describe(history.model_config, history.train_config)}"
                                  "</small>")
            self.curves.value = svg


LOG_FIELDS = ("run", "settings", "train_acc", "val_acc", "val_loss", "epochs", "seconds", "verdict")


class RunLog:
    """Every run the learner trained: a row each, kept in the progress file; select rows to
    overlay their validation curves (the legend names what differs); clear; save as CSV."""

    def __init__(self, progress: "Progress", lines: Sequence[Line] = ()) -> None:
        self.progress, self.lines = progress, tuple(lines)
        self.rows: list[dict] = []
        self.records: dict[int, History] = {}
        self.table = w.SelectMultiple(options=[], rows=6, description="",
                                      layout=w.Layout(width="100%"))
        self.table.add_class("rnn-lesson-run-log")
        self.table.observe(lambda _: self.compare(), names="value")
        self.clear_button = w.Button(description="Clear the log", icon="trash")
        self.csv_button = w.Button(description="Save as CSV", icon="download")
        self.clear_button.on_click(lambda _: self.clear())
        self.csv_button.on_click(lambda _: self.save_csv())
        self.note = w.HTML("")
        self.comparison = w.HTML("")
        self.comparison.add_class("rnn-lesson-comparison")
        title = w.HTML("<b>Your runs</b> (select two or more, with Ctrl or Shift, to compare "
                       "their validation curves)")
        self.widget = w.VBox([title, self.table, w.HBox([self.clear_button, self.csv_button]),
                              self.note, self.comparison])
        self._restore()

    def _restore(self) -> None:
        """The newest saved rows (the progress file reads them from the end of the log, so a long
        log opens as fast as a short one), checked one by one (a bad row is skipped alone), and one
        update of the table."""
        from quizzes.progress import RUN_LOG_LIMIT

        saved, unreadable, total = self.progress.runs(RUN_LOG_LIMIT)
        skipped = unreadable
        for row in saved:
            try:  # check the whole row before it joins the log: one bad row must not break it
                history = History.from_dict(row["record"])
                clean = {k: row[k] for k in LOG_FIELDS}
                if isinstance(clean["run"], bool) or not isinstance(clean["run"], int):
                    raise ValueError("a run number must be an integer")
                self.line(clean)
            except (KeyError, TypeError, ValueError):
                skipped += 1
                continue
            self.rows.append(clean)
            self.records[clean["run"]] = history
        self.table.options = [(self.line(r), r["run"]) for r in self.rows]
        notes = []
        older = total - len(saved)
        if older > 0:  # they may still be inside the progress file (an older version's) or
            # already in the log beside it: the words hold in both states
            notes.append(f"Showing the newest {len(saved)} runs; {older} older ones are not shown "
                         f"but kept with your progress, in "
                         f"{html.escape(str(self.progress.path.parent))}.")
        if skipped:
            notes.append(f"{skipped} saved runs could not be read and are not shown.")
        if self.progress.problem:
            notes.append(html.escape(self.progress.problem))
        self.note.value = f"<small>{' '.join(notes)}</small>" if notes else ""

    def _append(self, row: dict, record: History) -> None:
        from quizzes.progress import RUN_LOG_LIMIT

        self.rows = (self.rows + [row])[-RUN_LOG_LIMIT:]
        self.records[row["run"]] = record
        chosen = [n for n in self.table.value if n in self.records]
        self.table.options = [(self.line(r), r["run"]) for r in self.rows]
        self.table.value = tuple(chosen)  # new options clear the selection: keep the overlay

    @staticmethod
    def line(row: dict) -> str:
        """One row, short enough not to be cut off: the verdict, the numbers, the settings."""
        mark = "passed" if row["verdict"] == "passed" else "not yet"
        return (f"#{row['run']} {mark}: train {row['train_acc']:.1%}, val {row['val_acc']:.1%}, "
                f"loss {row['val_loss']:.2f}, {row['epochs']} ep | {row['settings']}")

    def add(self, history: History, verdict: Verdict, settings: str) -> dict:
        row = {"run": 0, "settings": settings, "train_acc": verdict.train_acc,
               "val_acc": verdict.val_acc, "val_loss": history.final.val_loss,
               "epochs": history.epochs, "seconds": round(history.seconds, 3),
               "verdict": "passed" if verdict.passed else "not passed"}
        record = history.to_dict()  # everything but the model
        # Numbered inside the file's lock: two kernels sharing one progress file never collide.
        row["run"] = self.progress.add_run({**row, "record": record})
        self._append(row, History.from_dict(record))
        return row

    def compare(self, runs: Sequence[int] | None = None) -> str:
        """Overlay the selected runs' validation curves; returns the SVG (also shown)."""
        chosen = list(self.table.value if runs is None else runs)
        if len(chosen) < 2:
            self.comparison.value = ""
            return ""
        rows = {r["run"]: r for r in self.rows}
        labels = differences([rows[n]["settings"] for n in chosen])
        pairs = [(self.records[n], f"#{n}: {label}") for n, label in zip(chosen, labels)]
        # Finished runs: the axis fits the longest of them, not the longest cap
        svg = curves_svg(pairs, None, self.lines, title="your runs compared")
        self.comparison.value = svg
        return svg

    def clear(self) -> None:
        self.progress.clear_runs()
        self.rows, self.records = [], {}
        self.table.options = []
        self.comparison.value = ""
        self.note.value = "<small>The log is empty.</small>"

    def save_csv(self, path: str | Path = "runs.csv") -> Path | None:
        """Write the log as CSV (a folder: runs.csv inside it); None, with a note, if it cannot.

        The file is written whole beside `path`, then renamed onto it: a link planted at `path`
        is replaced by the file, never written through, and a reader never sees half a file."""
        path = Path(path)
        if path.is_dir() and not path.is_symlink():
            path = path / "runs.csv"
        try:
            text = io.StringIO(newline="")
            writer = csv.DictWriter(text, fieldnames=LOG_FIELDS)
            writer.writeheader()
            writer.writerows(self.rows)
            _replace_file(path, text.getvalue().encode("utf-8"))
        except OSError as error:
            self.note.value = (f"<small>Could not save the log to {html.escape(str(path))}: "
                               f"{html.escape(str(error))}</small>")
            return None
        self.note.value = f"<small>Saved {len(self.rows)} runs to {html.escape(str(path.resolve()))}</small>"
        return path


def _replace_file(path: Path, content: bytes) -> None:
    """Replace `path` with `content` in one step, without following a link at `path`: the bytes go
    to a new file of a random name beside it (created exclusively), which is then renamed onto
    `path`; on failure the partial file is removed."""
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def differences(settings: Sequence[str]) -> list[str]:
    """The parts of each settings text ("a, b, c") that are not the same in all of them."""
    split = [[part.strip() for part in text.split(",")] for text in settings]
    common = set.intersection(*(set(parts) for parts in split)) if split else set()
    return [", ".join(p for p in parts if p not in common) or "same settings" for parts in split]


class HintPanel:
    """Hints revealed one at a time by one button, the last step being the solution."""

    def __init__(self, steps: Sequence) -> None:
        self.steps = tuple(steps)  # objects with .title and .text (HTML); the last is the solution
        self.shown = 0
        self.button = w.Button(description="Show hint 1", icon="lightbulb-o",
                               layout=w.Layout(width="auto"))
        self.text = w.HTML("")
        self.button.on_click(lambda _: self.reveal_next())
        self.widget = w.VBox([self.text, self.button])
        self.widget.add_class(KEYBOARD_CLASS)

    def _repr_mimebundle_(self, **kwargs) -> dict:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"{len(self.steps) - 1} hints and the solution (run in Jupyter)"
        bundle["text/html"] = self.static_html()
        return bundle

    def static_html(self) -> str:
        """Every step collapsed, for a viewer without a kernel: open one at a time."""
        return "".join(f'<details style="margin:4px 0"><summary><b>{step.title}</b></summary>'
                       f"{step.text}</details>" for step in self.steps)

    def reveal_next(self) -> None:
        if self.shown == len(self.steps):
            return
        self.shown += 1
        self.text.value = "".join(
            f'<div style="margin:4px 0"><b>{step.title}</b><br>{step.text}</div>'
            for step in self.steps[: self.shown]
        )
        remaining = len(self.steps) - self.shown
        if remaining == 0:
            self.button.disabled, self.button.description = True, "All hints shown"
        elif remaining == 1:
            self.button.description = "Show the solution"
        else:
            self.button.description = f"Show hint {self.shown + 1}"


class MapWidget:
    """A figure of a precomputed map, redrawn with a ring where the panel's sliders are.

    `draw(mark)` returns the figure for `mark` = the values of the `follows` controls (None
    without a panel). `assumed` holds the values the map was trained with for the panel's other
    controls: when the panel differs, a note under the map says so, so that the ring, the banner
    and the curves never seem to describe the same setting when they do not.
    """

    def __init__(self, draw: Callable[[tuple | None], object],
                 panel: ExperimentPanel | None = None,
                 follows: tuple[str, ...] = ("dropout", "hidden_size"),
                 assumed: dict | None = None) -> None:
        self.draw, self.panel, self.follows = draw, panel, follows
        self.assumed = dict(assumed or {})
        self.output = w.Output(layout=w.Layout(height="480px", overflow="hidden"))
        self.output.add_class("rnn-lesson-sweep-map")
        self.note = w.HTML("")
        self.note.add_class("rnn-lesson-map-note")
        self.widget = w.VBox([self.note, self.output])
        self.last_png = b""
        if panel is not None:
            for name in follows:
                panel.controls[name].observe(lambda _: self.redraw(), names="value")
            for name in self.assumed:
                panel.controls[name].observe(lambda _: self.update_note(), names="value")
        self.redraw()

    def _repr_mimebundle_(self, **kwargs) -> dict:
        bundle = with_png_fallback(self.widget, self.last_png, **kwargs)
        bundle["text/plain"] = self.note_text() or "the map"
        return bundle

    def mark(self) -> tuple | None:
        if self.panel is None:
            return None
        values = self.panel.values()
        return tuple(values[name] for name in self.follows)

    def differences(self) -> dict:
        """The panel's values that differ from what the map assumes: {control: (panel, map)}."""
        if self.panel is None:
            return {}
        values = self.panel.values()
        return {k: (values[k], v) for k, v in self.assumed.items() if values[k] != v}

    def note_text(self) -> str:
        if self.panel is None:
            return ""
        differ = self.differences()
        if not differ:
            return "The ring marks your panel's setting: the map was trained with the rest of it."
        words = "; ".join(f"{_words(k, mine)} in your panel, {_words(k, theirs)} in the map"
                          for k, (mine, theirs) in differ.items())
        return ("The ring marks your dropout and hidden size only. The map was trained with other "
                f"settings than your panel's: {words}. Its numbers are not your panel's.")

    def update_note(self) -> None:
        text = self.note_text()
        tone = "busy" if not self.differences() else "failed"
        self.note.value = (f'<div style="border-left:6px solid {TONES[tone]};padding:2px 8px;'
                           f'color:var(--jp-ui-font-color1, #212121)">{html.escape(text)}</div>'
                           if text else "")

    def redraw(self) -> None:
        self.last_png = figure_png(self.draw(self.mark()))
        show_png(self.output, self.last_png)
        self.update_note()


def _words(control: str, value) -> str:
    if control == "lr":
        return f"learning rate {lr_label(value)}"
    if control == "early_stopping":
        return f"early stopping {'on' if value else 'off'}"
    return f"{control.replace('_', ' ')} {value}"


class ProgressBar:
    """A progress bar for many runs: `update(done, total)` moves it; displayed, it carries its
    text ("108/108 runs") as a static copy, updated in place when the runs are done."""

    def __init__(self, description: str = "training") -> None:
        self.bar = w.IntProgress(value=0, min=0, max=1, description=description,
                                 layout=w.Layout(width="60%"))
        self.label = w.Label("")
        self.widget = w.HBox([self.bar, self.label])
        self.description = description
        self.handle = None

    def text(self) -> str:
        return f"{self.description}: {self.label.value or 'starting'}"

    def _repr_mimebundle_(self, **kwargs) -> dict:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.text()
        bundle["text/html"] = f"<div><small>{html.escape(self.text())}</small></div>"
        return bundle

    def update(self, done: int, total: int) -> None:
        self.bar.max, self.bar.value = max(total, 1), done
        self.label.value = f"{done}/{total} runs"
        if done == total and self.handle is not None:
            self.handle.update(self)  # the saved output: the final text, not "0/1"


def progress_bar(description: str = "training") -> Callable[[int, int], None]:
    """Display a progress bar now; return the `progress(done, total)` callback that moves it."""
    from IPython.display import display

    bar = ProgressBar(description)
    bar.handle = display(bar, display_id=True)
    return bar.update
