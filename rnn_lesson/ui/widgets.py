"""The learner's panel: sliders for the model and training settings, live learning curves, a verdict.

Training runs in a worker thread so the notebook never freezes: a new slider move cancels the run
in progress (at its next epoch end) and starts a fresh one, so after many rapid moves the curves
always show the last setting. Each figure replaces the Output widget's `outputs` in one
assignment, which is safe from a thread (the `with output:` context manager is not, and
`clear_output(wait=True)` + `append_display_data` can reach the browser out of order and stack
old plots above the new one).

Tests drive it without a browser: set `panel.controls[...].value`, call `panel.run()` (synchronous)
or `panel.request_run()` + `panel.wait()`, then read `panel.banner.value` and `panel.last_history`.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import threading
import time
from typing import Callable, Sequence

import ipywidgets as w

from ..data import Dataset, load_course_data
from ..models import CELLS, ModelConfig
from ..results import Task, Verdict
from ..runs import Experiment
from ..training import History, TrainConfig, train
from .plots import Line, plot_learning_curves


def figure_png(figure, dpi: int = 80) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


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


def lr_label(lr: float) -> str:
    """1e-3 rather than 1e-03, as on the slider."""
    return f"{lr:.0e}".replace("e-0", "e-")


HIDDEN_SIZES = (8, 16, 32, 64, 128, 256)
LEARNING_RATES = tuple((lr_label(lr), lr) for lr in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2))
REDRAW_EVERY_S = 0.25  # a redraw costs ~0.1-0.2 s; drawing every epoch would triple a short run


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


def describe(model: ModelConfig, training: TrainConfig) -> str:
    """The settings behind a curve, in the words of the sliders."""
    stopping = f"early stopping on (patience {training.patience})" if training.early_stopping \
        else "early stopping off"
    return (f"{model.cell}, hidden size {model.hidden_size}, {model.num_layers} layers, "
            f"dropout {model.dropout:.2f}, learning rate {lr_label(training.lr)}, {stopping}, "
            f"max epochs {training.max_epochs}, seed {training.seed}")


# Theme-aware colours: JupyterLab's variables (light and dark themes), with fallbacks elsewhere.
TONES = {
    "passed": "var(--jp-success-color1, #388e3c)",
    "failed": "var(--jp-warn-color1, #f57c00)",
    "busy": "var(--jp-border-color1, #9e9e9e)",
}


def banner_html(verdict: Verdict | None, message: str = "", missing: Sequence[str] = ()) -> str:
    """A coloured edge (green when the task passes, orange when not, gray while training) on
    the theme's own background and text colours, so it reads in light and dark themes.

    `missing`: the lesson's changes the setting does not have yet, named after the hint.
    """
    if verdict is None:
        tone, text = "busy", html.escape(message)
    elif verdict.passed:
        tone, text = "passed", f"<b>{html.escape(verdict.short())}</b>"
    else:
        tone, text = "failed", (f"<b>{html.escape(verdict.short())}</b><br>"
                                f"Hint: {html.escape(verdict.hint)}")
        if missing:
            text += f"<br>Not in your settings yet: {html.escape(', '.join(missing))}."
    return (f'<div class="rnn-lesson-verdict rnn-lesson-{tone}" style="border-left:6px solid '
            f'{TONES[tone]};background:var(--jp-layout-color2, #f5f5f5);'
            'color:var(--jp-ui-font-color1, #212121);padding:6px 10px;border-radius:4px;'
            f'min-height:2.6em">{text}</div>')


class ExperimentPanel:
    """Sliders + Train button + live curves + verdict banner, for the course data.

    It starts from `start`; everything the sliders do not set (batch size, patience...) stays
    `start`'s. `task` judges each run, `lines` are drawn on the accuracy plot, and
    `missing(model, train)` names what a setting lacks for the hint.
    """

    def __init__(self, start: Experiment, task: Task, lines: Sequence[Line] = (),
                 missing: Callable[[ModelConfig, TrainConfig], list[str]] = lambda m, t: [],
                 data: Dataset | None = None, auto_run: bool = True,
                 initial: History | None = None) -> None:
        self.data = load_course_data() if data is None else data
        self.start, self.task, self.lines, self.missing = start, task, tuple(lines), missing
        start_model, start_train = start.model, start.train
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
            "max_epochs": w.IntSlider(value=start_train.max_epochs, min=10, max=60, step=10,
                                      description="max epochs", continuous_update=False,
                                      style=style, layout=wide),
            "seed": w.IntSlider(value=0, min=0, max=9, description="seed",
                                continuous_update=False, style=style, layout=wide),
        }
        self.train_button = w.Button(description="Train", button_style="primary", icon="play")
        self.banner = w.HTML(banner_html(None, "Move a slider or press Train."))
        self.status = w.HTML("")
        # Fixed height: the page must not jump while curves are redrawn.
        self.output = w.Output(layout=w.Layout(height="310px", overflow="hidden"))
        self.caption = w.HTML("")  # which settings the curves above show
        for widget, name in ((self.banner, "verdict"), (self.output, "curves"),
                             (self.caption, "curves-settings"), (self.status, "status")):
            widget.add_class(f"rnn-lesson-{name}")
        self.last_history: History | None = None
        self.last_png: bytes = b""
        self.runs_started = 0
        self._generation = 0
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.train_button.on_click(lambda _: self.request_run())
        if auto_run:
            for control in self.controls.values():
                control.observe(lambda _: self.request_run(), names="value")
        left = w.VBox(list(self.controls.values())[:4] + [self.train_button])
        right = w.VBox(list(self.controls.values())[4:] + [self.status])
        self.widget = w.VBox([w.HBox([left, right]), self.banner, self.output, self.caption])
        self.widget.add_class("rnn-lesson-panel")
        if initial is not None:  # a run of the start setting the notebook already did
            if self.settings() != (initial.model_config, initial.train_config):
                raise ValueError("`initial` was trained with other settings than `start`")
            self._show_result(initial, self._generation)

    def _show_result(self, history: History, generation: int) -> None:
        verdict = self.task.check(history)
        self._show(history, generation, title=verdict.short())
        with self._lock:
            if self._is_current(generation):
                self.last_history = history
                missing = self.missing(history.model_config, history.train_config)
                self.banner.value = banner_html(verdict, missing=missing)
                self.status.value = (f"{history.epochs} epochs in {history.seconds:.2f} s; "
                                     + (f"restored epoch {history.best_epoch}"
                                        if history.restored_best else "kept the last epoch"))

    def _repr_mimebundle_(self, **kwargs) -> dict:
        return with_png_fallback(self.widget, self.last_png, **kwargs)

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
            self.banner.value = banner_html(None, f"Cannot train: {error}")
            return None
        self.runs_started += 1
        self.banner.value = banner_html(None, "Training...")
        last_draw = [0.0]

        def on_epoch_end(history: History) -> bool:
            if not self._is_current(generation):
                return True  # a newer setting arrived: stop this run
            self.status.value = (f"epoch {history.epochs}/{train_config.max_epochs}, "
                                 f"val acc {history.val_acc[-1]:.1%}")
            if time.perf_counter() - last_draw[0] >= REDRAW_EVERY_S:
                self._show(history, generation, title="training...")
                last_draw[0] = time.perf_counter()
            return False

        try:
            history = train(model_config, train_config, self.data, on_epoch_end)
        except Exception as error:  # show it in the banner: a traceback helps no learner here
            self.banner.value = banner_html(None, f"Training failed: {type(error).__name__}: {error}")
            return None
        if not self._is_current(generation):
            return None
        self._show_result(history, generation)
        return history

    def _show(self, history: History, generation: int, title: str) -> None:
        figure = plot_learning_curves(history, title, history.train_config.max_epochs, self.lines)
        png = figure_png(figure)
        with self._lock:
            if not self._is_current(generation):
                return
            self.last_png = png
            self.caption.value = (f"<small>{'Training' if title == 'training...' else 'Curves'}"
                                  f" for: {describe(history.model_config, history.train_config)}"
                                  "</small>")
            show_png(self.output, png)

class HintPanel:
    """Hints revealed one at a time by one button, the last step being the solution."""

    def __init__(self, steps: Sequence) -> None:
        self.steps = tuple(steps)  # objects with .title and .text (HTML); the last is the solution
        self.shown = 0
        self.button = w.Button(description="Show hint 1", icon="lightbulb-o")
        self.text = w.HTML("")
        self.button.on_click(lambda _: self.reveal_next())
        self.widget = w.VBox([self.text, self.button])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

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

    `draw(mark)` returns the figure for `mark` = (dropout, hidden size), or None without a panel.
    """

    def __init__(self, draw: Callable[[tuple | None], object],
                 panel: ExperimentPanel | None = None,
                 follows: tuple[str, ...] = ("dropout", "hidden_size")) -> None:
        self.draw, self.panel, self.follows = draw, panel, follows
        self.output = w.Output(layout=w.Layout(height="480px", overflow="hidden"))
        self.output.add_class("rnn-lesson-sweep-map")
        self.last_png = b""
        if panel is not None:
            for name in follows:
                panel.controls[name].observe(lambda _: self.redraw(), names="value")
        self.redraw()

    def _repr_mimebundle_(self, **kwargs) -> dict:
        return with_png_fallback(self.output, self.last_png, **kwargs)

    def mark(self) -> tuple | None:
        if self.panel is None:
            return None
        values = self.panel.values()
        return tuple(values[name] for name in self.follows)

    def redraw(self) -> None:
        self.last_png = figure_png(self.draw(self.mark()))
        show_png(self.output, self.last_png)


def progress_bar(description: str = "training") -> Callable[[int, int], None]:
    """Display a progress bar now; return the `progress(done, total)` callback that moves it."""
    from IPython.display import display

    bar = w.IntProgress(value=0, min=0, max=1, description=description,
                        layout=w.Layout(width="60%"))
    label = w.Label("")
    display(w.HBox([bar, label]))

    def update(done: int, total: int) -> None:
        bar.max, bar.value = max(total, 1), done
        label.value = f"{done}/{total} runs"

    return update
